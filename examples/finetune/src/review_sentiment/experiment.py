"""The experiment: every candidate on the same split, logged to one MLflow run.

``run`` trains, in order, the baseline any text model must beat (TF-IDF + logistic
regression), the "before" (frozen MiniLM embeddings + LR), the "after" (MiniLM fine-tuned
end to end) and, when ``settings.lora`` is on, LoRA adapters on a fresh MiniLM. Each is
scored on the validation split (``<model>.val_*``: what every decision uses) and on the
test split (``<model>.test_*``: reported, decides nothing), with its training time and
trainable parameters. The fine-tuned model is the one served: its scores are
also logged under the plain names (``val_macro_f1``, ``test_accuracy``...), beside
McNemar's test against its strongest baseline on the same test rows, its confusion matrix,
its worst errors, and the model itself (safetensors) as the run's ``model/``.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from sklearn.metrics import confusion_matrix

from . import baselines, metrics, model
from .config import Settings
from .data import LABEL, TEXT, Splits
from .ops import tracking
from .train import fine_tune, plan_epochs

BASELINES = ("tfidf_lr", "frozen_lr")  # cheapest first
SERVED = "finetuned"
SPLIT_TAGS = {"val": "val_split_sha256", "test": "test_split_sha256"}


@dataclass(frozen=True)
class Scored:
    """One candidate's predicted labels on the validation and the test split (and, for a
    fine-tune, its test probabilities: the worst errors are read from them)."""

    val: list[str]
    test: list[str]
    test_proba: np.ndarray | None = None


def run(settings: Settings, splits: Splits, run_name: str) -> str:
    """Train and score every candidate inside one MLflow run; return its id."""
    start = time.perf_counter()
    with mlflow.start_run(run_name=run_name) as active:
        _log_setup(settings, splits)
        scored = {"tfidf_lr": _tfidf(splits, settings)}
        net, tokenizer = model.build(settings.encoder, splits.labels)
        predictor = model.Predictor(net, tokenizer, settings.max_length)
        scored["frozen_lr"] = _frozen(predictor, splits, settings)
        scored[SERVED] = _fine_tuned(predictor, splits, settings)
        if settings.lora:
            scored["lora"] = _lora(splits, settings)
        _log_served(active.info.run_id, splits, scored)
        mlflow.log_metric("pipeline_seconds", time.perf_counter() - start)
        _log_model(predictor, active.info.run_id)
        return active.info.run_id


def _log_setup(settings: Settings, splits: Splits) -> None:
    keys = (
        "seed", "threads", "serve_threads", "train_size", "max_length", "batch_size",
        "learning_rate", "head_learning_rate", "weight_decay", "min_train_steps", "max_epochs",
        "patience", "max_train_seconds", "lora", "lora_rank", "lora_learning_rate",
        "lora_max_train_seconds", "test_size", "val_size",
    )  # fmt: skip
    mlflow.log_params({key: getattr(settings, key) for key in keys})
    mlflow.log_params(
        {
            "encoder": settings.encoder or "all-MiniLM-L6-v2 (bundled)",
            "labels": ",".join(splits.labels),
            **{f"n_{name}": size for name, size in splits.sizes().items()},
        }
    )
    mlflow.set_tags(
        {
            "git_commit": tracking.git_commit(),
            "data_file": settings.data_file.name,
            "data_sha256": tracking.fingerprint(settings.data_file),
            **{tag: splits.fingerprint(name) for name, tag in SPLIT_TAGS.items()},
        }
    )


def _log_scores(name: str, splits: Splits, scored: Scored, extra: dict[str, float]) -> Scored:
    """Validation and test scores plus cost numbers, logged as ``<model>.<metric>``."""
    found = {
        **metrics.scores(splits.val[LABEL].tolist(), scored.val, "val"),
        **metrics.scores(splits.test[LABEL].tolist(), scored.test, "test"),
        **extra,
    }
    mlflow.log_metrics({f"{name}.{key}": value for key, value in found.items()})
    shown = ("val_macro_f1", "test_accuracy", "test_macro_f1", "train_seconds")
    print(f"{name}: " + "  ".join(f"{key} {found[key]:.4g}" for key in shown))
    return scored


def _tfidf(splits: Splits, settings: Settings) -> Scored:
    start = time.perf_counter()
    texts, labels = splits.train[TEXT], splits.train[LABEL]
    pipeline, c = baselines.best_on_validation(
        lambda c: baselines.tfidf_lr(settings.seed, c).fit(texts, labels),
        lambda fitted: fitted.predict(splits.val[TEXT]).tolist(),
        splits.val[LABEL],
    )
    seconds = time.perf_counter() - start
    extra = {
        "train_seconds": seconds,
        "trainable_params": pipeline[-1].coef_.size + pipeline[-1].intercept_.size,
        "c": c,
    }
    scored = Scored(
        pipeline.predict(splits.val[TEXT]).tolist(), pipeline.predict(splits.test[TEXT]).tolist()
    )
    return _log_scores("tfidf_lr", splits, scored, extra)


def _frozen(predictor: model.Predictor, splits: Splits, settings: Settings) -> Scored:
    start = time.perf_counter()
    train_vectors = baselines.embed(predictor, splits.train[TEXT].tolist())
    val_vectors = baselines.embed(predictor, splits.val[TEXT].tolist())
    head, c = baselines.best_on_validation(
        lambda c: baselines.frozen_lr(settings.seed, c).fit(train_vectors, splits.train[LABEL]),
        lambda fitted: fitted.predict(val_vectors).tolist(),
        splits.val[LABEL],
    )
    seconds = time.perf_counter() - start
    test_vectors = baselines.embed(predictor, splits.test[TEXT].tolist())
    extra = {
        "train_seconds": seconds,
        "trainable_params": head.coef_.size + head.intercept_.size,
        "c": c,
    }
    scored = Scored(head.predict(val_vectors).tolist(), head.predict(test_vectors).tolist())
    return _log_scores("frozen_lr", splits, scored, extra)


def _fine_tuned(
    predictor: model.Predictor, splits: Splits, settings: Settings, name: str = SERVED
) -> Scored:
    """Fine-tune, score, log; learning curves of a LoRA run get a ``lora.`` prefix."""
    n_params = predictor.model.trainable_parameters()
    curve = "" if name == SERVED else f"{name}."
    start = time.perf_counter()
    history = fine_tune(
        predictor,
        splits.train,
        splits.val,
        settings,
        on_step=lambda step, loss: mlflow.log_metric(f"{curve}train_loss_step", loss, step=step),
        on_epoch=lambda e: mlflow.log_metrics(
            {
                f"{curve}train_loss": e.train_loss,
                f"{curve}val_loss": e.val_loss,
                f"{curve}val_accuracy": e.val_accuracy,
            },
            step=e.epoch,
        ),
    )
    seconds = time.perf_counter() - start
    best = max(history, key=lambda e: e.val_macro_f1)
    extra = {
        "train_seconds": seconds,
        "trainable_params": n_params,
        "planned_epochs": plan_epochs(len(splits.train), settings),
        "epochs_run": len(history),
        "steps_run": history[-1].steps,
        "best_epoch": best.epoch,
        "stopped_by_time_budget": float(history[-1].out_of_time),
    }
    proba = predictor.predict_proba(splits.test[TEXT].tolist())
    test = [predictor.labels[i] for i in proba.argmax(axis=1)]
    scored = Scored(predictor.predict(splits.val[TEXT].tolist()), test, proba)
    return _log_scores(name, splits, scored, extra)


def _lora(splits: Splits, settings: Settings) -> Scored:
    """LoRA adapters on a fresh copy of the encoder, same data, same loop, its own time
    budget. Scored for the table; the full fine-tune stays the served model."""
    net, tokenizer = model.build(settings.encoder, splits.labels)
    model.add_lora(net, settings.lora_rank)
    predictor = model.Predictor(net, tokenizer, settings.max_length)
    lora_settings = settings.model_copy(
        update={
            "learning_rate": settings.lora_learning_rate,
            "max_train_seconds": settings.lora_max_train_seconds,
        }
    )
    return _fine_tuned(predictor, splits, lora_settings, name="lora")


def _log_served(run_id: str, splits: Splits, scored: dict[str, Scored]) -> None:
    """The served model's scores under plain names, McNemar against its strongest baseline,
    its confusion matrix and worst errors (the write-up reads them back from the run).

    The strongest baseline is picked on validation macro-F1, not on test: choosing the
    rival by its test score would bias the test that compares them.
    """
    logged = mlflow.get_run(run_id).data.metrics
    tests = [key for key in logged if key.startswith(f"{SERVED}.test_")]
    plain = [f"{SERVED}.val_macro_f1", *tests]
    mlflow.log_metrics({key.removeprefix(f"{SERVED}."): logged[key] for key in plain})
    rival = max(BASELINES, key=lambda name: logged[f"{name}.val_macro_f1"])
    y_true = splits.test[LABEL].tolist()
    test = metrics.mcnemar(y_true, scored[SERVED].test, scored[rival].test)
    mlflow.log_param("mcnemar_baseline", rival)
    mlflow.log_metrics(
        {
            "mcnemar.only_finetuned_right": test.only_a,
            "mcnemar.only_baseline_right": test.only_b,
            "mcnemar.p_value": test.p_value,
        }
    )
    proba = scored[SERVED].test_proba
    assert proba is not None
    matrix = confusion_matrix(y_true, scored[SERVED].test, labels=splits.labels).tolist()
    errors = metrics.worst_errors(splits.test[TEXT].tolist(), y_true, proba, splits.labels)
    mlflow.log_dict({"labels": splits.labels, "matrix": matrix}, "evaluation/confusion.json")
    mlflow.log_dict({"errors": errors}, "evaluation/errors.json")


def _log_model(predictor: model.Predictor, run_id: str) -> None:
    """The fine-tuned model (safetensors, tokenizer, labels) as the run's ``model/``, with
    ``run.json`` beside it: which run it came from and its test scores, for ``/metadata``
    and ``make evaluate``."""
    logged = mlflow.get_run(run_id).data
    served = {
        "run_id": run_id,
        "test_metrics": {
            key: value for key, value in logged.metrics.items() if key.startswith("test_")
        },
        "data_sha256": logged.tags["data_sha256"],
        "test_split_sha256": logged.tags[SPLIT_TAGS["test"]],
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(predictor, Path(tmp) / "model")
        (folder / model.RUN_FILE).write_text(json.dumps(served, indent=2))
        mlflow.log_artifacts(str(folder), "model")
