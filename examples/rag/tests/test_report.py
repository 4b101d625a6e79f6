"""Report tests: resume lines claim only the comparisons the evaluation supports, and the
question table answers every row from the run's own numbers."""

from __future__ import annotations

from python_docs_qa.config import Settings
from python_docs_qa.ops.question_table import RETRAIN, answers
from python_docs_qa.report import RunFacts, resume_bullets


def _facts(bm25: float, dense: float, hybrid: float, p: float = 0.01) -> RunFacts:
    recall = {"bm25": bm25, "dense": dense, "hybrid": hybrid}
    metrics = {f"test_recall_at_5_{mode}": value for mode, value in recall.items()}
    metrics["test_recall_at_5_mcnemar_p_vs_bm25"] = p
    metrics |= {"n_passages": 746, "n_questions": 100, "ingest_seconds": 57}
    return RunFacts("run", metrics, {"retriever": "hybrid"})


def test_resume_line_claims_the_lead_over_bm25_when_hybrid_has_it() -> None:
    line = resume_bullets(_facts(0.71, 0.61, 0.74), {})[0]
    assert "hybrid (BM25 + dense) recall@5 0.740 vs 0.710 BM25-only on 100 test questions" in line
    assert "(McNemar p = 0.01)" in line


def test_resume_line_claims_no_lead_the_paired_test_does_not_back() -> None:
    line = resume_bullets(_facts(0.71, 0.61, 0.74, p=0.3), {})[0]
    assert "hybrid (BM25 + dense) leading recall@5 at 0.740" in line
    assert "vs" not in line


def test_resume_line_names_the_leader_when_hybrid_trails_bm25() -> None:
    line = resume_bullets(_facts(0.60, 0.53, 0.55), {})[0]
    assert "BM25 leading recall@5 at 0.600" in line
    assert "vs" not in line


def test_every_question_is_answered_with_this_runs_number() -> None:
    facts = _facts(0.71, 0.61, 0.74)
    facts.metrics.update(
        n_dev_questions=70, n_sources=9, n_sources_Markdown=8, n_sources_PDF=1,
        dense_weight=0.8, test_recall_at_5=0.74,
        test_answer_cites_gold=0.62, test_refusal_rate=0.06, unanswerable_refusal_rate=0.85,
        dev_answered_correctly_at_threshold=0.6, injection_extractive_quoted=1.0,
        injection_prompt_fenced=1.0,
    )  # fmt: skip
    facts.params["min_sentence_similarity"] = "0.45"
    rows = {a.question: a for a in answers(facts.metrics, facts.params, {}, Settings())}
    refusal = rows["What does refusing cost, and why this threshold?"]
    assert refusal.answer == "At 0.45: refuses 85% of unanswerable, answers 60% of dev correctly."
    assert "reports/refusal.json" in refusal.evidence
    assert "0.740" in rows["Why hybrid over BM25 or dense alone?"].answer
    assert rows["Why docutils and not your own reST parser?"].answer == (
        "9 sources: 8 Markdown, 1 PDF, 0 reST; reST goes through docutils, as Sphinx reads it."
    )  # what this run read, by format, even when none of it is reST
    assert "make bench report" in rows["What is the latency, and how would you cut it?"].answer
    assert all(len(a.answer.split()) <= 16 and a.evidence for a in rows.values()), rows
    del facts.metrics["unanswerable_refusal_rate"]  # a run from before the sweep existed
    rows = {a.question: a for a in answers(facts.metrics, facts.params, {}, Settings())}
    assert rows["What does refusing cost, and why this threshold?"].answer == RETRAIN
