"""README's interview-question table, answered from this run.

The follow-up to every question in an interview is "and what did *your* data show?".
``answers`` gives each row of the table one line with a number from the MLflow run that
scored the served index (and from ``make bench`` once it has run), beside links to the
evidence: the file the number came from and the DESIGN.md section that explains it.
``make report`` writes the table; ``mlportfolio check`` verifies that every cell still
matches the run and every evidence file exists.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..config import Settings
from .readme_blocks import Answer

SRC = f"src/{__name__.split('.')[0]}"
DESIGN = "docs/DESIGN.md"
CLIENTS = f"{DESIGN}#does-the-service-keep-its-promises-to-clients-nobody-here-wrote-opsclientspy"
ROLLBACK = ("DEPLOY.md#deploy-to-render-step-by-step", "DEPLOY.md#roll-back-a-bad-index-or-setting")
RETRAIN = "Not in this run: run `make train report`."


def answers(
    metrics: Mapping[str, float],
    params: Mapping[str, str],
    bench: Mapping[str, Mapping[str, float]],
    settings: Settings,
) -> list[Answer]:
    """One answer per question, in the order the README lists them."""
    m, served = metrics, params.get("retriever", "hybrid")
    recall = {mode: m[f"test_recall_at_5_{mode}"] for mode in ("bm25", "dense", "hybrid")}
    baseline = "bm25" if served != "bm25" else "dense"
    p_value = m.get(f"test_recall_at_5_mcnemar_p_vs_{baseline}", 1.0)
    ask = bench.get(f"ask_{served}")
    latency = (
        f"/ask p50 {ask['p50_ms']:.0f} ms, p99 {ask['p99_ms']:.0f} ms ({served})."
        if ask
        else "Not measured yet: run `make bench report`."
    )
    held = {1.0: "yes", 0.0: "NO"}
    refusal = (
        f"At {params.get('min_sentence_similarity')}: refuses "
        f"{m['unanswerable_refusal_rate']:.0%} of unanswerable, answers "
        f"{m['dev_answered_correctly_at_threshold']:.0%} of dev correctly."
        if "unanswerable_refusal_rate" in m
        else RETRAIN
    )
    injection = (
        f"Planted order only quoted: {held[m['injection_extractive_quoted']]}; "
        f"fenced for the chat model: {held[m['injection_prompt_fenced']]}."
        if "injection_prompt_fenced" in m
        else RETRAIN
    )
    prefix = "n_sources_"  # one metric per format read, from ingest.source_counts
    read = {k.removeprefix(prefix): int(v) for k, v in m.items() if k.startswith(prefix)}
    by_format = sorted({"reST": 0, **read}.items(), key=lambda item: -item[1])  # reST: asked
    formats = (
        f"{int(m['n_sources'])} sources: {', '.join(f'{n} {name}' for name, n in by_format)}; "
        "reST goes through docutils, as Sphinx reads it."
        if read
        else RETRAIN
    )
    return [
        Answer(
            "Why RAG and not fine-tuning?",
            f"{int(m['n_passages']):,} citable passages; new documents need no retraining.",
            (f"{DESIGN}#rag-vs-fine-tuning",),
        ),
        Answer(
            "How do you control hallucination?",
            f"{m['test_answer_cites_gold']:.0%} of test answers quote the gold passage; "
            f"{m['test_refusal_rate']:.0%} refused.",
            (f"{DESIGN}#hallucination-control-and-refusal", f"{SRC}/answer.py"),
        ),
        Answer(
            "What does refusing cost, and why this threshold?",
            refusal,
            (
                "reports/refusal.png",
                "reports/refusal.json",
                f"{DESIGN}#what-does-refusing-cost-opsrefusalpy",
            ),
        ),
        Answer(
            "Can a document give the model orders?",
            injection,
            (
                f"{DESIGN}#can-a-document-give-the-model-orders-opsinjectionpy",
                f"{SRC}/ops/injection.py",
            ),
        ),
        Answer(
            "How did you evaluate retrieval, and what did the dev and test splits decide?",
            f"{int(m['n_dev_questions'])} dev questions chose w={m['dense_weight']:g}; "
            f"{int(m['n_questions'])} test questions only report.",
            (f"{DESIGN}#retrieval-evaluation-which-split-decides-what", "reports/metrics.json"),
        ),
        Answer(
            "Why hybrid over BM25 or dense alone?",
            f"Recall@5: hybrid {recall['hybrid']:.3f}, BM25 {recall['bm25']:.3f}, dense "
            f"{recall['dense']:.3f} (McNemar p = {p_value:.2g}).",
            (f"{DESIGN}#hybrid-retrieval", f"{SRC}/retrieval.py"),
        ),
        Answer(
            "What is the latency, and how would you cut it?",
            latency,
            (
                f"{DESIGN}#how-fast-is-an-answer-and-how-would-you-make-it-faster",
                "reports/bench.md" if ask else f"{SRC}/ops/bench.py",
            ),
        ),
        Answer(
            "How long does ingest take, and how does it scale?",
            f"{m['ingest_seconds']:.0f} s for {int(m['n_passages']):,} passages; unchanged "
            "files are cached.",
            (f"{DESIGN}#ingest-time",),
        ),
        Answer(
            "Why docutils and not your own reST parser?",
            formats,
            (f"{DESIGN}#reading-restructuredtext-with-docutils", f"{SRC}/documents.py"),
        ),
        Answer(
            "What does the service do with bad or hostile requests?",
            f"Questions over {settings.max_question_chars} characters are a 422; bodies over "
            f"{settings.max_body_bytes:,} bytes a 413.",
            (
                f"{DESIGN}#what-does-the-service-do-with-bad-or-hostile-requests",
                f"{SRC}/ops/http.py",
            ),
        ),
        Answer(
            "Is the web page safe against hostile documents?",
            "Passages render as text under a strict CSP; `make test` checks a canary.",
            (f"{DESIGN}#a-page-that-cannot-run-the-corpus", "tests/test_page.py"),
        ),
        Answer(
            "Does the API hold up against unknown clients and load?",
            "`make contract` fuzzes the schema; `make load` adds wrk and slow clients.",
            (CLIENTS,),
        ),
        Answer(
            "How would you deploy and operate it, and roll back a bad index?",
            f"Serving index {params.get('index_version', '?')}; roll back: `make train` at the "
            "last good commit (vectors cached).",
            ROLLBACK,
        ),
        Answer(
            "The metric dropped. What do you check, in what order?",
            f"Re-score first: `make evaluate` vs this run's recall@5 {m['test_recall_at_5']:.3f}.",
            (f"{DESIGN}#when-the-metric-drops-a-runbook",),
        ),
    ]
