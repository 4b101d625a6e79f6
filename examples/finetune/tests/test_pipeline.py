"""Model tests: the whole pipeline runs, logs to MLflow, registers a champion, and the
served artifact scores what the run logged."""

from __future__ import annotations

import json

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from review_sentiment import evaluate, experiment, metrics, model, pipeline
from review_sentiment.config import Settings
from review_sentiment.ops import bench, champion, tracking


def test_pipeline_logs_every_model_registers_the_champion_and_evaluates_it(
    settings: Settings,
) -> None:
    run_id = pipeline.run(settings)

    logged = MlflowClient().get_run(run_id).data
    for name in ("majority", "tfidf_lr", "frozen_lr", "finetuned"):
        for key in ("val_macro_f1", "test_accuracy", "test_macro_f1"):
            assert 0.0 <= logged.metrics[f"{name}.{key}"] <= 1.0
        assert logged.metrics[f"{name}.train_seconds"] > 0 or name == "majority"
    assert logged.metrics["val_macro_f1"] == logged.metrics["finetuned.val_macro_f1"]
    assert logged.metrics["test_accuracy"] == logged.metrics["finetuned.test_accuracy"]
    assert 0.0 <= logged.metrics["mcnemar.p_value"] <= 1.0
    assert logged.params["mcnemar_baseline"] in ("tfidf_lr", "frozen_lr")
    history = MlflowClient().get_metric_history(run_id, "val_accuracy")
    assert len(history) == logged.metrics["finetuned.epochs_run"]
    assert logged.metrics["finetuned.epochs_run"] <= logged.metrics["finetuned.planned_epochs"]
    for knob in ("learning_rate", "head_learning_rate", "min_train_steps", "lora_learning_rate",
                 "promote_margin"):  # fmt: skip
        assert float(logged.params[knob]) == getattr(settings, knob)
    assert logged.params["max_val_size"] == str(settings.max_val_size)

    champion = MlflowClient().get_model_version_by_alias(tracking.MODEL_NAME, tracking.CHAMPION)
    assert champion.run_id == run_id
    assert (settings.model_dir / model.WEIGHTS).exists()
    evaluated = json.loads((settings.reports_dir / "metrics.json").read_text())
    assert evaluated["run_id"] == run_id and evaluated["same_rows_as_training_run"]
    assert evaluated["test_metrics"]["test_accuracy"] == pytest.approx(
        logged.metrics["test_accuracy"]
    )


def test_a_full_run_after_a_smoke_run_takes_champion_and_a_smoke_run_never_does(
    settings: Settings,
) -> None:
    def served_run() -> str:
        return str(json.loads((settings.model_dir / model.REGISTRY_FILE).read_text())["run_id"])

    pipeline.run(settings.smoke(), experiment.SMOKE_RUN)  # the first champion: a smoke model
    full = pipeline.run(settings)
    client, name = MlflowClient(), tracking.MODEL_NAME  # after run() pointed MLflow here
    assert champion.champion_version(client, name) == "2" and served_run() == full
    assert "replaces the smoke run v1" in champion.history(client, name)[-1].reason
    pipeline.run(settings.smoke(), experiment.SMOKE_RUN)
    assert champion.champion_version(client, name) == "2" and served_run() == full


def test_training_on_new_data_keeps_the_champion_and_does_not_fail(
    settings: Settings,
) -> None:
    first = pipeline.run(settings)
    with settings.data_file.open("a") as handle:  # the user's data changed
        handle.write("a superb film with one more scene,good\n")
    second = pipeline.run(settings)  # validated on other rows: registered, not promoted
    served = json.loads((settings.model_dir / model.REGISTRY_FILE).read_text())["run_id"]
    assert served == first != second
    assert not evaluate.trained_on_this_data(settings)
    with pytest.raises(evaluate.EvaluateError, match="make rollback VERSION=N"):
        evaluate.evaluate(settings)


def test_fine_tuned_model_beats_the_majority_class_and_lora_is_logged(
    settings: Settings,
) -> None:
    run_id = pipeline.run(settings.model_copy(update={"lora": True}))
    logged = mlflow.get_run(run_id).data.metrics
    assert logged["finetuned.test_accuracy"] > max(0.5, logged["majority.test_accuracy"])
    assert logged["lora.trainable_params"] < logged["finetuned.trainable_params"] / 10


def test_bench_measures_every_variant_and_the_distilled_student(settings: Settings) -> None:
    pipeline.run(settings)
    results = bench.run(settings, n_latency=5, batch=8)
    assert [r.name for r in results][1:] == [
        "fine-tuned fp32", "fine-tuned int8 (dynamic)", "TF-IDF + LR (human labels)", bench.STUDENT
    ]  # fmt: skip
    assert all(r.p50_ms > 0 and r.texts_per_s > 0 and 0 <= r.accuracy <= 1 for r in results)
    student = results[-1]
    assert student.agreement is not None and 0 <= student.agreement <= 1
    assert 0 < student.size_mb < results[1].size_mb / 10  # TF-IDF ships far less than MiniLM
    assert "| fine-tuned int8" in bench.table(results, 10, 5, 1)


def test_mcnemar_counts_only_the_rows_where_the_models_disagree() -> None:
    truth = ["a"] * 20
    both_right, a_only = ["a"] * 12, ["a"] * 8
    result = metrics.mcnemar(truth, both_right + a_only, both_right + ["b"] * 8)
    assert (result.only_a, result.only_b) == (8, 0)
    assert result.p_value == pytest.approx(2 * 0.5**8 - 0.5**8)  # exact minus half the mass
    even = metrics.mcnemar(truth, ["a"] * 10 + ["b"] * 10, ["b"] * 10 + ["a"] * 10)
    assert even.p_value > 0.5
    assert metrics.mcnemar(truth, truth, truth).p_value == 1.0
