"""What one training run supports saying: the facts ``make report`` writes, decided once.

README's blocks, ``reports/walkthrough.json`` and WRITEUP.md are all written from the
``Facts`` of one MLflow run (the champion's, else the latest), with the ``make bench`` of
its model and the newest ``make train-llm`` run. README and WRITEUP share one comparison
table (``comparison_table``), and every claim in them comes from the two functions here,
so they can never disagree:

- ``recommend``: which model is worth deploying, decided on the **validation** split: the
  cheapest to train whose validation macro-F1 is within ``WORTH_IT`` of the best one.
- ``significance``: is the fine-tuned model's test accuracy really different from its
  strongest baseline's? McNemar's test on the same test rows (``metrics.mcnemar``);
  below ``ALPHA`` the gap is called significant, otherwise "no significant difference".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from .ops import champion
from .ops.readme_blocks import markdown_table

MODELS = {  # metric prefix -> what the model is
    "majority": "majority class (most frequent training label)",
    "tfidf_lr": "TF-IDF + logistic regression",
    "frozen_lr": "frozen MiniLM embeddings + LR (before)",
    "finetuned": "MiniLM fine-tuned end to end (after)",
    "lora": "MiniLM + LoRA adapters",
}
# The models `recommend` picks from. It ranks them by this run's measured `train_seconds`
# (this order breaks ties and stands in for a run that lacks them); TF-IDF is also far the
# cheapest to serve, the other three serve at one pass through the same encoder. The
# majority class is the floor every model is read against, never a candidate.
SHORT = {
    "tfidf_lr": "TF-IDF + LR",
    "frozen_lr": "frozen embeddings + LR",
    "lora": "LoRA on the frozen encoder",
    "finetuned": "the fine-tuned encoder",
}
# Validation macro-F1 a costlier model must add to be worth deploying. A stated choice, not
# a measurement: one point is the smallest gain worth more training. Its consequence: gaps
# under it are ties the cheaper model wins, and a gap above it may still be chance, since
# one validation score moves by its 95% interval (`val_accuracy_ci95`, printed beside it).
WORTH_IT = 0.01
ALPHA = 0.05


class ReportError(RuntimeError):
    """There is nothing to report yet, or the README cannot take the report."""


@dataclass(frozen=True)
class Facts:
    """One training run's metrics and params (and the bench of its model, if any)."""

    run_id: str
    source: str  # "champion vN" or "latest run"
    metrics: dict[str, float]
    params: dict[str, str]
    bench: dict[str, float]
    bench_run_id: str | None
    bench_threads: str = "1"  # torch threads the bench ran with
    llm: dict[str, str | float] | None = None  # the newest `make train-llm` run

    def score(self, model: str, key: str = "test_accuracy") -> float | None:
        return self.metrics.get(f"{model}.{key}")

    @property
    def models(self) -> list[str]:
        """The models this run scored, in table order."""
        return [name for name in MODELS if self.score(name) is not None]

    @property
    def lora_share(self) -> float | None:
        """LoRA's trainable weights as a share of the full fine-tune's (None without LoRA)."""
        lora = self.score("lora", "trainable_params")
        return None if lora is None else lora / (self.score("finetuned", "trainable_params") or 1)

    def count(self, param: str) -> str:
        value = self.params.get(param, "?")
        return f"{int(value):,}" if value.isdigit() else value


@dataclass(frozen=True)
class Recommendation:
    model: str  # the model worth deploying
    best: str  # the best on validation
    gain_over_frozen: float  # validation macro-F1 that fine-tuning added
    val_noise: float  # the best model's validation accuracy 95% interval: chance's reach


@dataclass(frozen=True)
class Significance:
    rival: str  # the strongest baseline, picked on validation
    finetuned: float  # test accuracy
    baseline: float
    p_value: float
    only_finetuned: int  # test rows only the fine-tuned model got right
    only_baseline: int

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def recommend(facts: Facts) -> Recommendation:
    """The model that took least time to train in this run, among those within
    ``WORTH_IT`` validation macro-F1 of the best."""
    val = {name: facts.score(name, "val_macro_f1") for name in SHORT}
    scored = {name: value for name, value in val.items() if value is not None}
    best = max(scored, key=scored.__getitem__)
    by_cost = sorted(scored, key=lambda name: facts.score(name, "train_seconds") or math.inf)
    chosen = next(name for name in by_cost if scored[name] >= scored[best] - WORTH_IT)
    gain = scored.get("finetuned", 0.0) - scored.get("frozen_lr", 0.0)
    return Recommendation(chosen, best, gain, facts.score(best, "val_accuracy_ci95") or 0.0)


def significance(facts: Facts) -> Significance | None:
    """Fine-tuned vs its strongest baseline on the test rows (None if the run lacks it)."""
    rival = facts.params.get("mcnemar_baseline")
    if rival is None or "mcnemar.p_value" not in facts.metrics:
        return None
    return Significance(
        rival=rival,
        finetuned=facts.score("finetuned") or 0.0,
        baseline=facts.score(rival) or 0.0,
        p_value=facts.metrics["mcnemar.p_value"],
        only_finetuned=int(facts.metrics.get("mcnemar.only_finetuned_right", 0)),
        only_baseline=int(facts.metrics.get("mcnemar.only_baseline_right", 0)),
    )


def p_text(p_value: float) -> str:
    """A p-value as prose prints it (tiny ones in scientific notation)."""
    return f"{p_value:.3f}" if p_value >= 0.001 else f"{p_value:.0e}"


def claim_on_test(sig: Significance) -> str:
    """The test-split comparison, with its paired test, in one sentence."""
    versus = (
        f"test accuracy {sig.finetuned:.3f} for the fine-tuned encoder against "
        f"{sig.baseline:.3f} for {SHORT[sig.rival]}, its strongest baseline on validation "
        f"(McNemar mid-p {p_text(sig.p_value)} on the same test rows: "
        f"{sig.only_finetuned} texts only the fine-tune got right, {sig.only_baseline} only "
        "the baseline)"
    )
    if not sig.significant:
        return f"No significant difference: {versus}."
    leader = "the fine-tuned encoder" if sig.finetuned > sig.baseline else SHORT[sig.rival]
    return f"A significant difference in favour of {leader}: {versus}."


def comparison_table(facts: Facts) -> str:
    """Every model of the run on the same rows, with what it cost to train."""
    header = ("model", "val macro F1", "test accuracy ± CI", "test macro F1", "train s",
              "trainable params")  # fmt: skip
    rows = []
    for name in facts.models:
        seconds = facts.score(name, "train_seconds") or 0.0
        rows.append(
            (
                f"**{MODELS[name]}**" if name == "finetuned" else MODELS[name],
                f"{facts.score(name, 'val_macro_f1') or 0:.3f}",
                f"{facts.score(name):.3f} ± {facts.score(name, 'test_accuracy_ci95') or 0:.3f}",
                f"{facts.score(name, 'test_macro_f1') or 0:.3f}",
                f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}",
                f"{int(facts.score(name, 'trainable_params') or 0):,}",
            )
        )
    return markdown_table(header, rows)


def load_facts(client: MlflowClient, model_name: str) -> Facts:
    """The facts of the champion's run (else the latest run), with its model's bench and
    the newest LLM-track run."""
    run, source = _find_run(client, model_name)
    bench = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"params.model_run_id = '{run.info.run_id}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return Facts(
        run_id=run.info.run_id,
        source=source,
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
        bench=dict(bench[0].data.metrics) if bench else {},
        bench_run_id=bench[0].info.run_id if bench else None,
        bench_threads=bench[0].data.params.get("threads", "1") if bench else "1",
        llm=_llm_run(client, run.info.experiment_id),
    )


def _llm_run(client: MlflowClient, experiment_id: str) -> dict[str, str | float] | None:
    """The newest finished ``make train-llm`` run (``ops/llm.py``), params and metrics."""
    runs = client.search_runs(
        [experiment_id],
        filter_string="tags.mlflow.runName = 'llm' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None
    return {"run_id": runs[0].info.run_id, **runs[0].data.params, **runs[0].data.metrics}


def _find_run(client: MlflowClient, model_name: str) -> tuple[Run, str]:
    found = champion.served_run(client, model_name, "finetuned.test_accuracy")
    if found is None:
        raise ReportError("no training run found: run `make train` first")
    return found
