"""Report tests: resume lines claim only the comparisons the evaluation supports."""

from __future__ import annotations

from python_docs_qa.report import RunFacts, resume_bullets


def _facts(bm25: float, dense: float, hybrid: float, p: float = 0.01) -> RunFacts:
    recall = {"bm25": bm25, "dense": dense, "hybrid": hybrid}
    metrics = {f"test_recall_at_5_{mode}": value for mode, value in recall.items()}
    metrics["test_recall_at_5_mcnemar_p_vs_bm25"] = p
    metrics |= {"n_passages": 746, "n_questions": 100, "ingest_seconds": 57}
    return RunFacts("run", metrics, {"retriever": "hybrid"})


def test_resume_line_claims_the_lead_over_bm25_when_hybrid_has_it() -> None:
    line = resume_bullets(_facts(0.71, 0.61, 0.74), {})[0]
    assert "hybrid (RRF) recall@5 0.740 vs 0.710 BM25-only on 100 test questions" in line
    assert "(McNemar p = 0.01)" in line


def test_resume_line_claims_no_lead_the_paired_test_does_not_back() -> None:
    line = resume_bullets(_facts(0.71, 0.61, 0.74, p=0.3), {})[0]
    assert "hybrid (RRF) leading recall@5 at 0.740" in line
    assert "vs" not in line


def test_resume_line_names_the_leader_when_hybrid_trails_bm25() -> None:
    line = resume_bullets(_facts(0.60, 0.53, 0.55), {})[0]
    assert "BM25 leading recall@5 at 0.600" in line
    assert "vs" not in line
