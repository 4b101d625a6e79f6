"""Stage 7, answer: retrieve, refuse when unsure, then answer with numbered citations.

The default answerer is extractive: it quotes the sentences of the top passages that
share the most words with the question, each followed by ``[n]``, the number of the
passage it came from. It cannot say anything the documents do not say. The optional
``openai`` backend (``ops/llm.py``) sends the same numbered passages to a chat model.

Both refuse when retrieval is unsure: if the best passage's cosine similarity to the
question is below ``min_confidence``, the answer says so instead of guessing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .chunking import split_sentences
from .config import Mode, Settings
from .embeddings import encode, load_model
from .ops.llm import LLMError, chat_answer
from .retrieval import Hit, Index, Retriever, tokenize

SNIPPET_CHARS = 300


@dataclass(frozen=True)
class Citation:
    """A numbered source of the answer."""

    n: int
    title: str
    source: str
    anchor: str
    url: str
    snippet: str
    score: float


@dataclass
class Answer:
    """What ``/ask`` returns (its OpenAPI schema too)."""

    answer: str
    citations: list[Citation]
    refused: bool  # True when retrieval was too unsure to answer
    confidence: float  # cosine similarity of the question to the best passage
    retrieval_ms: float
    backend: str
    mode: str


class Assistant:
    """Retriever + answerer: the object the service, the evaluation and the bench share."""

    def __init__(self, retriever: Retriever, settings: Settings) -> None:
        self.retriever = retriever
        self.settings = settings

    def ask(self, question: str, k: int | None = None, mode: Mode | None = None) -> Answer:
        """Answer ``question`` from the top ``k`` passages."""
        k = k or self.settings.top_k
        mode = mode or self.settings.retriever
        started = time.perf_counter()
        vector = None if mode == "bm25" else self.retriever.embed(question)
        hits = self.retriever.search(question, k, mode, vector)
        retrieval_ms = round((time.perf_counter() - started) * 1000, 2)
        if vector is None:  # BM25 alone: the refusal still needs the dense similarity
            vector = self.retriever.embed(question)
        confidence = round(self.retriever.confidence(vector, hits), 4)
        citations = [_citation(n, hit) for n, hit in enumerate(hits, start=1)]
        backend = self.settings.answer_backend
        if confidence < self.settings.min_confidence or not hits:
            text = (
                "I can't answer that from these documents: the closest passage is only "
                f"{max(confidence, 0):.2f} similar to the question (threshold "
                f"{self.settings.min_confidence:.2f}). Try rephrasing, or add documents that "
                "cover it."
            )
            return Answer(text, citations, True, confidence, retrieval_ms, backend, mode)
        if backend == "openai":
            text = chat_answer(question, hits, self.settings)
        else:
            text = extractive_answer(question, hits, self.settings.answer_sentences)
        return Answer(text, citations, False, confidence, retrieval_ms, backend, mode)


def extractive_answer(question: str, hits: list[Hit], sentences: int) -> str:
    """The ``sentences`` best sentences of the top passages, each cited as ``[n]``.

    Only the three best passages are read: past them, the answer would quote text the
    retriever itself ranked as less relevant. A sentence scores by how many question
    words it shares, divided by the square root of its length (so a long sentence does
    not win by size alone), plus a small bonus for its passage's rank (0.3 for the first,
    0.15 for the second, 0.1 for the third) that breaks ties towards the top result.
    The chosen sentences keep passage order so the answer reads top result first.
    """
    query = set(tokenize(question))
    candidates: list[tuple[float, int, int, str]] = []
    for rank, hit in enumerate(hits[:3]):
        for position, sentence in enumerate(split_sentences(hit.passage.text)):
            words = set(tokenize(sentence))
            if not words:
                continue
            overlap = len(query & words)
            score = overlap / math.sqrt(len(words)) + 0.3 / (rank + 1)
            candidates.append((score, rank, position, sentence))
    if not candidates:
        return "The top passages are listed below."
    chosen = sorted(candidates, key=lambda c: -c[0])[:sentences]
    chosen.sort(key=lambda c: (c[1], c[2]))
    return " ".join(f"{_trim(sentence)} [{rank + 1}]" for _, rank, _, sentence in chosen)


def build_assistant(settings: Settings) -> Assistant:
    """Load the index and the embedding model: what the service does once at start-up."""
    index = Index.load(settings.path(settings.index_dir))
    model = load_model(settings)

    def embed(question: str) -> np.ndarray:
        return encode(model, [question], batch_size=1)[0]

    return Assistant(Retriever(index, settings, embed), settings)


def _citation(n: int, hit: Hit) -> Citation:
    passage = hit.passage
    return Citation(
        n=n,
        title=passage.title,
        source=passage.source,
        anchor=passage.anchor,
        url=passage.url,
        snippet=_trim(passage.text, SNIPPET_CHARS),
        score=round(hit.score, 4),
    )


def _trim(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def main() -> None:
    """``make ask Q="..."``: the answer and its numbered sources, in the terminal."""
    import sys

    from .documents import CorpusError
    from .embeddings import ModelError
    from .retrieval import IndexMissingError

    question = " ".join(sys.argv[1:]).strip()
    if not question:
        sys.exit('error: no question: make ask Q="How do I copy a file?"')
    try:
        answer = build_assistant(Settings()).ask(question)
    except (IndexMissingError, CorpusError, ModelError, LLMError) as error:
        sys.exit(f"error: {error}")
    print(answer.answer, end="\n\n")
    for citation in answer.citations:
        print(f"[{citation.n}] {citation.title} ({citation.source}) {citation.url}".rstrip())


if __name__ == "__main__":
    main()
