"""Optional LLM track: a causal LM, few-shot prompting (before) vs LoRA fine-tune (after).

The interview question "why not just prompt an LLM?", answered with a measurement:
``make train-llm`` scores a small causal LM prompted with a few examples, then after LoRA
fine-tuning, on the first test texts, and the served fine-tuned encoder on the same texts,
and logs all three to an MLflow run named ``llm`` that WRITEUP.md quotes. It is an
experiment, not a product: nothing here is registered or served, and the default pipeline
never imports it. Where the weights come from: ``ops/causal_lm.py``.

The task is cast as instruction -> label. Rather than parse free text (which fails in ways
that have nothing to do with the task), the model *ranks* the labels: each label's
log-likelihood after the prompt is a score, and softmax over the scores gives
probabilities, so the LLM plugs into the same ``predict_proba`` interface as the encoder.
On a 2-core CPU keep the sizes small (the defaults are); a GPU is faster.
"""

from __future__ import annotations

import argparse
import random
import time

import mlflow
import numpy as np
import pandas as pd
import torch
from pydantic import Field
from tqdm.auto import tqdm
from transformers import AutoTokenizer, PreTrainedModel

from .. import data, evaluate, metrics
from ..config import Settings
from ..data import LABEL, TEXT, Splits
from . import tracking
from .causal_lm import load_causal_lm


class LLMSettings(Settings):
    """The project's settings plus the LLM track's, with the same env prefix."""

    base_model: str = Field(
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        description="causal LM: hub name (needs a connection), local folder, or a .gguf file",
    )
    base_model_revision: str | None = Field(
        None, description="hub commit of base_model (None: latest); local files ignore it"
    )
    llm_shots: int = Field(4, ge=0, le=32, description="examples in the few-shot prompt")
    llm_train_size: int = Field(256, ge=4, description="examples for the LoRA fine-tune")
    llm_test_size: int = Field(200, ge=4, description="test texts scored (an LLM is slow)")
    llm_epochs: int = Field(1, ge=1, le=20)
    llm_learning_rate: float = Field(2e-4, gt=0, lt=1)


INSTRUCTION = "Classify the text. Answer with one of: {labels}."


def prompt(text: str, labels: list[str], shots: list[tuple[str, str]]) -> str:
    """Instruction, a few solved examples, then the text; the label follows ``Label:``."""
    lines = [INSTRUCTION.format(labels=", ".join(labels)), ""]
    for shot_text, shot_label in shots:
        lines += [f"Text: {shot_text}", f"Label: {shot_label}", ""]
    lines += [f"Text: {text}", "Label:"]
    return "\n".join(lines)


class LLMClassifier:
    """Rank classification with a causal LM: the same interface as ``model.Predictor``."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: AutoTokenizer,
        labels: list[str],
        shots: list[tuple[str, str]],
        max_length: int = 512,
    ) -> None:
        self.model, self.tokenizer, self.labels = model, tokenizer, list(labels)
        self.shots, self.max_length = shots, max_length

    def _encode(self, text: str, label: str) -> tuple[list[int], int]:
        """Token ids of prompt + " label" and where the label starts (truncating the prompt
        from the left, so the label is never cut off)."""
        context = self.tokenizer(prompt(text, self.labels, self.shots))["input_ids"]
        answer = self.tokenizer(f" {label}", add_special_tokens=False)["input_ids"]
        eos = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        answer = answer + eos
        context = context[-(self.max_length - len(answer)) :]
        return context + answer, len(context)

    def _batch(self, pairs: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
        """Right-padded ids, attention mask, and labels = -100 everywhere but the answer."""
        width = max(len(ids) for ids, _ in pairs)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(pairs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(pairs), width), dtype=torch.long)
        targets = torch.full((len(pairs), width), -100, dtype=torch.long)
        for row, (tokens, start) in enumerate(pairs):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
            targets[row, start : len(tokens)] = torch.tensor(tokens[start:])
        return {"input_ids": ids, "attention_mask": mask, "labels": targets}

    @torch.inference_mode()
    def predict_proba(self, texts: list[str], batch_size: int = 8) -> np.ndarray:
        """Softmax over each label's mean token log-likelihood after the prompt."""
        self.model.eval()
        scores = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        jobs = [(j, start) for j in range(len(self.labels)) for start in starts]
        for j, start in tqdm(jobs, desc="score labels", leave=False, disable=len(jobs) < 4):
            chunk = texts[start : start + batch_size]
            batch = self._batch([self._encode(text, self.labels[j]) for text in chunk])
            logits = self.model(batch["input_ids"], attention_mask=batch["attention_mask"])
            scores[start : start + len(chunk), j] = _mean_log_likelihood(
                logits.logits, batch["labels"]
            )
        return torch.softmax(torch.from_numpy(scores), dim=-1).numpy()

    def predict(self, texts: list[str], batch_size: int = 8) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(texts, batch_size).argmax(axis=1)]


def _mean_log_likelihood(logits: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Mean log-probability of the target tokens (shifted: token t predicts t + 1)."""
    logits, targets = logits[:, :-1].float(), targets[:, 1:]
    log_probs = torch.log_softmax(logits, dim=-1)
    keep = targets != -100
    picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return ((picked * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)).numpy()


def add_lora(model: PreTrainedModel, rank: int = 8) -> PreTrainedModel:
    """LoRA on every attention projection it finds (q/k/v/o across model families)."""
    from peft import LoraConfig, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = sorted(names & {"q_proj", "k_proj", "v_proj", "o_proj", "c_attn", "query", "value"})
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.05,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def lora_fine_tune(
    classifier: LLMClassifier, train: pd.DataFrame, settings: LLMSettings, batch_size: int = 4
) -> float:
    """Train the adapters on prompt -> label, loss on the label tokens only; return seconds."""
    classifier.model = add_lora(classifier.model, settings.lora_rank)
    optimizer = torch.optim.AdamW(
        [p for p in classifier.model.parameters() if p.requires_grad],
        lr=settings.llm_learning_rate,
    )
    pairs = list(zip(train[TEXT], train[LABEL], strict=True))
    start = time.perf_counter()
    classifier.model.train()
    for epoch in range(1, settings.llm_epochs + 1):
        random.Random(settings.seed + epoch).shuffle(pairs)
        bar = tqdm(range(0, len(pairs), batch_size), desc=f"LoRA epoch {epoch}", unit="batch")
        for i in bar:
            batch = classifier._batch(
                [classifier._encode(t, y) for t, y in pairs[i : i + batch_size]]
            )
            loss = classifier.model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    classifier.model.eval()
    return time.perf_counter() - start


def run(settings: LLMSettings) -> dict[str, float]:
    """Few-shot prompting vs LoRA vs the served encoder on the same test texts, logged to
    one MLflow run."""
    from ..train import seed_everything  # only here: the LLM track is run on its own

    seed_everything(settings.seed)
    tracking.configure()
    splits = data.split(data.load(settings), settings)
    train = splits.train.head(settings.llm_train_size)
    test = splits.test.head(settings.llm_test_size)
    shots = _shots(splits.train, splits.labels, settings.llm_shots, settings.seed)
    model, tokenizer = load_causal_lm(settings.base_model, settings.base_model_revision)
    classifier = LLMClassifier(model, tokenizer, splits.labels, shots)
    y_true = test[LABEL].tolist()
    with mlflow.start_run(run_name="llm"):
        mlflow.log_params(
            {"base_model": settings.base_model, "shots": len(shots), "n_test": len(test)}
        )
        encoder = _served_encoder(settings, splits, test)
        before = metrics.scores(y_true, classifier.predict(test[TEXT].tolist()), "test")
        seconds = lora_fine_tune(classifier, train, settings)
        trainable = sum(p.numel() for p in classifier.model.parameters() if p.requires_grad)
        after = metrics.scores(y_true, classifier.predict(test[TEXT].tolist()), "test")
        scores = {
            **{f"llm_prompted.{k}": v for k, v in before.items()},
            **{f"llm_lora.{k}": v for k, v in after.items()},
            "llm_lora.train_seconds": seconds,
            "llm_lora.trainable_params": trainable,
            **{f"encoder.{k}": v for k, v in encoder.items()},
        }
        mlflow.log_metrics(scores)
    print("  ".join(f"{key} {value:.4g}" for key, value in scores.items()))
    return scores


def _served_encoder(settings: Settings, splits: Splits, test: pd.DataFrame) -> dict[str, float]:
    """The served fine-tuned encoder scored on the same test texts as the LLM, so the
    write-up compares like with like; empty when there is none or it was tested on other
    rows (``make train`` with other split settings)."""
    try:
        predictor, run = evaluate.served_model(settings)
    except evaluate.EvaluateError as error:
        print(f"the encoder is not compared on these rows: {error}")
        return {}
    if run.get("test_split_sha256") != splits.fingerprint("test"):
        print("the encoder is not compared on these rows: it was tested on other rows")
        return {}
    mlflow.log_param("encoder_run_id", run.get("run_id"))
    return metrics.scores(test[LABEL].tolist(), predictor.predict(test[TEXT].tolist()), "test")


def _shots(train: pd.DataFrame, labels: list[str], n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` solved examples, labels taken in turn so the prompt shows every class."""
    rng = random.Random(seed)
    by_label = {label: train[train[LABEL] == label][TEXT].tolist() for label in labels}
    return [
        (rng.choice(by_label[labels[i % len(labels)]]), labels[i % len(labels)]) for i in range(n)
    ]


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description="LLM track: few-shot prompting vs LoRA").parse_args(argv)
    run(LLMSettings())


if __name__ == "__main__":
    main()
