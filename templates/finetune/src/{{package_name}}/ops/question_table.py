"""README's interview-question table, answered from this run.

The follow-up to every question in an interview is "and what did *your* data show?".
``answers`` gives each row of the table one line with a number from the champion's
training run (and from the ``make bench`` of the same model, once it has run), beside
links to the evidence: the file the number came from and the DESIGN.md section that
explains it. ``make report`` writes the table; ``mlportfolio check`` verifies that every
cell still matches the run and every evidence file exists.
"""

from __future__ import annotations

from ..findings import SHORT, Facts, p_text, significance
from .readme_blocks import Answer

SRC = f"src/{__name__.split('.')[0]}"
DESIGN = "docs/DESIGN.md"
CLIENTS = f"{DESIGN}#does-the-service-keep-its-promises-to-clients-nobody-here-wrote-opsclientspy"
BENCH_FIRST = "Not measured yet: run `make bench report`."


def answers(facts: Facts) -> list[Answer]:
    """One answer per question, in the order the README lists them."""
    m, after, n_test = facts.metrics, facts.score("finetuned") or 0.0, facts.count("n_test")
    sig = significance(facts)
    gain = (
        f"Fine-tune {sig.finetuned:.3f} vs {SHORT[sig.rival]} {sig.baseline:.3f}, McNemar "
        f"p={p_text(sig.p_value)} on {n_test} test rows."
        if sig
        else f"Validation picks; {n_test} test rows only report."
    )
    lora, share = facts.score("lora"), facts.lora_share or 0.0
    lora_cut = "yes" if m.get("lora.stopped_by_time_budget") else "no"
    epochs = int(m.get("finetuned.epochs_run", 0))
    best = int(m.get("finetuned.best_epoch", 0))
    budget = "yes" if m.get("finetuned.stopped_by_time_budget") else "no"
    errors = round((1 - after) * int(facts.params.get("n_test", "0")))
    return [
        Answer(
            "Which split decides what? Is the gain real?",
            gain,
            (f"{DESIGN}#which-split-decides-what",),
        ),
        Answer(
            "Why fine-tune rather than prompt an LLM?",
            f"Test accuracy {after:.3f}; `make train-llm` scores few-shot prompting.",
            (f"{DESIGN}#why-fine-tune-rather-than-prompt-an-llm-opsllmpy",),
        ),
        Answer(
            "LoRA or full fine-tuning?",
            f"LoRA {lora:.3f} vs full {after:.3f}, training {share:.1%} of the weights; "
            f"its time budget cut it short: {lora_cut}."
            if lora is not None
            else f"Full: {after:.3f}; LoRA is off in this run (set `lora=true`).",
            (f"{DESIGN}#lora-vs-full-fine-tuning",),
        ),
        _cost(facts),
        _distillation(facts),
        Answer(
            "Why not RAG?",
            f"A label, not a fact: {len(facts.params.get('labels', '').split(','))} "
            f"classes learned from {facts.count('n_train')} texts.",
            (f"{DESIGN}#rag-vs-fine-tuning",),
        ),
        Answer(
            "How many epochs, and how do you know it did not overfit?",
            f"{epochs} epoch(s), best on validation: {best}; time budget hit: {budget}.",
            (f"{DESIGN}#training-length-learning-rates-and-early-stopping",),
        ),
        Answer(
            "Is the test score honest?",
            f"{after:.3f} ± {facts.score('finetuned', 'test_accuracy_ci95') or 0:.3f} on "
            f"{n_test} rows nothing trained or chose on.",
            (f"{DESIGN}#one-split-for-every-model",),
        ),
        Answer(
            "What does the model get wrong?",
            f"{errors} of {n_test} test texts wrong; WRITEUP.md shows ten.",
            (f"{DESIGN}#reading-the-errors", "WRITEUP.md"),
        ),
        Answer(
            "How would you roll back a bad model?",
            f"Serving {facts.source}; `make rollback` moves `champion` back.",
            ("DEPLOY.md#roll-back-a-bad-model", f"{SRC}/ops/rollback.py"),
        ),
        Answer(
            "Does the API hold up against unknown clients and load?",
            "Checked by `make contract` and `make load`.",
            (CLIENTS,),
        ),
        Answer(
            "How would you deploy it?",
            f"One image; {facts.params.get('serve_threads', '1')} torch thread(s) per process.",
            ("DEPLOY.md#deploy-to-render-step-by-step", "Dockerfile", "render.yaml"),
        ),
        Answer(
            "The metric dropped. What do you check, in what order?",
            f"Re-score first: `make evaluate` vs this run's test accuracy {after:.3f}.",
            (f"{DESIGN}#when-the-metric-drops-a-runbook",),
        ),
    ]


def _cost(facts: Facts) -> Answer:
    b = facts.bench
    text = (
        f"int8: p50 {b['fine-tuned_int8.p50_ms']:.1f} vs {b['fine-tuned_fp32.p50_ms']:.1f} ms, "
        f"accuracy {b['fine-tuned_int8.accuracy']:.3f} vs {b['fine-tuned_fp32.accuracy']:.3f}."
        if "fine-tuned_int8.p50_ms" in b
        else BENCH_FIRST
    )
    where = "reports/bench.md" if b else f"{SRC}/ops/bench.py"
    return Answer(
        "How would you cut inference cost?",
        text,
        (f"{DESIGN}#how-would-you-cut-inference-cost-opsbenchpy", where),
    )


def _distillation(facts: Facts) -> Answer:
    b = facts.bench
    question = "Could a far cheaper model learn what the fine-tune learned?"
    anchor = f"{DESIGN}#could-a-far-cheaper-model-learn-what-the-fine-tune-learned-opsdistillpy"
    if "TF-IDF_student.accuracy" not in b:
        return Answer(question, BENCH_FIRST, (anchor, f"{SRC}/ops/distill.py"))
    return Answer(
        question,
        f"TF-IDF student {b['TF-IDF_student.accuracy']:.3f} vs teacher "
        f"{b['fine-tuned_fp32.accuracy']:.3f}, baseline {b['TF-IDF_plus_LR.accuracy']:.3f}; "
        f"p50 {b['TF-IDF_student.p50_ms']:.2f} ms.",
        ("reports/distill.json", anchor),
    )
