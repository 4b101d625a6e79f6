"""Train the three models on the same split, log everything to MLflow, save the champion.

``python -m <package>.train`` (``make train``) runs, in order:

1. TF-IDF + logistic regression, the bag-of-words baseline;
2. frozen MiniLM embeddings + logistic regression, the "before";
3. MiniLM fine-tuned end to end with a linear head, the "after" (early stopping on the
   validation split, best epoch restored);
4. LoRA adapters on a fresh MiniLM, the cheaper way to fine-tune (``FT_LORA=false`` skips it).

All of them are scored once on the same held-out test rows; the metrics, per-epoch learning
curves, confusion matrix and error examples go to one MLflow run, the fine-tuned model is
saved as safetensors and registered, the alias ``champion`` moves to it only if it wins
(``register.py``), and WRITEUP.md is written from that run. ``--smoke`` runs the same
code on a tiny subset in seconds.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.tracking import MlflowClient
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from . import data, evaluate, features, model, register, tracking, writeup
from .config import Settings
from .data import LABEL, TEXT, Splits


@dataclass(frozen=True)
class Epoch:
    """What one pass over the training data left behind."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    seconds: float
    steps: int = 0  # optimizer steps since training began
    out_of_time: bool = False


def seed_everything(seed: int) -> None:
    """Same seed, same split, same initial head, same batches: reruns are comparable."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def plan_epochs(n_train: int, settings: Settings) -> int:
    """Enough epochs for ``min_train_steps`` optimizer steps, at most ``max_epochs``.

    Why steps, not epochs: a fixed number of epochs means 160 optimizer steps on 2,500
    texts but 50 on 800, too few for a freshly initialised head to learn nine labels. Small
    data sets get more passes, large ones keep one or two; the time budget and early
    stopping still end training sooner when they must.
    """
    steps_per_epoch = -(-n_train // settings.batch_size)
    return max(1, min(settings.max_epochs, -(-settings.min_train_steps // steps_per_epoch)))


def parameter_groups(net: model.TextClassifier, settings: Settings) -> list[dict[str, Any]]:
    """The pre-trained encoder at ``learning_rate``, the new head at ``head_learning_rate``.

    The head starts random and has to move far; the encoder already knows language and
    should move little. One learning rate for both either leaves the head untrained (small)
    or makes the encoder forget (large), so each gets its own.
    """
    head = [p for p in net.head.parameters() if p.requires_grad]
    head_ids = {id(p) for p in head}
    body = [p for p in net.parameters() if p.requires_grad and id(p) not in head_ids]
    return [
        {"params": body, "lr": settings.learning_rate},
        {"params": head, "lr": settings.head_learning_rate},
    ]


def fine_tune(
    predictor: model.Predictor,
    train: pd.DataFrame,
    val: pd.DataFrame,
    settings: Settings,
    on_step: Callable[..., None] = lambda step, loss: None,
    on_epoch: Callable[..., None] = lambda epoch: None,
) -> list[Epoch]:
    """Train with AdamW; stop when validation accuracy stops improving.

    Why these choices: training lasts at least ``min_train_steps`` optimizer steps
    (``plan_epochs``), whatever the size of the data; the head learns at a higher rate than
    the encoder (``parameter_groups``); linear warm-up and decay over the planned steps is
    the standard recipe that keeps a pre-trained encoder from forgetting what it knew; early
    stopping on a validation split (never the test split) can end training sooner, and the
    weights of the best epoch are restored, so the saved model is the one that was validated.
    A time budget (``max_train_seconds``) ends the last epoch early on a slow or busy
    machine, so ``make train`` stays bounded; the epoch is still validated.
    ``on_step(step, loss)`` and ``on_epoch(epoch)`` let the caller log (to MLflow).
    """
    net = predictor.model
    label_ids = {label: i for i, label in enumerate(predictor.labels)}
    texts, targets = train[TEXT].tolist(), torch.tensor([label_ids[y] for y in train[LABEL]])
    epochs = plan_epochs(len(texts), settings)
    optimizer = torch.optim.AdamW(
        parameter_groups(net, settings), weight_decay=settings.weight_decay
    )
    total = -(-len(texts) // settings.batch_size) * epochs
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * total), total)
    order = torch.Generator().manual_seed(settings.seed)
    history: list[Epoch] = []
    best_accuracy, best_state, waited, step = -1.0, copy.deepcopy(net.state_dict()), 0, 0
    deadline = time.perf_counter() + settings.max_train_seconds
    for epoch in range(1, epochs + 1):
        start, losses = time.perf_counter(), []
        net.train()
        batches = torch.randperm(len(texts), generator=order).split(settings.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch}/{epochs}", unit="batch")
        for index in bar:
            batch = predictor.tokenize([texts[i] for i in index])
            logits = net(batch["input_ids"], batch["attention_mask"])
            loss = torch.nn.functional.cross_entropy(logits, targets[index])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            losses.append(loss.item())
            on_step(step, losses[-1])
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if time.perf_counter() > deadline:
                break
        out_of_time = time.perf_counter() > deadline
        val_loss, val_accuracy = validate(predictor, val, label_ids, settings.batch_size)
        seconds = time.perf_counter() - start
        result = Epoch(
            epoch, float(np.mean(losses)), val_loss, val_accuracy, seconds, step, out_of_time
        )
        history.append(result)
        on_epoch(result)
        tqdm.write(
            f"epoch {epoch}: train loss {result.train_loss:.4f}  val loss {val_loss:.4f}  "
            f"val accuracy {val_accuracy:.4f}"
        )
        if val_accuracy > best_accuracy:
            best_accuracy, best_state, waited = val_accuracy, copy.deepcopy(net.state_dict()), 0
        else:
            waited += 1
            if waited >= settings.patience:
                tqdm.write(f"early stop: no validation gain for {waited} epoch(s)")
                break
        if out_of_time:
            tqdm.write(f"time budget of {settings.max_train_seconds:.0f} s spent: stopping")
            break
    net.load_state_dict(best_state)
    net.eval()
    return history


@torch.inference_mode()
def validate(
    predictor: model.Predictor, val: pd.DataFrame, label_ids: dict[str, int], batch_size: int
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on the validation split (model in eval mode)."""
    predictor.model.eval()
    proba = predictor.predict_proba(val[TEXT].tolist(), batch_size=2 * batch_size)
    targets = np.array([label_ids[y] for y in val[LABEL]])
    picked = proba[np.arange(len(targets)), targets]
    loss = float(-np.log(np.clip(picked, 1e-12, None)).mean())
    return loss, float((proba.argmax(axis=1) == targets).mean())


def run(settings: Settings, run_name: str = "train") -> str:
    """The whole experiment in one MLflow run; returns the run id."""
    start = time.perf_counter()
    seed_everything(settings.seed)
    torch.set_num_threads(settings.threads)
    configure_tracking(settings)
    splits = data.split(data.load(settings), settings)
    print(f"data: {splits.sizes()} labels={splits.labels}")
    with mlflow.start_run(run_name=run_name) as active:
        _log_setup(settings, splits)
        _train_tfidf(splits, settings)
        net, tokenizer = model.build(settings.encoder, splits.labels)
        predictor = model.Predictor(net, tokenizer, settings.max_length)
        _train_frozen(predictor, splits, settings)
        proba = _train_finetuned(predictor, splits, settings)
        if settings.lora:
            _train_lora(splits, settings)
        _log_evaluation(splits, proba)
        mlflow.log_metric("pipeline_seconds", time.perf_counter() - start)
        _log_model(predictor, active.info.run_id)
        run_id = active.info.run_id
    registration = register.register(run_id, settings)
    print(registration.message)
    writeup.write(settings, run_id)  # this run's, champion or not: you just asked for it
    print(f"MLflow run {run_id}; wrote {settings.writeup_file}")
    if not registration.promoted:
        print("WRITEUP.md describes this run, not the champion: `make evaluate` rewrites it")
    return run_id


def configure_tracking(settings: Settings) -> None:
    """Create the experiment with its artifacts inside the project (not in the cwd) when
    tracking to a local database; a tracking server keeps artifacts where it decides."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", tracking.DEFAULT_TRACKING_URI)
    mlflow.set_tracking_uri(uri)
    local = tracking.artifact_root(uri) is not None
    if local and MlflowClient().get_experiment_by_name(tracking.EXPERIMENT) is None:
        settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(
            tracking.EXPERIMENT, artifact_location=settings.artifacts_dir.resolve().as_uri()
        )
    tracking.configure()


def _log_setup(settings: Settings, splits: Splits) -> None:
    keys = (
        "train_size", "max_length", "batch_size", "learning_rate", "head_learning_rate",
        "weight_decay", "min_train_steps", "max_epochs", "patience", "max_train_seconds",
        "lora", "lora_rank", "lora_learning_rate", "lora_max_train_seconds",
    )  # fmt: skip
    mlflow.log_params({key: getattr(settings, key) for key in keys})
    mlflow.log_params(
        {
            "seed": settings.seed,
            "threads": settings.threads,
            "serve_threads": settings.serve_threads,
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
            register.SPLIT_TAG: register.split_fingerprint(
                splits.test[TEXT].tolist(), splits.test[LABEL].tolist()
            ),
        }
    )


def _log_scores(prefix: str, y_pred: list[str], splits: Splits, extra: dict[str, float]) -> None:
    """Test scores plus cost numbers, logged as ``<model>.<metric>``."""
    metrics = {**evaluate.scores(splits.test[LABEL].tolist(), y_pred), **extra}
    mlflow.log_metrics({f"{prefix}.{key}": value for key, value in metrics.items()})
    print(f"{prefix}: " + "  ".join(f"{key} {value:.4g}" for key, value in metrics.items()))


def _train_tfidf(splits: Splits, settings: Settings) -> None:
    start = time.perf_counter()
    pipeline = features.tfidf_lr(settings.seed).fit(splits.train[TEXT], splits.train[LABEL])
    seconds = time.perf_counter() - start
    n_params = pipeline[-1].coef_.size + pipeline[-1].intercept_.size
    latency = evaluate.latency_ms(
        pipeline.predict, splits.test[TEXT].tolist()[:100], settings.serve_threads
    )
    predicted = pipeline.predict(splits.test[TEXT]).tolist()
    extra = {"train_seconds": seconds, "trainable_params": n_params, **latency}
    _log_scores("tfidf_lr", predicted, splits, extra)


def _train_frozen(predictor: model.Predictor, splits: Splits, settings: Settings) -> None:
    start = time.perf_counter()
    train_vectors = features.embed(predictor, splits.train[TEXT].tolist())
    head = features.frozen_lr(settings.seed).fit(train_vectors, splits.train[LABEL])
    seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:  # logged with the model: exported together
        features.save_linear(head, Path(tmp) / features.FROZEN_HEAD)
        mlflow.log_artifacts(tmp, "model")
    test_vectors = features.embed(predictor, splits.test[TEXT].tolist())
    predicted = head.predict(test_vectors).tolist()
    latency = evaluate.latency_ms(
        lambda texts: head.predict(features.embed(predictor, texts)),
        splits.test[TEXT].tolist()[:100],
        settings.serve_threads,
    )
    n_params = head.coef_.size + head.intercept_.size
    extra = {"train_seconds": seconds, "trainable_params": n_params, **latency}
    _log_scores("frozen_lr", predicted, splits, extra)


def _train_finetuned(
    predictor: model.Predictor, splits: Splits, settings: Settings, name: str = "finetuned"
) -> np.ndarray:
    """Fine-tune, score on test, log; learning curves of a LoRA run get a ``lora.`` prefix."""
    n_params = predictor.model.trainable_parameters()
    curve = "" if name == "finetuned" else f"{name}."
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
    proba = predictor.predict_proba(splits.test[TEXT].tolist())
    predicted = [splits.labels[i] for i in proba.argmax(axis=1)]
    latency = evaluate.latency_ms(
        predictor.predict, splits.test[TEXT].tolist()[:100], settings.serve_threads
    )
    best = max(history, key=lambda e: e.val_accuracy)
    extra = {
        "train_seconds": seconds,
        "trainable_params": n_params,
        "planned_epochs": plan_epochs(len(splits.train), settings),
        "epochs_run": len(history),
        "steps_run": history[-1].steps,
        "best_epoch": best.epoch,
        "stopped_by_time_budget": float(history[-1].out_of_time),
        **latency,
    }
    _log_scores(name, predicted, splits, extra)
    return proba


def _train_lora(splits: Splits, settings: Settings) -> None:
    """(d) LoRA adapters on a fresh copy of the encoder, same data, same loop.

    Trains well under 1% of the weights: the answer to "can I fine-tune more cheaply?". Scored
    and logged for the table; the full fine-tune stays the served model. It has its own
    time budget (``lora_max_train_seconds``), so `make train` stays bounded.
    """
    net, tokenizer = model.build(settings.encoder, splits.labels)
    model.add_lora(net, settings.lora_rank)
    predictor = model.Predictor(net, tokenizer, settings.max_length)
    lora_settings = settings.model_copy(
        update={
            "learning_rate": settings.lora_learning_rate,
            "max_train_seconds": settings.lora_max_train_seconds,
        }
    )
    _train_finetuned(predictor, splits, lora_settings, name="lora")


def _log_evaluation(splits: Splits, proba: np.ndarray) -> None:
    """Confusion matrix and error examples of the fine-tuned model, as MLflow artifacts
    (the write-up reads them back from there)."""
    y_true = splits.test[LABEL].tolist()
    predicted = [splits.labels[i] for i in proba.argmax(axis=1)]
    matrix = evaluate.confusion(y_true, predicted, splits.labels)
    errors = evaluate.worst_errors(splits.test[TEXT].tolist(), y_true, proba, splits.labels)
    mlflow.log_dict({"labels": splits.labels, "matrix": matrix}, "evaluation/confusion.json")
    mlflow.log_dict({"errors": errors}, "evaluation/errors.json")


def _log_model(predictor: model.Predictor, run_id: str) -> None:
    """Log the fine-tuned model (safetensors, tokenizer, labels) as the run's ``model/``;
    ``run.json`` beside it tells the service which run and test scores it serves."""
    metrics = MlflowClient().get_run(run_id).data.metrics
    scores = {key: value for key, value in metrics.items() if key.startswith("finetuned.test_")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(predictor, Path(tmp) / "model")
        served = {"run_id": run_id, "metrics": scores}
        (folder / "run.json").write_text(json.dumps(served, indent=2))
        mlflow.log_artifacts(str(folder), "model")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny subset, seconds (CI)")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        run(settings.smoke() if args.smoke else settings, "smoke" if args.smoke else "train")
    except data.DataError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
