"""The experiment: every candidate on the same split, logged to one MLflow run.

``run`` scores, in order, the majority class (the floor), the baseline any text model
must beat (TF-IDF + logistic regression), the "before" (frozen MiniLM embeddings + LR),
the "after" (MiniLM fine-tuned end to end) and, when ``settings.lora`` is on, LoRA. Each
model that needs the encoder gets its own copy, built by ``candidate`` from the pre-trained
weights with the same seeded head, so no candidate starts from what another one learned.
Each is scored on validation (``<model>.val_*``: what every decision uses) and test
(``<model>.test_*``: reported, decides nothing). The fine-tuned model is the one served:
its scores are also logged under the plain names (``val_macro_f1``, ``test_accuracy``...),
beside McNemar's test against its strongest baseline, its confusion matrix, worst errors
and weights. ``test_truncated_share`` is the share of test texts longer than ``max_length``
tokens: the model reads only their start.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import numpy as np
import torch
from sklearn.metrics import confusion_matrix

from . import baselines, metrics, model
from .config import Settings
from .data import LABEL, TEXT, Splits
from .ops import tracking
from .train import fine_tune, plan_epochs

BASELINES = ("tfidf_lr", "frozen_lr")  # cheapest first
SERVED = "finetuned"
SPLIT_TAGS = {"val": "val_split_sha256", "test": "test_split_sha256"}
SMOKE_RUN = "smoke"  # the run name of `make train-smoke`: register.py never promotes it


@dataclass(frozen=True)
class Scored:
    """A candidate's predicted labels, what was logged for it, and a fine-tune's test
    probabilities (the worst errors are read from them)."""

    val: list[str]
    test: list[str]
    logged: dict[str, float]
    test_proba: np.ndarray | None = None


def candidate(settings: Settings, labels: list[str], lora_rank: int = 0) -> model.Predictor:
    """A fresh classifier on the pre-trained encoder, its head drawn from ``settings.seed``
    (with LoRA adapters when ``lora_rank`` > 0): each variant starts from the same weights,
    whatever ran before it."""
    torch.manual_seed(settings.seed)
    net, tokenizer = model.build(settings.encoder, labels)
    if lora_rank:
        model.add_lora(net, lora_rank)
    return model.Predictor(net, tokenizer, settings.max_length)


def run(settings: Settings, splits: Splits, run_name: str) -> str:
    """Train and score every candidate inside one MLflow run; return its id."""
    start = time.perf_counter()
    with mlflow.start_run(run_name=run_name) as active:
        _log_setup(settings, splits)
        top = splits.train[LABEL].mode()[0]  # the majority class (ties: first sorted)
        floor = {"train_seconds": 0.0, "trainable_params": 0.0}
        _scored("majority", splits, [top] * len(splits.val), [top] * len(splits.test), floor)
        scored = {"tfidf_lr": _tfidf(splits, settings), "frozen_lr": _frozen(splits, settings)}
        finetuned = candidate(settings, splits.labels)
        mlflow.log_metric("test_truncated_share", _truncated_share(finetuned, splits))
        scored[SERVED] = _fine_tuned(SERVED, finetuned, splits, settings)
        if settings.lora:
            lora = candidate(settings, splits.labels, settings.lora_rank)
            lora_settings = settings.model_copy(
                update={
                    "learning_rate": settings.lora_learning_rate,
                    "max_train_seconds": settings.lora_max_train_seconds,
                }
            )
            scored["lora"] = _fine_tuned("lora", lora, splits, lora_settings)
        mlflow.log_metric("pipeline_seconds", time.perf_counter() - start)
        _log_served(finetuned, settings, splits, scored)
        return active.info.run_id


def _truncated_share(predictor: model.Predictor, splits: Splits) -> float:
    """The share of test texts with more tokens than ``max_length`` (cut when tokenized)."""
    tokens = predictor.tokenizer(splits.test[TEXT].tolist(), verbose=False)["input_ids"]
    return float(np.mean([len(ids) > predictor.max_length for ids in tokens]))


def _log_setup(settings: Settings, splits: Splits) -> None:
    keys = (
        "seed", "threads", "serve_threads", "train_size", "max_length", "batch_size",
        "learning_rate", "head_learning_rate", "weight_decay", "min_train_steps", "max_epochs",
        "patience", "max_train_seconds", "lora", "lora_rank", "lora_learning_rate",
        "lora_max_train_seconds", "test_size", "val_size", "max_val_size", "max_test_size",
        "promote_margin", "text_col", "label_col", "csv_sep",
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


def _scored(
    name: str, splits: Splits, val: list[str], test: list[str], cost: dict[str, float]
) -> Scored:
    """Validation and test scores plus cost numbers, logged as ``<model>.<metric>``."""
    found = {
        **metrics.scores(splits.val[LABEL].tolist(), val, "val"),
        **metrics.scores(splits.test[LABEL].tolist(), test, "test"),
        **cost,
    }
    mlflow.log_metrics({f"{name}.{key}": value for key, value in found.items()})
    shown = ("val_macro_f1", "test_accuracy", "test_macro_f1", "train_seconds")
    print(f"{name}: " + "  ".join(f"{key} {found[key]:.4g}" for key in shown))
    return Scored(val, test, found)


def _tfidf(splits: Splits, settings: Settings) -> Scored:
    start = time.perf_counter()
    texts, labels = splits.train[TEXT], splits.train[LABEL]
    pipeline, c = baselines.best_on_validation(
        lambda c: baselines.tfidf_lr(settings.seed, c).fit(texts, labels),
        lambda fitted: fitted.predict(splits.val[TEXT]).tolist(),
        splits.val[LABEL],
    )
    head = pipeline[-1]
    cost = {
        "train_seconds": time.perf_counter() - start,
        "trainable_params": head.coef_.size + head.intercept_.size,
        "c": c,
    }
    val, test = (pipeline.predict(split[TEXT]).tolist() for split in (splits.val, splits.test))
    return _scored("tfidf_lr", splits, val, test, cost)


def _frozen(splits: Splits, settings: Settings) -> Scored:
    """LR on the embeddings of an encoder nothing trains (its own copy, dropped after)."""
    encoder = candidate(settings, splits.labels)
    start = time.perf_counter()
    train, val = (baselines.embed(encoder, s[TEXT].tolist()) for s in (splits.train, splits.val))
    head, c = baselines.best_on_validation(
        lambda c: baselines.frozen_lr(settings.seed, c).fit(train, splits.train[LABEL]),
        lambda fitted: fitted.predict(val).tolist(),
        splits.val[LABEL],
    )
    cost = {
        "train_seconds": time.perf_counter() - start,
        "trainable_params": head.coef_.size + head.intercept_.size,
        "c": c,
    }
    test = baselines.embed(encoder, splits.test[TEXT].tolist())
    return _scored(
        "frozen_lr", splits, head.predict(val).tolist(), head.predict(test).tolist(), cost
    )


def _fine_tuned(
    name: str, predictor: model.Predictor, splits: Splits, settings: Settings
) -> Scored:
    """Fine-tune ``predictor``, score it, log it; a LoRA run's curves get a ``lora.`` prefix."""
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
                f"{curve}{key}": getattr(e, key)
                for key in ("train_loss", "val_loss", "val_accuracy")
            },
            step=e.epoch,
        ),
    )
    cost = {
        "train_seconds": time.perf_counter() - start,
        "trainable_params": n_params,
        "planned_epochs": plan_epochs(len(splits.train), settings),
        "epochs_run": len(history),
        "steps_run": history[-1].steps,
        "best_epoch": max(history, key=lambda e: e.val_macro_f1).epoch,
        "stopped_by_time_budget": float(history[-1].out_of_time),
    }
    proba = predictor.predict_proba(splits.test[TEXT].tolist())
    test = [predictor.labels[i] for i in proba.argmax(axis=1)]
    found = _scored(name, splits, predictor.predict(splits.val[TEXT].tolist()), test, cost)
    return replace(found, test_proba=proba)


def _log_served(
    predictor: model.Predictor, settings: Settings, splits: Splits, scored: dict[str, Scored]
) -> None:
    """What the served model needs beside its scores: its scores under the plain names,
    McNemar against its strongest baseline, its confusion matrix and worst errors (the
    write-up reads them back) and the model itself as the run's ``model/`` (safetensors,
    tokenizer, labels), with ``run.json``: its run, rows and test scores, for ``/metadata``
    and ``make evaluate``.

    The strongest baseline is picked on validation macro-F1, not on test: choosing the
    rival by its test score would bias the test that compares them.
    """
    served = scored[SERVED]
    on_test = {key: value for key, value in served.logged.items() if key.startswith("test_")}
    mlflow.log_metrics({"val_macro_f1": served.logged["val_macro_f1"], **on_test})
    rival = max(BASELINES, key=lambda name: scored[name].logged["val_macro_f1"])
    y_true = splits.test[LABEL].tolist()
    test = metrics.mcnemar(y_true, served.test, scored[rival].test)
    mlflow.log_param("mcnemar_baseline", rival)
    mlflow.log_metrics(
        {
            "mcnemar.only_finetuned_right": test.only_a,
            "mcnemar.only_baseline_right": test.only_b,
            "mcnemar.p_value": test.p_value,
        }
    )
    assert served.test_proba is not None
    matrix = confusion_matrix(y_true, served.test, labels=splits.labels).tolist()
    texts = splits.test[TEXT].tolist()
    errors = metrics.worst_errors(texts, y_true, served.test_proba, splits.labels)
    mlflow.log_dict({"labels": splits.labels, "matrix": matrix}, "evaluation/confusion.json")
    mlflow.log_dict({"errors": errors}, "evaluation/errors.json")
    run = {
        "run_id": mlflow.active_run().info.run_id,
        "test_metrics": on_test,
        "data_sha256": tracking.fingerprint(settings.data_file),
        "test_split_sha256": splits.fingerprint("test"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(predictor, Path(tmp) / "model")
        (folder / model.RUN_FILE).write_text(json.dumps(run, indent=2))
        mlflow.log_artifacts(str(folder), "model")
