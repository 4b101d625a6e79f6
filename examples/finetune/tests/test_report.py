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
