"""Fine-tuning: the training loop that turns the pre-trained encoder into a classifier.

``fine_tune`` trains the ``Predictor`` it is given in place (``experiment.candidate``
builds a fresh one per variant): AdamW with two learning rates (``parameter_groups``),
linear warm-up and decay over a planned number of steps (``plan_epochs``; the standard
recipe that keeps a pre-trained encoder from forgetting what it knew), early stopping on
the validation split, never the test split, and a time budget that ends the last epoch
early on a slow or busy machine, so ``make train`` stays bounded. The same loop trains the
full fine-tune and LoRA; what to log is the caller's business (``on_step``, ``on_epoch``).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from .config import Settings
from .data import LABEL, TEXT
from .metrics import scores
from .model import Predictor, TextClassifier


@dataclass(frozen=True)
class Epoch:
    """What one pass over the training data left behind."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    val_macro_f1: float
    steps: int = 0  # optimizer steps since training began
    out_of_time: bool = False


def seed_everything(seed: int) -> None:
    """Same seed, same split, same initial head, same batches: reruns are comparable."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def plan_epochs(n_train: int, settings: Settings) -> int:
    """Enough epochs for ``min_train_steps`` optimizer steps, at most ``max_epochs``.

    Why steps, not epochs: a fixed number of epochs gives a large data set many optimizer
    steps and a small one few, too few for a freshly initialised head to learn its labels.
    Small data sets get more passes, large ones keep one or two; the time budget and early
    stopping still end training sooner when they must.
    """
    steps_per_epoch = -(-n_train // settings.batch_size)
    return max(1, min(settings.max_epochs, -(-settings.min_train_steps // steps_per_epoch)))


def class_weights(targets: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Each class's weight ``n_samples / (n_classes * count)``: sklearn's "balanced" weights.

    The baselines train with it, so the fine-tune's cross-entropy uses it too: on imbalanced
    data every model gives each class the same say, as macro-F1 (the selection metric) does.
    """
    return len(targets) / (n_classes * torch.bincount(targets, minlength=n_classes).float())


def parameter_groups(net: TextClassifier, settings: Settings) -> list[dict[str, Any]]:
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
    predictor: Predictor,
    train: pd.DataFrame,
    val: pd.DataFrame,
    settings: Settings,
    on_step: Callable[..., None] = lambda step, loss: None,
    on_epoch: Callable[..., None] = lambda epoch: None,
) -> list[Epoch]:
    """Train with AdamW; return one ``Epoch`` per pass over the data.

    Training stops when validation macro-F1 (the metric promotion uses) has not improved
    for ``patience`` epochs or the time budget is spent, and the best epoch's weights are
    restored: the saved model is the one that was validated. Gradients are clipped at norm
    1.0 and the first 10% of steps warm up (the Hugging Face Trainer's clipping and a
    common warm-up share, not tuned).
    """
    net = predictor.model
    label_ids = {label: i for i, label in enumerate(predictor.labels)}
    texts, targets = train[TEXT].tolist(), torch.tensor([label_ids[y] for y in train[LABEL]])
    weights = class_weights(targets, len(predictor.labels))
    epochs = plan_epochs(len(texts), settings)
    optimizer = torch.optim.AdamW(
        parameter_groups(net, settings), weight_decay=settings.weight_decay
    )
    total = -(-len(texts) // settings.batch_size) * epochs
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * total), total)
    order = torch.Generator().manual_seed(settings.seed)
    history: list[Epoch] = []
    best_f1, best_state, waited, step = -1.0, copy.deepcopy(net.state_dict()), 0, 0
    deadline = time.perf_counter() + settings.max_train_seconds
    for epoch in range(1, epochs + 1):
        losses: list[float] = []
        net.train()
        batches = torch.randperm(len(texts), generator=order).split(settings.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch}/{epochs}", unit="batch")
        for index in bar:
            batch = predictor.tokenize([texts[i] for i in index])
            logits = net(batch["input_ids"], batch["attention_mask"])
            loss = torch.nn.functional.cross_entropy(logits, targets[index], weight=weights)
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
        val_loss, val_accuracy, val_f1 = validate(predictor, val, label_ids, settings.batch_size)
        train_loss = float(np.mean(losses))
        result = Epoch(epoch, train_loss, val_loss, val_accuracy, val_f1, step, out_of_time)
        history.append(result)
        on_epoch(result)
        tqdm.write(
            f"epoch {epoch}: train loss {result.train_loss:.4f}  val loss {val_loss:.4f}  "
            f"val accuracy {val_accuracy:.4f}  val macro-F1 {val_f1:.4f}"
        )
        if val_f1 > best_f1:
            best_f1, best_state, waited = val_f1, copy.deepcopy(net.state_dict()), 0
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
    predictor: Predictor, val: pd.DataFrame, label_ids: dict[str, int], batch_size: int
) -> tuple[float, float, float]:
    """Mean cross-entropy, accuracy and macro-F1 on the validation split (eval mode)."""
    predictor.model.eval()
    proba = predictor.predict_proba(val[TEXT].tolist(), batch_size=2 * batch_size)
    targets = np.array([label_ids[y] for y in val[LABEL]])
    picked = proba[np.arange(len(targets)), targets]
    loss = float(-np.log(np.clip(picked, 1e-12, None)).mean())
    predicted = [predictor.labels[i] for i in proba.argmax(axis=1)]
    measured = scores(val[LABEL].tolist(), predicted, "val")
    return loss, measured["val_accuracy"], measured["val_macro_f1"]
