"""Stage 7, evaluate (``make evaluate``): BM25, dense and hybrid side by side, into MLflow.

For every question of the eval set, each retriever ranks the whole index; a question is
a hit at k when a passage of its gold section is in the top k. Reported per retriever:
recall@1, recall@5, recall@10 and MRR@10 (the mean of 1/rank of the first gold passage,
0 past rank 10). Then the configured assistant answers every question and we count the
answers that cite the gold passage, and the refusals. All of it, with the config and the
index manifest, goes to one MLflow run. Synthetic questions (no eval file) are searched
in an index their own sentences were cut from, so a word match alone cannot find them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import mlflow
from tqdm import tqdm

from . import tracking
from .answer import Assistant, build_assistant
from .config import Mode, Settings
from .documents import CorpusError
from .embeddings import ModelError, encode, load_model
from .eval_set import (
    EvalSetError,
    Question,
    load_questions,
    synthetic_questions,
    without_sentences,
)
from .retrieval import Index, IndexMissingError, Retriever, build_bm25

MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
CUTOFFS = (1, 5, 10)


@dataclass(frozen=True)
class EvalSet:
    """The questions evaluated and where they came from."""

    questions: list[Question]
    kind: str  # "file" or "synthetic"
    skipped: int  # questions whose gold section is not in the index


def retrieval_metrics(
    retriever: Retriever, questions: list[Question], mode: Mode
) -> dict[str, float]:
    """recall@1/5/10 and MRR@10 of one retriever."""
    hits_at = dict.fromkeys(CUTOFFS, 0)
    reciprocal = 0.0
    for question in questions:
        ranked = retriever.search(question.question, max(CUTOFFS), mode)
        rank = next((r for r, hit in enumerate(ranked, 1) if question.is_gold(hit.passage)), None)
        if rank is None:
            continue
        reciprocal += 1 / rank
        for cutoff in CUTOFFS:
            hits_at[cutoff] += rank <= cutoff
    n = max(len(questions), 1)
    metrics = {f"recall_at_{cutoff}": hits_at[cutoff] / n for cutoff in CUTOFFS}
    metrics["mrr_at_10"] = reciprocal / n
    return metrics


def answer_metrics(assistant: Assistant, questions: list[Question]) -> dict[str, float]:
    """Share of answers that cite the gold passage, and share of refusals."""
    cited = refused = 0
    for question in questions:
        answer = assistant.ask(question.question)
        refused += answer.refused
        cited += not answer.refused and any(
            c.source == question.source and c.anchor == question.anchor for c in answer.citations
        )
    n = max(len(questions), 1)
    return {"answer_cites_gold": cited / n, "refusal_rate": refused / n}


def eval_set(settings: Settings, assistant: Assistant) -> EvalSet:
    """The eval file's questions whose gold is indexed, else synthetic questions."""
    questions = load_questions(settings.path(settings.eval_file))
    passages = assistant.retriever.index.passages
    if not questions:
        return EvalSet(
            synthetic_questions(passages, settings.synthetic_questions, settings.seed),
            "synthetic",
            0,
        )
    if settings.eval_limit is not None:
        questions = questions[: settings.eval_limit]
    indexed = {(p.source, p.anchor) for p in passages}
    kept = [q for q in questions if (q.source, q.anchor) in indexed]
    return EvalSet(kept, "file", len(questions) - len(kept))


def held_out(assistant: Assistant, questions: list[Question], settings: Settings) -> Assistant:
    """The assistant searching an index without the synthetic questions' own sentences.

    Only the passages that lost a sentence are embedded again (seconds, not an ingest).
    """
    index = assistant.retriever.index
    passages, changed = without_sentences(index.passages, questions)
    embeddings = index.embeddings.copy()
    if changed:
        texts = [passages[position].indexed_text() for position in changed]
        embeddings[changed] = encode(load_model(settings), texts, settings.embed_batch_size)
    cloze = Index(passages, embeddings, index.manifest, build_bm25(passages))
    return Assistant(Retriever(cloze, settings, assistant.retriever.embed), settings)


def evaluate(settings: Settings) -> tuple[str, dict[str, float], str]:
    """Run the evaluation, log it to MLflow; return the run id, the metrics and the
    eval set's kind ("file" or "synthetic")."""
    assistant = build_assistant(settings)
    evaluation = eval_set(settings, assistant)
    if not evaluation.questions:
        raise EvalSetError(
            "no eval question has its gold passage in the index: check source/anchor in "
            f"{settings.eval_file} against data/processed/index/passages.jsonl"
        )
    if evaluation.kind == "synthetic":
        assistant = held_out(assistant, evaluation.questions, settings)
    manifest = assistant.retriever.index.manifest
    metrics: dict[str, float] = {
        "n_questions": len(evaluation.questions),
        "n_passages": manifest["passages"],
        "n_sources": manifest["sources"],
        "ingest_seconds": manifest["ingest_seconds"],
    }
    for mode in tqdm(MODES, desc="retrievers", file=sys.stderr):
        scores = retrieval_metrics(assistant.retriever, evaluation.questions, mode)
        metrics.update({f"{mode}_{name}": value for name, value in scores.items()})
    metrics.update(answer_metrics(assistant, evaluation.questions))
    tracking.configure()
    with mlflow.start_run(run_name=f"evaluate-{settings.retriever}") as run:
        mlflow.log_params(_params(settings, evaluation, manifest))
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"stage": "evaluate", "git_commit": tracking.git_commit()})
        mlflow.log_dict(manifest, "index_manifest.json")
    reports = settings.path(settings.reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "eval.json").write_text(
        json.dumps(
            {"run_id": run.info.run_id, "eval_set": evaluation.kind, "metrics": metrics}, indent=2
        )
        + "\n"
    )
    return run.info.run_id, metrics, evaluation.kind


def _params(settings: Settings, evaluation: EvalSet, manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "retriever": settings.retriever,
        "answer_backend": settings.answer_backend,
        "embedding_model": settings.embedding_model,
        "max_seq_length": settings.max_seq_length,
        "chunk_words": settings.chunk_words,
        "overlap_words": settings.overlap_words,
        "top_k": settings.top_k,
        "candidates": settings.candidates,
        "rrf_k": settings.rrf_k,
        "dense_weight": settings.dense_weight,
        "min_confidence": settings.min_confidence,
        "max_passages": settings.max_passages,
        "eval_set": evaluation.kind,
        "eval_file": settings.eval_file.as_posix(),
        "eval_skipped": evaluation.skipped,
        "corpus_key": manifest["key"]["corpus"],
        "model_key": manifest["key"]["model"],
    }


def table(metrics: dict[str, float]) -> str:
    """The comparison as a Markdown table (also what ``make report`` puts in the README)."""
    header = "| retriever | recall@1 | recall@5 | recall@10 | MRR@10 |\n|---|---|---|---|---|\n"
    rows = [
        f"| {mode} | "
        + " | ".join(
            f"{metrics[f'{mode}_{name}']:.3f}"
            for name in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10")
        )
        + " |"
        for mode in MODES
    ]
    return header + "\n".join(rows)


def main() -> None:
    """``make evaluate``: the table and the run id, or one line of error."""
    settings = Settings()
    try:
        run_id, metrics, kind = evaluate(settings)
    except (IndexMissingError, EvalSetError, CorpusError, ModelError) as error:
        sys.exit(f"error: {error}")
    print(table(metrics))
    source = (
        f"questions from {settings.eval_file}"
        if kind == "file"
        else "synthetic questions (sentences sampled from the corpus and cut from the index "
        f"searched: a proxy; write real questions in {settings.eval_file})"
    )
    print(
        f"\n{int(metrics['n_questions'])} {source}; {int(metrics['n_passages']):,} passages; "
        f"answers citing the gold passage: {metrics['answer_cites_gold']:.3f}, "
        f"refused: {metrics['refusal_rate']:.3f}; MLflow run {run_id}"
    )


if __name__ == "__main__":
    main()
