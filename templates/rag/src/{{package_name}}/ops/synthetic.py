"""Questions for a corpus nobody has written questions for: the "inverse cloze" task.

Without ``data/eval/questions.jsonl`` (a corpus of your own), ``synthetic_questions``
samples passages and takes the longest sentence of each as a question whose gold is the
section it came from; ``held_out`` then searches an index with every such sentence cut
out, so the retriever must find a sentence's context, not the sentence itself (which any
word match would). A cheap proxy that measures retrieval, not how real users phrase
questions: write real ones.
"""

from __future__ import annotations

import random
from dataclasses import replace

from ..answer import Assistant, split_sentences
from ..chunking import Passage
from ..config import Settings
from ..embeddings import load_model
from ..retrieval import Index, Retriever, build_bm25, encode

MAX_QUESTION_CHARS = 300  # a synthetic question is at most its sentence's first 300 characters


def synthetic_questions(
    passages: list[Passage], count: int, seed: int
) -> list[tuple[str, str, str]]:
    """``(question, source, anchor)`` for ``count`` sampled passages of 12 words or more."""
    rng = random.Random(seed)
    candidates = [p for p in passages if len(p.text.split()) >= 12]
    questions = []
    for passage in rng.sample(candidates, min(count, len(candidates))):
        sentence = max(split_sentences(passage.text), key=len)[:MAX_QUESTION_CHARS]
        questions.append((sentence, passage.source, passage.anchor))
    return questions


def without_sentences(passages: list[Passage], asked: set[str]) -> tuple[list[Passage], list[int]]:
    """The passages with every asked sentence cut out, and the positions of those that
    changed (their embeddings must be recomputed). Overlapping chunks repeat a sentence,
    so it is cut from every passage that holds it."""
    kept, changed = [], []
    for position, passage in enumerate(passages):
        sentences = split_sentences(passage.text)
        remaining = [s for s in sentences if s[:MAX_QUESTION_CHARS] not in asked]
        if len(remaining) < len(sentences):
            passage = replace(passage, text=" ".join(remaining))
            changed.append(position)
        kept.append(passage)
    return kept, changed


def cloze(assistant: Assistant, settings: Settings) -> tuple[list[tuple[str, str, str]], Assistant]:
    """``synthetic_questions`` from the served index, and the assistant to ask them: one
    searching the index without those sentences (``held_out``)."""
    rows = synthetic_questions(
        assistant.retriever.index.passages, settings.synthetic_questions, settings.seed
    )
    return rows, held_out(assistant, {row[0] for row in rows}, settings)


def held_out(assistant: Assistant, asked: set[str], settings: Settings) -> Assistant:
    """The assistant searching an index without the asked sentences; only the passages
    that lost one are embedded again (seconds, not an ingest)."""
    index = assistant.retriever.index
    passages, changed = without_sentences(index.passages, asked)
    embeddings = index.embeddings.copy()
    if changed:
        texts = [passages[position].indexed_text() for position in changed]
        embeddings[changed] = encode(load_model(settings), texts, settings.embed_batch_size)
    cloze = Index(passages, embeddings, index.manifest, build_bm25(passages), index.evaluation)
    return Assistant(Retriever(cloze, settings, assistant.retriever.encode), settings)
