"""Model tests: the whole pipeline runs, logs to MLflow, registers a champion, writes up."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from review_sentiment import bench, model, tracking, train, writeup
from review_sentiment.config import Settings


def test_train_logs_every_model_registers_champion_and_writes_the_writeup(
    settings: Settings,
) -> None:
    run_id = train.run(settings)

    metrics = MlflowClient().get_run(run_id).data.metrics
    for name in ("tfidf_lr", "frozen_lr", "finetuned"):
        assert 0.0 <= metrics[f"{name}.test_accuracy"] <= 1.0
        assert metrics[f"{name}.latency_p50_ms"] > 0
    history = MlflowClient().get_metric_history(run_id, "val_accuracy")
    assert len(history) == metrics["finetuned.epochs_run"]
    assert metrics["finetuned.epochs_run"] <= metrics["finetuned.planned_epochs"]
    params = MlflowClient().get_run(run_id).data.params
    for knob in ("learning_rate", "head_learning_rate", "min_train_steps", "lora_learning_rate"):
        assert float(params[knob]) == getattr(settings, knob)

    champion = MlflowClient().get_model_version_by_alias(tracking.MODEL_NAME, tracking.CHAMPION)
    assert champion.run_id == run_id
    assert (settings.model_dir / model.WEIGHTS).exists()

    writeup = settings.writeup_file.read_text()
    assert run_id in writeup
    assert f"optimizer steps, not epochs: at least {settings.min_train_steps}" in writeup
    assert f"{metrics['finetuned.test_accuracy']:.3f}" in writeup
    assert writeup.count("| ") > 10 and "nan" not in writeup
    assert (settings.reports_dir / "figures" / "learning_curves.png").stat().st_size > 0
    assert (settings.reports_dir / "figures" / "confusion_matrix.png").stat().st_size > 0


def test_fine_tuned_model_beats_the_majority_class_and_lora_is_logged(
    settings: Settings,
) -> None:
    run_id = train.run(settings.model_copy(update={"lora": True}))
    metrics = mlflow.get_run(run_id).data.metrics
    assert metrics["finetuned.test_accuracy"] > 0.5  # three balanced labels: majority = 1/3
    assert metrics["lora.trainable_params"] < metrics["finetuned.trainable_params"] / 10
    assert "LoRA" in settings.writeup_file.read_text()


def test_bench_measures_all_three_variants(settings: Settings) -> None:
    train.run(settings)
    results = bench.run(settings, n_latency=5, batch=8)
    assert [r.name for r in results][1:] == ["fine-tuned fp32", "fine-tuned int8 (dynamic)"]
    assert all(r.p50_ms > 0 and r.texts_per_s > 0 and 0 <= r.accuracy <= 1 for r in results)
    assert "| fine-tuned int8" in bench.table(results, 10, 5, 1)


@pytest.mark.parametrize(
    ("tfidf", "frozen", "finetuned", "verdict"),
    [
        (0.70, 0.75, 0.80, "fine-tune."),
        (0.70, 0.795, 0.80, "the frozen encoder + LR is the better trade"),
        (0.60, 0.42, 0.47, "TF-IDF + LR beat the fine-tuned encoder"),
        (0.795, 0.75, 0.80, "TF-IDF + LR came within a point of the fine-tuned encoder"),
    ],
)
def test_the_writeup_recommends_what_the_numbers_say(
    tfidf: float, frozen: float, finetuned: float, verdict: str
) -> None:
    metrics = {
        "tfidf_lr.test_accuracy": tfidf,
        "finetuned.test_accuracy": finetuned,
        "tfidf_lr.latency_p50_ms": 0.5,
        "finetuned.latency_p50_ms": 14.0,
        "finetuned.trainable_params": 22e6,
    }
    text = writeup._decision(finetuned - frozen, metrics, None)
    assert verdict in text
