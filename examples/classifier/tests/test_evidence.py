"""The evidence `make train` writes for the interview questions: overfitting, learning curve,
slices, and the README answers built from it."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from credit_risk.config import Settings
from credit_risk.ops import answers, learning_curve, overfitting, slices
from credit_risk.train import TrainResult


def test_overfitting_curves_cover_every_round_and_name_the_best_one(
    trained: TrainResult, settings: Settings, tmp_path: Path
) -> None:
    curve = overfitting.boosting_curve(trained, settings)
    assert len(curve.train) == len(curve.validation) == settings.n_estimators
    values = np.array(curve.validation)
    best = values.max() if curve.higher_is_better else values.min()
    assert curve.validation[curve.best_round - 1] == best
    files = overfitting.write(curve, tmp_path)
    written = json.loads(files[-1].read_text())
    assert written["best_round"] == curve.best_round and written["rounds"] == curve.rounds


def test_learning_curve_ends_at_the_cv_score_train_reported(
    trained: TrainResult, settings: Settings, tmp_path: Path
) -> None:
    curve = learning_curve.learning_curve(trained, settings)
    assert curve.shares == [0.1, 0.25, 0.5, 1.0]
    for name, values in curve.pr_auc.items():
        assert values[-1] == trained.cv_pr_auc[name]
        assert all(0 <= value <= 1 for value in values)
    line = learning_curve.summary_line(curve, trained.selected)
    assert f"{curve.last_doubling(trained.selected):+.3f}" in line
    assert learning_curve.write(curve, trained.selected, tmp_path)[0].is_file()


def test_slices_are_big_enough_worst_first_and_flagged_by_the_rule(
    trained: TrainResult, tmp_path: Path
) -> None:
    report = slices.slice_report(trained)
    if len(trained.split.test) >= 4 * slices.MIN_ROWS:  # quartiles alone hold 30 rows each
        assert report.slices
    assert all(item.rows >= slices.MIN_ROWS for item in report.slices)
    rates = [item.error_rate for item in report.slices]
    assert rates == sorted(rates, reverse=True)
    for item in report.slices:
        assert item.flagged == (item.error_rate >= slices.FLAG_RATIO * report.overall_error_rate)
    confidence = [float(row["probability"]) for row in report.mistakes]
    assert confidence == sorted(confidence, reverse=True)
    assert all(row["true"] != row["predicted"] for row in report.mistakes)
    assert "Most confident mistakes" in slices.write(report, tmp_path)[0].read_text()


def test_a_number_with_few_values_is_sliced_by_value_not_by_one_quartile() -> None:
    frame = pd.DataFrame({"sex": [1.0, 2.0] * 40, "age": np.arange(80.0)})
    schema = SimpleNamespace(categorical={}, numeric=["sex", "age"])
    levels = slices._levels(frame, schema)
    assert sorted(levels["sex"].unique()) == ["1", "2"]
    assert levels["age"].nunique() == 4


def test_every_answer_quotes_the_run_in_a_short_line() -> None:
    facts = SimpleNamespace(
        run_id="abc",
        source="champion v2",
        selected="lightgbm",
        test={
            "lightgbm": {"pr_auc": 0.671, "brier": 0.15, "recall": 0.7},
            "majority_class": {"pr_auc": 0.282, "brier": 0.2},
        },
        cv_pr_auc={"lightgbm": 0.66, "logistic_regression": 0.64},
        params={"classes": "bad,good", "threshold": "0.53", "threshold_objective": "f1",
                "cv_folds": "5", "n_train": "3000", "n_test": "800"},
    )  # fmt: skip
    reports = {"overfitting": {"summary": "Validation best at round 180 of 200"}}
    built = answers.build(facts, {"onnx_max_abs_diff": 3e-7}, reports)
    by_question = {answer.question: answer.answer for answer in built}
    assert by_question["Why PR-AUC and not accuracy?"] == (
        "PR-AUC 0.671 vs 0.282 base rate; majority-class accuracy 0.718"
    )
    assert by_question["Is the model overfitting?"] == "Validation best at round 180 of 200"
    assert "make train" in by_question["Where does it fail?"]  # no report: says how to get one
    assert all(len(answer.answer.split()) <= 12 for answer in built)
    assert all(answer.evidence for answer in built)
