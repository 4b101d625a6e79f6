"""`make report`: the README's auto blocks come from the run, and only they change."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from review_sentiment import report, train
from review_sentiment.config import Settings

README = """# project

My own words, kept byte for byte.

<!-- auto:dataset -->
old
<!-- /auto:dataset -->

<!-- auto:comparison -->
<!-- /auto:comparison -->

More prose.

<!-- auto:headline -->
old
<!-- /auto:headline -->
"""
DECIMAL = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?%|\d*\.\d+)(?![\w.])")


def _is_quotable(shown: str, metrics: dict[str, float]) -> bool:
    """``shown`` is one of ``metrics`` rounded as printed (a percent is a share x 100)."""
    digits = shown.rstrip("%")
    scale = 100 if shown.endswith("%") else 1
    tolerance = 0.5 * 10 ** -len(digits.partition(".")[2]) + 1e-9
    return any(abs(float(digits) - scale * value) <= tolerance for value in metrics.values())


def test_report_fills_the_blocks_from_the_run_and_is_idempotent(
    settings: Settings, tmp_path: Path
) -> None:
    run_id = train.run(settings)
    readme, summary = tmp_path / "README.md", tmp_path / "walkthrough.json"
    readme.write_text(README)

    facts, changed = report.report(settings, readme, summary)
    text = readme.read_text()
    assert changed and facts.run_id == run_id and f"`{run_id}`" in text
    assert "My own words, kept byte for byte.\n" in text and "\nMore prose.\n" in text
    assert "held-out test set" in text and "| **MiniLM fine-tuned end to end (after)** |" in text

    written = json.loads(summary.read_text())
    assert written["run_id"] == run_id and len(written["resume_bullets"]) == 2
    for number in DECIMAL.findall(text):
        assert _is_quotable(number, written["metrics"]), f"{number} is no logged metric"

    assert report.report(settings, readme, summary)[1] is False
    assert readme.read_text() == text


def test_report_before_any_run_says_train_first(settings: Settings, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    with pytest.raises(report.ReportError, match="make train"):
        report.report(settings, readme, tmp_path / "walkthrough.json")
    assert readme.read_text() == README


def _facts(finetuned: float, frozen: float, tfidf: float) -> report.RunFacts:
    scores = {"finetuned": finetuned, "frozen_lr": frozen, "tfidf_lr": tfidf}
    metrics = {f"{name}.test_accuracy": value for name, value in scores.items()}
    return report.RunFacts("run", "latest run", metrics, {"n_train": "2500"}, {}, None)


def test_resume_line_claims_the_win_when_the_fine_tune_beat_every_baseline() -> None:
    line = report.resume_bullets(_facts(0.80, 0.75, 0.71))[0]
    assert line.startswith("Fine-tuned the open-weight all-MiniLM-L6-v2 encoder on 2,500")
    assert "test accuracy 0.800 vs 0.750 for frozen embeddings" in line
    assert "and 0.710 for TF-IDF" in line


def test_resume_line_says_which_baseline_won_when_the_fine_tune_lost() -> None:
    line = report.resume_bullets(_facts(0.646, 0.667, 0.604))[0]
    assert line.startswith("Compared fine-tuning")
    assert "frozen embeddings + logistic regression won with test accuracy 0.667" in line
    assert "(fine-tuned 0.646)" in line
