"""Fill the README's machine-written blocks from the champion's (or latest) MLflow run.

``make report`` rewrites only what sits between ``<!-- auto:NAME -->`` markers in
README.md (the dataset card, the before/after comparison and the headline number) and
writes ``reports/walkthrough.json`` for ``mlportfolio check``. Every number comes from the
run, the latest ``make bench`` of the same model, or the data file; running it twice
changes nothing.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from . import data, tracking
from .config import PROJECT_ROOT, Settings
from .readme_blocks import SUMMARY_FILE, ReadmeBlockError, update_readme, write_summary

MODELS = {
    "tfidf_lr": "TF-IDF + logistic regression",
    "frozen_lr": "frozen MiniLM embeddings + LR (before)",
    "finetuned": "MiniLM fine-tuned end to end (after)",
    "lora": "MiniLM + LoRA adapters",
}
BENCH = {  # metric prefix of a `make bench` run -> row title
    "frozen_MiniLM_plus_LR": "frozen MiniLM + LR",
    "fine-tuned_fp32": "fine-tuned, fp32 (served)",
    "fine-tuned_int8": "fine-tuned, dynamic int8",
}
REPRODUCE = "make install train report"


class ReportError(RuntimeError):
    """There is nothing to report yet, or the README cannot take the report."""


@dataclass(frozen=True)
class RunFacts:
    """What the README says about one training run (and the bench of its model, if any)."""

    run_id: str
    source: str  # "champion vN" or "latest run"
    metrics: dict[str, float]
    params: dict[str, str]
    bench: dict[str, float]
    bench_run_id: str | None

    def score(self, model: str, key: str = "test_accuracy") -> float | None:
        return self.metrics.get(f"{model}.{key}")

    @property
    def models(self) -> list[str]:
        """The models this run scored, in table order."""
        return [name for name in MODELS if self.score(name) is not None]

    def count(self, param: str) -> str:
        value = self.params.get(param, "?")
        return f"{int(value):,}" if value.isdigit() else value


def find_run(client: MlflowClient) -> tuple[Run, str]:
    """The run behind the ``champion`` alias, else the latest run that scored a fine-tune."""
    try:
        version = client.get_model_version_by_alias(tracking.MODEL_NAME, tracking.CHAMPION)
        return client.get_run(version.run_id), f"champion v{version.version}"
    except MlflowException:
        pass
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    runs = (
        client.search_runs(
            [experiment.experiment_id],
            filter_string="metrics.`finetuned.test_accuracy` >= 0",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if experiment is not None
        else []
    )
    if not runs:
        raise ReportError("no training run found: run `make train` first")
    return runs[0], "latest run"


def find_bench(client: MlflowClient, run: Run) -> Run | None:
    """The newest ``make bench`` run that measured this run's model."""
    runs = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"params.model_run_id = '{run.info.run_id}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def run_facts(client: MlflowClient) -> RunFacts:
    run, source = find_run(client)
    bench = find_bench(client, run)
    return RunFacts(
        run_id=run.info.run_id,
        source=source,
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
        bench=dict(bench.data.metrics) if bench else {},
        bench_run_id=bench.info.run_id if bench else None,
    )


def label_shares(settings: Settings) -> dict[str, float]:
    """Share of each label in the data file (after dropping empty and duplicate texts)."""
    frame = data.load(settings)
    return {str(k): float(v) for k, v in frame[data.LABEL].value_counts(normalize=True).items()}


def dataset_block(settings: Settings, facts: RunFacts, shares: dict[str, float]) -> str:
    """The dataset card: where the texts come from, how many, how balanced, how long."""
    frame = data.load(settings)
    words = frame[data.TEXT].str.split().str.len().median()
    source = settings.data_file.with_name(settings.data_file.stem + ".SOURCE.md")
    relative = _relative(settings.data_file)
    provenance = f" ([source and licence]({_relative(source)}))" if source.exists() else ""
    balance = ", ".join(f"`{label}` {share:.1%}" for label, share in shares.items())
    rows = [
        ("data", f"`{relative}`{provenance}"),
        ("texts", f"{len(frame):,} after dropping empty and duplicate texts"),
        ("labels", balance),
        ("length", f"median {words:.0f} words per text"),
        (
            "splits",
            f"{facts.count('n_train')} train, {facts.count('n_val')} validation (early "
            f"stopping), {facts.count('n_test')} test (scored once); stratified, seed "
            f"{facts.params.get('seed', '?')}",
        ),
    ]
    return _table(("", ""), rows)


def comparison_block(facts: RunFacts) -> str:
    """Every model on the same test texts, with what it cost to train and to run."""
    header = (
        "model",
        "test accuracy ± CI",
        "test macro F1",
        "train s",
        "trainable params",
        "p50 ms/text",
    )
    rows = []
    for name in facts.models:
        train_seconds = facts.score(name, "train_seconds") or 0.0
        rows.append(
            (
                f"**{MODELS[name]}**" if name == "finetuned" else MODELS[name],
                f"{facts.score(name):.3f} ± {facts.score(name, 'test_accuracy_ci95') or 0:.3f}",
                f"{facts.score(name, 'test_macro_f1') or 0:.3f}",
                f"{train_seconds:.0f}" if train_seconds >= 10 else f"{train_seconds:.1f}",
                f"{int(facts.score(name, 'trainable_params') or 0):,}",
                f"{facts.score(name, 'latency_p50_ms') or 0:.1f}",
            )
        )
    text = _table(header, rows) + (
        f"\n\nSame {facts.count('n_train')} training texts and {facts.count('n_test')} test "
        "texts for every model; ± is the 95 percent interval that the test-set size allows. "
        "Latency on CPU, one text per call. The fine-tuned model is the one "
        "served and registered as `champion`; [WRITEUP.md](WRITEUP.md) has the learning "
        "curves, confusion matrix and ten real errors."
    )
    if facts.bench:
        text += "\n\n" + _bench_table(facts)
    else:
        text += "\n\nRun `make bench report` to add the serving cost: fp32 vs int8."
    return text


def _bench_table(facts: RunFacts) -> str:
    rows = [
        (
            title,
            f"{facts.bench[f'{key}.accuracy']:.3f}",
            f"{facts.bench[f'{key}.p50_ms']:.1f}",
            f"{facts.bench[f'{key}.p99_ms']:.1f}",
            f"{facts.bench[f'{key}.texts_per_s']:.0f}",
        )
        for key, title in BENCH.items()
        if f"{key}.accuracy" in facts.bench
    ]
    header = ("serving variant (`make bench`)", "accuracy", "p50 ms", "p99 ms", "texts/s batched")
    return _table(header, rows) + f"\n\nBench: MLflow run `{facts.bench_run_id}`."


def headline_block(facts: RunFacts) -> str:
    """One sentence with the headline number, its baselines and where it comes from."""
    after = facts.score("finetuned")
    parts = [f"**Test accuracy {after:.3f}** for MiniLM fine-tuned end to end"]
    if (before := facts.score("frozen_lr")) is not None:
        parts.append(f"vs {before:.3f} for the same encoder frozen + logistic regression")
    if (tfidf := facts.score("tfidf_lr")) is not None:
        parts.append(f"and {tfidf:.3f} for TF-IDF + logistic regression")
    return (
        " ".join(parts)
        + f", on the held-out test set of {facts.count('n_test')} texts that no model "
        "trained on or was tuned on.\n\n"
        + f"MLflow run `{facts.run_id}` ({facts.source}); reproduce with `{REPRODUCE}`."
    )


def resume_bullets(facts: RunFacts) -> list[str]:
    """Two resume lines built only from the run's (and its bench's) numbers.

    The first claims the fine-tune's win over the baselines only when it beat them all on
    the test split; otherwise it says which baseline won.
    """
    after = facts.score("finetuned") or 0.0
    baselines = {"frozen_lr": "frozen embeddings + logistic regression", "tfidf_lr": "TF-IDF"}
    scores = {name: score for name in baselines if (score := facts.score(name)) is not None}
    lora = ""
    if (lora_score := facts.score("lora")) is not None:
        share = (facts.score("lora", "trainable_params") or 0) / (
            facts.score("finetuned", "trainable_params") or 1
        )
        lora = f"; LoRA reached {lora_score:.3f} training {share:.1%} of the weights"
    texts = f"on {facts.count('n_train')} labelled texts on a CPU"
    if not scores or after > max(scores.values()):
        versus = " and ".join(f"{scores[name]:.3f} for {baselines[name]}" for name in scores)
        result = (
            f"Fine-tuned the open-weight all-MiniLM-L6-v2 encoder {texts}: "
            f"test accuracy {after:.3f}" + (f" vs {versus}" if versus else "")
        )
    else:
        best = max(scores, key=scores.__getitem__)
        result = (
            f"Compared fine-tuning the open-weight all-MiniLM-L6-v2 encoder with cheaper "
            f"baselines {texts}: {baselines[best]} won with test accuracy {scores[best]:.3f} "
            f"(fine-tuned {after:.3f})"
        )
    first = f"{result}{lora}, tracked in MLflow with a `champion` registry alias."
    fp32, int8 = "fine-tuned_fp32", "fine-tuned_int8"
    if f"{fp32}.p50_ms" in facts.bench and f"{int8}.p50_ms" in facts.bench:
        second = (
            f"Served it over FastAPI with batched inference at "
            f"{facts.bench[f'{fp32}.texts_per_s']:.0f} texts/s and p99 "
            f"{facts.bench[f'{fp32}.p99_ms']:.1f} ms per text on one CPU thread; dynamic int8 "
            f"quantisation cut p50 latency from {facts.bench[f'{fp32}.p50_ms']:.1f} to "
            f"{facts.bench[f'{int8}.p50_ms']:.1f} ms at accuracy "
            f"{facts.bench[f'{int8}.accuracy']:.3f} vs {facts.bench[f'{fp32}.accuracy']:.3f}."
        )
    else:
        second = (
            "Served it over FastAPI with bounded inputs and batched inference at p50 "
            f"{facts.score('finetuned', 'latency_p50_ms') or 0:.1f} ms and p99 "
            f"{facts.score('finetuned', 'latency_p99_ms') or 0:.1f} ms per text on one CPU "
            "thread."
        )
    return [first, second]


def quotable_metrics(facts: RunFacts, shares: dict[str, float]) -> dict[str, float]:
    """The numbers a user may quote, named as in the tables (and the gains between them)."""
    keys = (
        "test_accuracy",
        "test_accuracy_ci95",
        "test_macro_f1",
        "train_seconds",
        "latency_p50_ms",
        "latency_p99_ms",
    )
    quotable = {
        f"{name}.{key}": facts.metrics[f"{name}.{key}"]
        for name in facts.models
        for key in keys
        if f"{name}.{key}" in facts.metrics
    }
    if (lora_params := facts.score("lora", "trainable_params")) is not None:
        quotable["lora.trainable_share"] = lora_params / (
            facts.score("finetuned", "trainable_params") or 1
        )
    after = facts.score("finetuned") or 0.0
    for name in ("frozen_lr", "tfidf_lr", "lora"):
        if (other := facts.score(name)) is not None:
            quotable[f"gain.finetuned_vs_{name}"] = after - other
    quotable.update({f"bench.{key}": value for key, value in facts.bench.items()})
    quotable.update({f"data.share.{label}": share for label, share in shares.items()})
    return quotable


def report(
    settings: Settings, readme: Path, summary: Path = PROJECT_ROOT / SUMMARY_FILE
) -> tuple[RunFacts, bool]:
    """Fill ``readme`` and ``summary``; return the facts used and whether README changed."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", tracking.DEFAULT_TRACKING_URI)
    if uri == tracking.DEFAULT_TRACKING_URI and not (PROJECT_ROOT / "mlflow.db").exists():
        raise ReportError("no MLflow runs yet (no mlflow.db): run `make train` first")
    facts = run_facts(MlflowClient(tracking_uri=uri))
    shares = label_shares(settings)
    blocks = {
        "dataset": dataset_block(settings, facts, shares),
        "comparison": comparison_block(facts),
        "headline": headline_block(facts),
    }
    try:
        changed = update_readme(readme, blocks)
    except ReadmeBlockError as error:
        raise ReportError(str(error)) from error
    write_summary(
        summary,
        run_id=facts.run_id,
        metrics=quotable_metrics(facts, shares),
        resume_bullets=resume_bullets(facts),
    )
    return facts, changed


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    """``make report``: print what was filled, or one line saying what is missing."""
    try:
        facts, changed = report(Settings(), PROJECT_ROOT / "README.md")
    except (ReportError, data.DataError) as error:
        sys.exit(f"error: {error}")
    state = "updated" if changed else "already up to date"
    print(f"README.md {state} from MLflow run {facts.run_id} ({facts.source})")


if __name__ == "__main__":
    main()
