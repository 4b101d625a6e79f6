from pathlib import Path

from review_sentiment.ops import tracking


def test_fingerprint_changes_when_data_changes(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    before = tracking.fingerprint(data)
    data.write_text("a,b\n1,3\n")
    assert tracking.fingerprint(data) != before


def test_tracking_defaults_to_local_sqlite(monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.DEFAULT_TRACKING_URI.startswith("sqlite:///")


def test_local_artifacts_sit_beside_the_sqlite_file(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'runs.db'}"
    assert tracking.artifact_root(uri) == (tmp_path / "mlruns").as_uri()
    assert tracking.artifact_root("http://127.0.0.1:5000") is None
