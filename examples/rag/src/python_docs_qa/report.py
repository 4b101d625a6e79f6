"""Fill the README's machine-written blocks from the MLflow run that scored the served index.

``make report`` reads the run id ``make train`` wrote beside the index, rewrites only what
sits between ``<!-- auto:NAME -->`` markers in README.md (the corpus card, the retriever
comparison, the headline number and the interview questions answered from the run,
``ops/question_table.py``) and writes ``reports/walkthrough.json`` for
``mlportfolio check``. Every number comes from that run (and from ``reports/bench.json``
once ``make bench`` has run); running it twice changes nothing.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .config import PROJECT_ROOT, Settings
from .evaluate import MODES, table
from .ops import question_table, tracking
from .ops.readme_blocks import SUMMARY_FILE, ReadmeBlockError, markdown_table, publish
from .retrieval import EVALUATION_FILE

REPRODUCE = "make install train report"
NAMES = {"bm25": "BM25", "dense": "dense (MiniLM)", "hybrid": "hybrid (BM25 + dense)"}


class ReportError(RuntimeError):
    """There is nothing to report yet, or the README cannot take the report."""


@dataclass(frozen=True)
class RunFacts:
    """What the README says about one evaluation run."""

    run_id: str
    metrics: dict[str, float]
    params: dict[str, str]

    def metric(self, mode: str, name: str) -> float:
        return self.metrics[f"test_{name}_{mode}"]

    def p_value(self) -> float:
        """The paired test of the served retriever's recall@5 against the baseline's."""
        return self.metrics.get(f"test_recall_at_5_mcnemar_p_vs_{self.baseline}", 1.0)

    @property
    def selected(self) -> str:
        return self.params.get("retriever", "hybrid")

    @property
    def baseline(self) -> str:
        """What the README compares the served retriever with: BM25, the classic keyword
        search an interviewer knows (dense when BM25 is served). The table beside it shows
        every retriever, so a stronger one is never hidden."""
        return "bm25" if self.selected != "bm25" else "dense"


def find_run(client: MlflowClient, settings: Settings) -> RunFacts:
    """The ``make train`` run that scored the index on disk (the one ``make serve`` serves)."""
    try:
        record = json.loads((settings.path(settings.index_dir) / EVALUATION_FILE).read_text())
        run = client.get_run(record["run_id"])
    except (OSError, ValueError, KeyError, MlflowException):
        raise ReportError("no evaluated index: run `make train` first") from None
    return RunFacts(run.info.run_id, dict(run.data.metrics), dict(run.data.params))


def read_bench(settings: Settings) -> dict[str, dict[str, float]]:
    """``make bench`` results, or nothing before the first bench."""
    try:
        data: dict[str, dict[str, float]] = json.loads(
            (settings.path(settings.reports_dir) / "bench.json").read_text()
        )
    except (OSError, ValueError):
        return {}
    return data


def dataset_block(facts: RunFacts, settings: Settings) -> str:
    """The corpus card: what was indexed and what it was evaluated with."""
    metrics, params = facts.metrics, facts.params
    if (settings.path(settings.corpus_dir) / "faq" / "programming.rst").is_file():
        corpus = (
            "Python 3.11 documentation (PSF licence, `data/python-docs.LICENSE`): the FAQ, "
            "the tutorial, the glossary and the most-linked library pages"
        )
    else:
        corpus = f"your documents in `{settings.corpus_dir.as_posix()}`"
    split = (
        f"{int(metrics['n_questions'])} test + {int(metrics['n_dev_questions'])} dev "
        "(dev chose the fusion weight)"
    )
    if params.get("eval_set") == "file":
        questions = (
            f"{split}, from `{params.get('eval_file')}`, each with the section that answers it"
        )
    else:
        questions = (
            f"{split}, synthetic (sentences sampled from the corpus and cut from the index "
            "searched; write real ones in data/eval/questions.jsonl)"
        )
    rows = [
        ("corpus", corpus),
        ("index", f"{int(metrics['n_passages']):,} passages from {int(metrics['n_sources'])} "
                  f"sources, about {params.get('chunk_words')} words each "
                  f"({params.get('overlap_words')} overlap)"),
        ("questions", questions),
        ("embedding model", f"{params.get('embedding_model')}, "
                            f"{params.get('max_seq_length')} tokens per passage"),
        ("ingest", f"{metrics['ingest_seconds']:.0f} s for the last index build"),
    ]  # fmt: skip
    return markdown_table(("", ""), rows)


def comparison_block(facts: RunFacts, bench: dict[str, dict[str, float]]) -> str:
    """The three retrievers side by side, answer quality, and latency when benched."""
    text = table(facts.metrics)
    text += (
        f"\n\nServed: **{facts.selected}** (fixed in config.py, not picked by these numbers), "
        f"dense weight w={facts.params.get('dense_weight')} chosen on the dev split. Answers "
        f"quoting a gold passage: {facts.metrics['test_answer_cites_gold']:.3f}; refused: "
        f"{facts.metrics['test_refusal_rate']:.3f} (thresholds: passage "
        f"{facts.params.get('min_confidence')}, sentence "
        f"{facts.params.get('min_sentence_similarity')}; fixed)."
    )
    if bench:
        latency = [
            "| retriever | retrieval p50 ms | /ask p50 ms | /ask p99 ms |",
            "|---|---|---|---|",
        ]
        for mode in MODES:
            retrieval, ask = bench[f"retrieval_{mode}"], bench[f"ask_{mode}"]
            latency.append(
                f"| {mode} | {retrieval['p50_ms']:.1f} | {ask['p50_ms']:.1f} "
                f"| {ask['p99_ms']:.1f} |"
            )
        text += "\n\nLatency (`make bench`):\n\n" + "\n".join(latency)
    return text


def headline_block(facts: RunFacts) -> str:
    """One sentence with the headline number, its baseline and where it comes from."""
    ours = facts.metric(facts.selected, "recall_at_5")
    base = facts.metric(facts.baseline, "recall_at_5")
    return (
        f"**Recall@5 {ours:.3f}** for {NAMES[facts.selected]} retrieval vs {base:.3f} for "
        f"{NAMES[facts.baseline]} alone, on the {int(facts.metrics['n_questions'])}-question "
        f"test split (`{facts.params.get('eval_file')}`; exact McNemar p = "
        f"{facts.p_value():.2g}).\n\n"
        f"MLflow run `{facts.run_id}`; reproduce with `{REPRODUCE}`."
    )


def resume_bullets(facts: RunFacts, bench: dict[str, dict[str, float]]) -> list[str]:
    """Two resume lines built only from the run's (and the bench's) numbers.

    The first claims the served retriever's lead over the baseline only when it has one
    and the paired test backs it (p < 0.05); otherwise it names the retriever that led.
    """
    ours = facts.metric(facts.selected, "recall_at_5")
    base = facts.metric(facts.baseline, "recall_at_5")
    passages, questions = int(facts.metrics["n_passages"]), int(facts.metrics["n_questions"])
    if ours > base and facts.p_value() < 0.05:
        result = (
            f"{NAMES[facts.selected]} recall@5 {ours:.3f} vs {base:.3f} "
            f"{NAMES[facts.baseline]}-only on {questions} test questions "
            f"(McNemar p = {facts.p_value():.2g})"
        )
    else:
        best = max(NAMES, key=lambda mode: facts.metric(mode, "recall_at_5"))
        result = (
            f"BM25, dense and hybrid retrieval compared on {questions} test questions, "
            f"{NAMES[best]} leading recall@5 at {facts.metric(best, 'recall_at_5'):.3f}"
        )
    first = (
        f"Built a retrieval-augmented QA service over {passages:,} document passages: "
        f"{result}, answers with numbered citations and refusal below a similarity threshold."
    )
    if bench:
        ask = bench[f"ask_{facts.selected}"]
        second = (
            f"Served it offline over FastAPI with a CSP-locked web page: /ask p50 "
            f"{ask['p50_ms']:.1f} ms, p99 {ask['p99_ms']:.1f} ms on CPU; every evaluation "
            "tracked in MLflow."
        )
    else:
        second = (
            "Tracked every evaluation (BM25, dense and hybrid recall@k, MRR) in MLflow and "
            f"cached embeddings per document: first ingest {facts.metrics['ingest_seconds']:.0f} s."
        )
    return [first, second]


def quotable_metrics(facts: RunFacts, bench: dict[str, dict[str, float]]) -> dict[str, float]:
    """The numbers a user may quote."""
    quotable = dict(facts.metrics)
    for name, values in bench.items():
        if name != "setup":
            quotable.update({f"bench.{name}.{key}": value for key, value in values.items()})
    return quotable


def report(settings: Settings, readme: Path) -> tuple[RunFacts, bool]:
    """Fill ``readme`` and the summary file; return the facts used and whether README changed."""
    tracking.configure()
    facts = find_run(MlflowClient(), settings)
    bench = read_bench(settings)
    blocks = {
        "dataset": dataset_block(facts, settings),
        "comparison": comparison_block(facts, bench),
        "headline": headline_block(facts),
    }
    try:
        changed = publish(
            readme,
            blocks,
            summary=PROJECT_ROOT / SUMMARY_FILE,
            run_id=facts.run_id,
            metrics=quotable_metrics(facts, bench),
            resume_bullets=resume_bullets(facts, bench),
            answers=question_table.answers(facts.metrics, facts.params, bench, settings),
        )
    except ReadmeBlockError as error:
        raise ReportError(str(error)) from error
    return facts, changed


def main() -> None:
    """``make report``: print what was filled, or one line saying what is missing."""
    try:
        facts, changed = report(Settings(), PROJECT_ROOT / "README.md")
    except ReportError as error:
        sys.exit(f"error: {error}")
    state = "updated" if changed else "already up to date"
    print(f"README.md {state} from MLflow run {facts.run_id}")


if __name__ == "__main__":
    main()
