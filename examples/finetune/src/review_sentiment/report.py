"""``make report``: README's machine-written blocks, ``reports/walkthrough.json`` and
WRITEUP.md, all from the champion's (or the latest) MLflow run.

README.md changes only between ``<!-- auto:NAME -->`` markers (the dataset card, the
comparison table, the headline and the question table, ``ops/question_table.py``);
``reports/walkthrough.json`` holds the numbers ``mlportfolio check`` lets you quote and
two resume lines; WRITEUP.md is the long form (``writeup.py``). Every number comes from
the run, the latest ``make bench`` of the same model, or the data file, and every claim
from ``findings.py``; running it twice changes nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from . import data, writeup
from .config import PROJECT_ROOT, Settings
from .findings import (
    SHORT,
    Facts,
    ReportError,
    comparison_table,
    load_facts,
    p_text,
    significance,
)
from .ops import question_table, tracking
from .ops.readme_blocks import SUMMARY_FILE, ReadmeBlockError, markdown_table, publish

BENCH = {  # metric prefix of a `make bench` run -> row title
    "frozen_MiniLM_plus_LR": "frozen MiniLM + LR",
    "fine-tuned_fp32": "fine-tuned, fp32 (served)",
    "fine-tuned_int8": "fine-tuned, dynamic int8",
}
REPRODUCE = "make install train report"


def dataset_block(settings: Settings, facts: Facts, frame: pd.DataFrame) -> str:
    """The dataset card: where the texts come from, how many, how balanced, how long."""
    shares = label_shares(frame)
    words = frame[data.TEXT].str.split().str.len().median()
    source = settings.data_file.with_name(settings.data_file.stem + ".SOURCE.md")
    provenance = f" ([source and licence]({_relative(source)}))" if source.exists() else ""
    balance = ", ".join(f"`{label}` {share:.1%}" for label, share in shares.items())
    rows = [
        ("data", f"`{_relative(settings.data_file)}`{provenance}"),
        ("texts", f"{len(frame):,} after dropping empty and duplicate texts"),
        ("labels", balance),
        ("length", f"median {words:.0f} words per text"),
        (
            "splits",
            f"{facts.count('n_train')} train, {facts.count('n_val')} validation (decides), "
            f"{facts.count('n_test')} test (reported); stratified, seed "
            f"{facts.params.get('seed', '?')}",
        ),
    ]
    return markdown_table(("", ""), rows)


def comparison_block(facts: Facts) -> str:
    """WRITEUP's comparison table and, after `make bench`, what the served model costs."""
    text = comparison_table(facts) + (
        "\n\nSame rows for every model; ± is the test split's 95 percent interval. The "
        "fine-tuned model is served; [WRITEUP.md](WRITEUP.md) has the verdict."
    )
    if not facts.bench:
        return text + "\n\nRun `make bench report` to add the serving cost: fp32 vs int8."
    bench = [
        (title, *(f"{facts.bench[f'{key}.{m}']:{f}}" for m, f in _BENCH_COLUMNS))
        for key, title in BENCH.items()
        if f"{key}.accuracy" in facts.bench
    ]
    header = ("serving variant (`make bench`)", "accuracy", "p50 ms", "p99 ms", "texts/s batched")
    return f"{text}\n\n{markdown_table(header, bench)}\n\nBench: MLflow run `{facts.bench_run_id}`."


_BENCH_COLUMNS = (("accuracy", ".3f"), ("p50_ms", ".1f"), ("p99_ms", ".1f"), ("texts_per_s", ".0f"))


def headline_block(facts: Facts) -> str:
    """The headline number, its baselines, the paired test, and where it comes from."""
    parts = [f"**Test accuracy {facts.score('finetuned'):.3f}** for MiniLM fine-tuned end to end"]
    if (before := facts.score("frozen_lr")) is not None:
        parts.append(f"vs {before:.3f} for the same encoder frozen + logistic regression")
    if (tfidf := facts.score("tfidf_lr")) is not None:
        parts.append(f"and {tfidf:.3f} for TF-IDF + logistic regression")
    sig = significance(facts)
    claim = ""
    if sig is not None:
        verdict = "significant" if sig.significant else "no significant difference"
        claim = f" Against {SHORT[sig.rival]}: McNemar p={p_text(sig.p_value)}, {verdict}."
    return (
        " ".join(parts)
        + f", on {facts.count('n_test')} test texts no model trained on or was chosen on."
        f"{claim}\n\n"
        + f"MLflow run `{facts.run_id}` ({facts.source}); reproduce with `{REPRODUCE}`."
    )


def resume_bullets(facts: Facts) -> list[str]:
    """Two resume lines built only from the run's (and its bench's) numbers: the first
    claims a win only when McNemar's test on the test rows supports it."""
    texts = f"on {facts.count('n_train')} labelled texts on a CPU"
    after = facts.score("finetuned") or 0.0
    sig = significance(facts)
    if sig is None:
        result = (
            f"Fine-tuned the open-weight all-MiniLM-L6-v2 encoder {texts}: "
            f"test accuracy {after:.3f}"
        )
    elif sig.significant and sig.finetuned > sig.baseline:
        result = (
            f"Fine-tuned the open-weight all-MiniLM-L6-v2 encoder {texts}: test accuracy "
            f"{after:.3f} vs {sig.baseline:.3f} for {SHORT[sig.rival]} (McNemar "
            f"p={p_text(sig.p_value)})"
        )
    else:
        verdict = "won" if sig.significant else "was not significantly different"
        result = (
            f"Compared fine-tuning the open-weight all-MiniLM-L6-v2 encoder with cheaper "
            f"baselines {texts}: {SHORT[sig.rival]} {verdict} (test accuracy "
            f"{sig.baseline:.3f} vs {after:.3f} fine-tuned, McNemar p={p_text(sig.p_value)})"
        )
    if (lora := facts.score("lora")) is not None:
        result += f"; LoRA reached {lora:.3f} training {facts.lora_share or 0:.1%} of the weights"
    first = f"{result}, tracked in MLflow with a `champion` registry alias."
    b = facts.bench
    if "fine-tuned_fp32.p50_ms" in b and "fine-tuned_int8.p50_ms" in b:
        second = (
            f"Served it over FastAPI with batched inference at "
            f"{b['fine-tuned_fp32.texts_per_s']:.0f} texts/s and p99 "
            f"{b['fine-tuned_fp32.p99_ms']:.1f} ms per text on {facts.bench_threads} CPU "
            f"thread(s); dynamic int8 "
            f"quantisation cut p50 latency from {b['fine-tuned_fp32.p50_ms']:.1f} to "
            f"{b['fine-tuned_int8.p50_ms']:.1f} ms at accuracy "
            f"{b['fine-tuned_int8.accuracy']:.3f} vs {b['fine-tuned_fp32.accuracy']:.3f}."
        )
    else:
        second = (
            "Served it over FastAPI with bounded inputs, batched inference and new model "
            "versions swapped in without a restart."
        )
    return [first, second]


def label_shares(frame: pd.DataFrame) -> dict[str, float]:
    """Share of each label in the data (after dropping empty and duplicate texts)."""
    return {str(k): float(v) for k, v in frame[data.LABEL].value_counts(normalize=True).items()}


def quotable_metrics(facts: Facts, shares: dict[str, float]) -> dict[str, float]:
    """The numbers a user may quote, named as in the tables (and the gains between them)."""
    keys = ("val_macro_f1", "test_accuracy", "test_accuracy_ci95", "test_macro_f1",
            "train_seconds")  # fmt: skip
    quotable = {
        f"{name}.{key}": facts.metrics[f"{name}.{key}"]
        for name in facts.models
        for key in keys
        if f"{name}.{key}" in facts.metrics
    }
    if facts.lora_share is not None:
        quotable["lora.trainable_share"] = facts.lora_share
    after = facts.score("finetuned") or 0.0
    for name in ("frozen_lr", "tfidf_lr", "lora"):
        if (other := facts.score(name)) is not None:
            quotable[f"gain.finetuned_vs_{name}"] = after - other
    if "mcnemar.p_value" in facts.metrics:
        quotable["mcnemar.p_value"] = facts.metrics["mcnemar.p_value"]
    quotable.update({f"bench.{key}": value for key, value in facts.bench.items()})
    quotable.update({f"data.share.{label}": share for label, share in shares.items()})
    return quotable


def report(
    settings: Settings, readme: Path, summary: Path = PROJECT_ROOT / SUMMARY_FILE
) -> tuple[Facts, bool]:
    """Fill ``readme``, ``summary`` and WRITEUP.md; return the facts and whether README
    changed."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", tracking.DEFAULT_TRACKING_URI)
    if uri == tracking.DEFAULT_TRACKING_URI and not (PROJECT_ROOT / "mlflow.db").exists():
        raise ReportError("no MLflow runs yet (no mlflow.db): run `make train` first")
    client = MlflowClient(tracking_uri=uri)
    facts = load_facts(client, settings.model_name)
    frame = data.load(settings)
    shares = label_shares(frame)
    blocks = {
        "dataset": dataset_block(settings, facts, frame),
        "comparison": comparison_block(facts),
        "headline": headline_block(facts),
    }
    try:
        changed = publish(
            readme,
            blocks,
            summary=summary,
            run_id=facts.run_id,
            metrics=quotable_metrics(facts, shares),
            resume_bullets=resume_bullets(facts),
            answers=question_table.answers(facts),
        )
    except ReadmeBlockError as error:
        raise ReportError(str(error)) from error
    writeup.write(settings, client, facts)
    return facts, changed


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def main() -> None:
    """Print what was filled, or one line saying what is missing."""
    settings = Settings()
    try:
        facts, changed = report(settings, PROJECT_ROOT / "README.md")
    except (ReportError, data.DataError) as error:
        sys.exit(f"error: {error}")
    state = "updated" if changed else "already up to date"
    print(f"README.md {state} from MLflow run {facts.run_id} ({facts.source})")
    print(f"wrote {settings.writeup_file} and {SUMMARY_FILE}")


if __name__ == "__main__":
    main()
