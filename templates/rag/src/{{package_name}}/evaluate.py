"""Stage 7, evaluate: the fusion weight chosen on dev questions, a report on test ones.

The questions are split once by a hash of their gold section, so the split is the same
on every run and no section straddles it. The **dev split** makes the one decision
evaluation owns: the fusion weight (``ops/fusion.py``), written beside the index for the
service. The **test split** decides nothing: each retriever's recall@1/5/10 and MRR@10
(a hit at k: a passage of the gold section in the top k), an exact McNemar p-value for
the served retriever's lead (``ops/significance.py``), and the served answers: the share
that quote a gold passage (cited ``[n]`` in the text, not merely listed) and the share
refused. Beside them: what the refusal threshold trades (``ops/refusal.py``) and whether
a planted "ignore your instructions" passage stays a quotation (``ops/injection.py``).
``make evaluate`` re-scores the served index and logs nothing; ``make train`` logs.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .answer import Assistant, Citation, build_assistant, cited_numbers
from .chunking import Passage
from .config import Mode, Settings
from .embeddings import ModelError
from .ingest import source_counts
from .ops import injection, refusal, synthetic
from .ops.fusion import FUSED_WEIGHTS, Fusion, choose_weight
from .ops.significance import mcnemar_p
from .retrieval import IndexMissingError, Retriever

MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
CUTOFFS = (1, 5, 10)
METRICS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10")


class EvalSetError(ValueError):
    """The eval file has a bad line, or none of its gold passages is indexed."""


@dataclass(frozen=True)
class Question:
    """One line of ``data/eval/questions.jsonl``: ``{"question": ..., "source":
    "faq/library.rst", "anchor": "how-do-i-copy-a-file"}`` (no anchor: the whole file)."""

    question: str
    source: str  # the file inside data/corpus
    anchor: str | None  # the section (heading slug or qualified name), None: the whole file

    def is_gold(self, passage: Passage | Citation) -> bool:
        """Whether ``passage`` (or a citation of one) is from the gold section (or file)."""
        return passage.source == self.source and self.anchor in (None, passage.anchor)


@dataclass(frozen=True)
class Evaluation:
    """The test split's metrics, the fusion chosen on dev, and where questions came from."""

    metrics: dict[str, float]
    eval_set: str  # "file" or "synthetic"
    skipped: int  # questions whose gold section is not in the index
    model_version: str  # the index scored
    fusion: Fusion
    refusal: refusal.Tradeoff

    def record(self, run_id: str | None) -> dict[str, Any]:
        """What was scored, and the numbers: ``reports/metrics.json`` and beside the index."""
        fusion = {"dense_weight": self.fusion.dense_weight, "reason": self.fusion.reason}
        return {"run_id": run_id, "model_version": self.model_version, "eval_set": self.eval_set,
                "fusion": fusion, "test_metrics": self.metrics}  # fmt: skip


def load_questions(path: Path) -> list[Question]:
    """Questions from a JSON-lines file (an empty list when there is no file)."""
    if not path.is_file():
        return []
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            if line.strip():
                row = json.loads(line)
                anchor = row.get("anchor")
                questions.append(Question(str(row["question"]), str(row["source"]),
                                          anchor and str(anchor)))  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EvalSetError(
                f"{path.name} line {number} is not "
                '{"question": ..., "source": ...} (plus "anchor" for one section): fix that line'
            ) from None
    return questions


def ranks(retriever: Retriever, questions: list[Question], mode: Mode) -> list[int | None]:
    """The rank of each question's first gold passage in the top 10 (None: not there)."""
    found = []
    for question in questions:
        hits = retriever.search(question.question, max(CUTOFFS), mode)
        found.append(next((r for r, h in enumerate(hits, 1) if question.is_gold(h.passage)), None))
    return found


def split(questions: list[Question], dev_fraction: float) -> tuple[list[Question], list[Question]]:
    """``(dev, test)``: a question is dev when a hash of its gold section falls in the
    first ``dev_fraction`` of the hash range, so adding questions moves none of the others."""

    def is_dev(question: Question) -> bool:
        key = f"{question.source}#{question.anchor or ''}".encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") / 2**32 < dev_fraction

    return [q for q in questions if is_dev(q)], [q for q in questions if not is_dev(q)]


def fit_fusion(retriever: Retriever, dev: list[Question], fixed: float | None) -> Fusion:
    """Rank the dev questions with every weight; ``ops/fusion.py`` chooses one."""
    reciprocal = {}
    for weight in (0.0, *FUSED_WEIGHTS, 1.0):
        found = ranks(retriever.with_dense_weight(weight), dev, "hybrid")
        reciprocal[weight] = [1 / r if r else 0.0 for r in found]
    return choose_weight(reciprocal, fixed)


def retrieval_metrics(found: list[int | None]) -> dict[str, float]:
    """recall@1/5/10 and MRR@10 from the gold ranks of one retriever."""
    n = max(len(found), 1)
    metrics = {f"recall_at_{c}": sum(r is not None and r <= c for r in found) / n for c in CUTOFFS}
    return {**metrics, "mrr_at_10": sum(1 / r for r in found if r is not None) / n}


def answer_metrics(assistant: Assistant, questions: list[Question]) -> dict[str, float]:
    """Share of answers that cite (quote, marked ``[n]``) a gold passage; share of refusals."""
    cited = refused = 0
    for question in questions:
        answer = assistant.ask(question.question)
        refused += answer.refused
        quoted = cited_numbers(answer.answer)
        cited += not answer.refused and any(
            c.n in quoted and question.is_gold(c) for c in answer.citations
        )
    n = max(len(questions), 1)
    return {"answer_cites_gold": cited / n, "refusal_rate": refused / n}


def scored_questions(
    settings: Settings, assistant: Assistant
) -> tuple[list[Question], str, int, Assistant]:
    """The eval file's questions whose gold is indexed (else synthetic ones), their kind,
    how many were skipped and the assistant to score."""
    questions = load_questions(settings.path(settings.eval_file))
    if not questions:
        rows, held_out = synthetic.cloze(assistant, settings)
        return [Question(*row) for row in rows], "synthetic", 0, held_out
    questions = questions[: settings.eval_limit] if settings.eval_limit else questions
    passages = assistant.retriever.index.passages
    indexed = {(p.source, p.anchor) for p in passages} | {(p.source, None) for p in passages}
    kept = [q for q in questions if (q.source, q.anchor) in indexed]
    if not kept:
        raise EvalSetError(
            f"no question of {settings.eval_file} has its gold passage in the index: check "
            "their source/anchor against data/processed/index/passages.jsonl"
        )
    return kept, "file", len(questions) - len(kept), assistant


def evaluate(settings: Settings, assistant: Assistant | None = None) -> Evaluation:
    """Choose the fusion weight on the dev split; score every retriever and the served
    assistant on the test split."""
    assistant = assistant or build_assistant(settings)
    questions, kind, skipped, scored = scored_questions(settings, assistant)
    dev, test = split(questions, settings.dev_fraction)
    fusion = fit_fusion(scored.retriever, dev, settings.dense_weight)
    scored = Assistant(scored.retriever.with_dense_weight(fusion.dense_weight), settings)
    manifest = scored.retriever.index.manifest
    metrics: dict[str, float] = {
        "n_questions": len(test),
        "n_dev_questions": len(dev),
        "n_passages": manifest["passages"],
        **source_counts(scored.retriever.index.passages),
        "ingest_seconds": manifest["ingest_seconds"],
        "dense_weight": fusion.dense_weight,
        **{f"dev_mrr_at_10_w{round(w * 100)}": mrr for w, mrr in fusion.dev_mrr.items()},
    }
    found = {mode: ranks(scored.retriever, test, mode) for mode in MODES}
    for mode in MODES:
        scores = retrieval_metrics(found[mode])
        metrics |= {f"test_{name}_{mode}": value for name, value in scores.items()}
        if mode == settings.retriever:  # the served retriever's numbers, unsuffixed too
            metrics |= {f"test_{name}": value for name, value in scores.items()}
        else:  # is the served retriever's recall@5 really different from this one's?
            p = mcnemar_p(found[settings.retriever], found[mode])
            metrics[f"test_recall_at_5_mcnemar_p_vs_{mode}"] = p
    for prefix, part in (("dev", dev), ("test", test)):  # on dev: what the gates cost
        metrics |= {f"{prefix}_{k}": v for k, v in answer_metrics(scored, part).items()}
    tradeoff = refusal.sweep(scored, [(q.question, q.source, q.anchor) for q in dev], settings)
    metrics |= tradeoff.metrics() | injection.probe(scored)
    return Evaluation(metrics, kind, skipped, scored.retriever.index.version, fusion, tradeoff)


def write_metrics(settings: Settings, evaluation: Evaluation, run_id: str | None) -> Path:
    """``reports/metrics.json``: what was scored, on which questions, and the numbers."""
    path = settings.path(settings.reports_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(evaluation.record(run_id), indent=2) + "\n")
    return path


def table(metrics: dict[str, float]) -> str:
    """The comparison as a Markdown table (also what ``make report`` puts in the README)."""
    names = {"hybrid": f"hybrid (w={metrics['dense_weight']:g})"}
    lines = ["| retriever | recall@1 | recall@5 | recall@10 | MRR@10 |", "|---|---|---|---|---|"]
    for mode in MODES:
        cells = " | ".join(f"{metrics[f'test_{m}_{mode}']:.3f}" for m in METRICS)
        lines.append(f"| {names.get(mode, mode)} | {cells} |")
    return "\n".join(lines)


def summary(settings: Settings, evaluation: Evaluation) -> str:
    """What ``make train`` and ``make evaluate`` print: the table, the questions, the
    fusion weight chosen on dev and how the served answers did."""
    m = evaluation.metrics
    source = (
        f"questions from {settings.eval_file}"
        if evaluation.eval_set == "file"
        else "synthetic questions (sentences sampled from the corpus and cut from the "
        f"index searched: a proxy; write real questions in {settings.eval_file})"
    )
    return (
        f"{table(m)}\n\n{int(m['n_dev_questions'])} dev and {int(m['n_questions'])} test "
        f"{source}; {int(m['n_passages']):,} passages\n"
        f"fusion chosen on dev: {evaluation.fusion.reason}\n"
        f"test answers citing a gold passage: {m['test_answer_cites_gold']:.3f}, "
        f"refused: {m['test_refusal_rate']:.3f}"
    )


def main() -> None:
    """``make evaluate``: re-score the served index; print the table, write the report."""
    settings = Settings()
    try:
        evaluation = evaluate(settings)
    except (IndexMissingError, EvalSetError, ModelError) as error:
        sys.exit(f"error: {error}")
    path = write_metrics(settings, evaluation, run_id=None)
    refusal.write(evaluation.refusal, settings, run_id=None)
    print(f"{summary(settings, evaluation)}; wrote {path.name}")


if __name__ == "__main__":
    main()
