"""`make report`: README's auto blocks, walkthrough.json and WRITEUP.md come from one run,
only the blocks change in README, and every claim follows the validation split and the
paired test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from review_sentiment import findings, pipeline, report
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

<!-- auto:questions -->
| question | your run | evidence |
<!-- /auto:questions -->
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
    run_id = pipeline.run(settings)
    readme, summary = tmp_path / "README.md", tmp_path / "walkthrough.json"
    readme.write_text(README)

    facts, changed = report.report(settings, readme, summary)
    text = readme.read_text()
    assert changed and facts.run_id == run_id and f"`{run_id}`" in text
    assert "My own words, kept byte for byte.\n" in text and "\nMore prose.\n" in text
    assert "test texts" in text and "| **MiniLM fine-tuned end to end (after)** |" in text
    assert "McNemar" in text and "| majority class (most frequent training label) |" in text

    written = json.loads(summary.read_text())
    assert written["run_id"] == run_id and len(written["resume_bullets"]) == 2
    answers = {answer["question"]: answer["answer"] for answer in written["answers"]}
    assert len(answers) >= 12 and all(f"| {q} | {a} |" in text for q, a in answers.items())
    assert "make bench report" in answers["How would you cut inference cost?"]  # no bench yet
    for number in DECIMAL.findall(text):
        assert _is_quotable(number, written["metrics"]), f"{number} is no logged metric"

    assert report.report(settings, readme, summary)[1] is False
    assert readme.read_text() == text

    writeup = settings.writeup_file.read_text()
    assert run_id in writeup and "## Verdict" in writeup and "McNemar" in writeup
    assert f"{facts.metrics['finetuned.test_accuracy']:.3f}" in writeup
    assert writeup.count("| ") > 10 and "nan" not in writeup
    assert (settings.reports_dir / "figures" / "learning_curves.png").stat().st_size > 0
    assert (settings.reports_dir / "figures" / "confusion_matrix.png").stat().st_size > 0


def test_report_before_any_run_says_train_first(settings: Settings, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    with pytest.raises(findings.ReportError, match="make train"):
        report.report(settings, readme, tmp_path / "walkthrough.json")
    assert readme.read_text() == README


def _facts(
    test: dict[str, float], val: dict[str, float], p_value: float, rival: str = "frozen_lr"
) -> findings.Facts:
    metrics = {f"{name}.test_accuracy": value for name, value in test.items()}
    metrics |= {f"{name}.val_macro_f1": value for name, value in val.items()}
    metrics |= {"mcnemar.p_value": p_value}
    params = {"n_train": "2500", "mcnemar_baseline": rival}
    return findings.Facts("run", "latest run", metrics, params, {}, None)


SCORES = {"finetuned": 0.80, "frozen_lr": 0.75, "tfidf_lr": 0.71}


def test_resume_line_claims_the_win_only_with_a_significant_paired_test() -> None:
    line = report.resume_bullets(_facts(SCORES, SCORES, p_value=0.001))[0]
    assert line.startswith("Fine-tuned the open-weight all-MiniLM-L6-v2 encoder on 2,500")
    assert "test accuracy 0.800 vs 0.750 for frozen embeddings" in line
    assert "McNemar p=0.001" in line


def test_a_small_gain_without_significance_is_no_win() -> None:
    close = {"finetuned": 0.81, "frozen_lr": 0.80, "tfidf_lr": 0.70}
    line = report.resume_bullets(_facts(close, close, p_value=0.3))[0]
    assert line.startswith("Compared fine-tuning")
    assert "was not significantly different" in line and "McNemar p=0.300" in line
    sig = findings.significance(_facts(close, close, p_value=0.3))
    assert sig is not None
    assert findings.claim_on_test(sig).startswith("No significant difference")


@pytest.mark.parametrize(
    ("val", "chosen"),
    [
        ({"tfidf_lr": 0.70, "frozen_lr": 0.75, "finetuned": 0.80}, "finetuned"),
        ({"tfidf_lr": 0.70, "frozen_lr": 0.795, "finetuned": 0.80}, "frozen_lr"),
        ({"tfidf_lr": 0.60, "frozen_lr": 0.42, "finetuned": 0.47}, "tfidf_lr"),
        ({"tfidf_lr": 0.795, "frozen_lr": 0.75, "finetuned": 0.80}, "tfidf_lr"),
        ({"tfidf_lr": 0.70, "frozen_lr": 0.75, "lora": 0.795, "finetuned": 0.80}, "lora"),
        ({"tfidf_lr": 0.70, "frozen_lr": 0.75, "lora": 0.78, "finetuned": 0.80}, "finetuned"),
    ],
)
def test_the_model_worth_deploying_is_chosen_on_validation_not_test(
    val: dict[str, float], chosen: str
) -> None:
    upside_down = {"tfidf_lr": 0.99, "frozen_lr": 0.10, "finetuned": 0.10}  # test decides nothing
    assert findings.recommend(_facts(upside_down, val, p_value=0.5)).model == chosen


def test_the_faster_to_train_of_two_tied_models_is_recommended_as_this_run_measured() -> None:
    val = {"tfidf_lr": 0.70, "frozen_lr": 0.75, "lora": 0.795, "finetuned": 0.80}
    facts = _facts(val, val, p_value=0.5)
    facts.metrics.update({"tfidf_lr.train_seconds": 1.0, "frozen_lr.train_seconds": 15.0})
    facts.metrics.update({"lora.train_seconds": 90.0, "finetuned.train_seconds": 60.0})
    assert findings.recommend(facts).model == "finetuned"  # LoRA ran longer here
