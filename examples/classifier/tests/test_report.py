"""Report tests: resume lines claim only comparisons the test split supports."""

from __future__ import annotations

from credit_risk.config import Settings
from credit_risk.evaluate import MAJORITY
from credit_risk.report import RunFacts, resume_bullets
from credit_risk.train import LIGHTGBM, LINEAR


def _facts(ours: float, linear: float) -> RunFacts:
    test = {LIGHTGBM: {"pr_auc": ours}, LINEAR: {"pr_auc": linear}, MAJORITY: {"pr_auc": 0.28}}
    params = {"n_train": "80", "n_test": "20", "cv_folds": "5"}
    return RunFacts("run", "latest run", LIGHTGBM, test, {}, params)


def test_resume_line_names_the_baseline_the_model_beat(settings: Settings) -> None:
    line = resume_bullets(_facts(0.61, 0.52), settings)[0]
    assert line.startswith("Built a LightGBM classifier")
    assert "test PR-AUC 0.610 vs 0.520 for logistic-regression" in line


def test_resume_line_claims_only_the_lift_over_chance_when_the_baseline_won(
    settings: Settings,
) -> None:
    line = resume_bullets(_facts(0.737, 0.742), settings)[0]
    assert "test PR-AUC 0.737 vs 0.280 for the majority-class baseline" in line
    assert "logistic" not in line
