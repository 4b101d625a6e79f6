"""Stage 6, answer: retrieve, refuse when unsure, then answer with numbered citations.

The default answerer is extractive: it quotes the sentences of the top passages closest
in meaning to the question (cosine similarity under the model that built the index),
each followed by ``[n]``, the number of the passage it came from, so it cannot say
anything the documents do not say. Similarity is about topic, not truth: to this model
"save uncommitted changes" and "throw away uncommitted changes" are close
(docs/DESIGN.md). The optional ``openai`` backend (``ops/llm.py``) sends the same
numbered passages to a chat model.

Two gates refuse before anything is said: the best passage's cosine similarity to the
question is below ``min_confidence`` (retrieval is unsure), or no sentence of the top
passages reaches ``min_sentence_similarity`` (a passage on the subject that does not say
the answer is not quoted as if it did).
"""

from __future__ import annotations

import math
import re
import sys
import time
from dataclasses import dataclass

import numpy as np

from .config import Mode, Settings
from .embeddings import ModelError, load_model
from .ops.llm import LLMError, chat_answer
from .retrieval import Hit, Index, IndexMissingError, Retriever, encode, tokenize

SNIPPET_CHARS = 300
QUOTED_PASSAGES = 3  # the top three: room for one passage per quoted sentence (3 at most)
SCORED_CHARS = 120  # a sentence is compared by its first 120 characters, about 20 words
_CITATION_MARK = re.compile(r"\[(\d+)\]")
# Same rule as chunking.py's, kept separate so changing answers never changes the index.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


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
    refused: bool  # True when either gate refused: passage confidence or sentence similarity
    confidence: float  # cosine similarity of the question to the best passage
    retrieval_ms: float
    backend: str
    mode: str


@dataclass(frozen=True)
class Sentence:
    """A sentence the answer may quote, and how close in meaning it is to the question."""

    similarity: float  # cosine similarity to the question
    rank: int  # its passage's place in the results, from 0: cited as [rank + 1]
    position: int  # its place in that passage
    text: str


class Assistant:
    """Retriever + answerer: the object the service, the evaluation and the bench share."""

    def __init__(self, retriever: Retriever, settings: Settings) -> None:
        self.retriever = retriever
        self.settings = settings

    def ask(self, question: str, k: int | None = None, mode: Mode | None = None) -> Answer:
        """Answer ``question`` from the top ``k`` passages, or refuse."""
        k = k or self.settings.top_k
        mode = mode or self.settings.retriever
        started = time.perf_counter()
        vector = None if mode == "bm25" else self.retriever.embed(question)
        hits = self.retriever.search(question, k, mode, vector)
        retrieval_ms = round((time.perf_counter() - started) * 1000, 2)
        if vector is None:  # BM25 alone: the gates still need the question's embedding
            vector = self.retriever.embed(question)
        confidence = round(self.retriever.confidence(vector, hits), 4)
        citations = [_citation(n, hit) for n, hit in enumerate(hits, start=1)]
        backend, settings = self.settings.answer_backend, self.settings
        if confidence < settings.min_confidence or not hits:
            text = _refusal("passage", confidence, settings.min_confidence)
            return Answer(text, citations, True, confidence, retrieval_ms, backend, mode)
        sentences = self.closest_sentences(question, vector, hits)
        best = sentences[0].similarity if sentences else -1.0
        if best < settings.min_sentence_similarity:
            text = _refusal("sentence", best, settings.min_sentence_similarity)
            return Answer(text, citations, True, confidence, retrieval_ms, backend, mode)
        if backend == "openai":
            text = chat_answer(question, hits[:QUOTED_PASSAGES], settings)  # what the gates read
        else:
            text = quote(sentences, settings.answer_sentences, settings.min_sentence_similarity)
        return Answer(text, citations, False, confidence, retrieval_ms, backend, mode)

    def closest_sentences(
        self, question: str, vector: np.ndarray, hits: list[Hit]
    ) -> list[Sentence]:
        """The shortlisted sentences of the top passages, closest in meaning first.

        This embeds on every request, so it stays small: ``answer_candidates`` sentences,
        each compared by its first ``SCORED_CHARS`` (a batch is padded to its longest
        member); the quote keeps the whole sentence.
        """
        candidates = shortlist(question, hits, self.settings.answer_candidates)
        if not candidates:
            return []
        texts = [text[:SCORED_CHARS] for _, _, text in candidates]
        # element-wise, like Retriever.confidence: no BLAS threads to fight torch's
        similarities = (self.retriever.encode(texts) * vector).sum(axis=1)
        sentences = [
            Sentence(round(float(similarity), 4), rank, position, text)
            for similarity, (rank, position, text) in zip(similarities, candidates, strict=True)
        ]
        return sorted(sentences, key=lambda sentence: -sentence.similarity)


def split_sentences(text: str) -> list[str]:
    """The sentences of a passage, in order."""
    return [part for part in _SENTENCE_END.split(" ".join(text.split())) if part]


def shortlist(question: str, hits: list[Hit], limit: int) -> list[tuple[int, int, str]]:
    """``(passage rank, position, sentence)`` for at most ``limit`` sentences of the three
    best passages: a cheap filter before the model compares meanings. A sentence scores
    its distinct question words over the square root of its distinct words (length alone
    does not win), plus 0.3 / (rank + 1), which decides when no sentence shares a word
    with the question: the three passages' bonuses differ by at most 0.2, what one shared
    word adds to a 25-word sentence, so shared words outrank passage rank. A sentence that
    overlapping passages repeat counts once."""
    query = set(tokenize(question))
    seen: set[str] = set()
    scored: list[tuple[float, int, int, str]] = []
    for rank, hit in enumerate(hits[:QUOTED_PASSAGES]):
        for position, sentence in enumerate(split_sentences(hit.passage.text)):
            words = set(tokenize(sentence))
            if not words or sentence in seen:
                continue
            seen.add(sentence)
            score = len(query & words) / math.sqrt(len(words)) + 0.3 / (rank + 1)
            scored.append((score, rank, position, sentence))
    scored.sort(key=lambda candidate: -candidate[0])  # stable: ties keep reading order
    return [(rank, position, sentence) for _, rank, position, sentence in scored[:limit]]


def quote(sentences: list[Sentence], count: int, min_similarity: float) -> str:
    """The ``count`` closest sentences at or above ``min_similarity``, each in quotation
    marks and cited as ``[n]``, in passage order so the answer reads top result first.
    The marks show a document's words as a quotation: a planted "ignore your instructions"
    reads as what a passage says, never as the assistant speaking (``ops/injection.py``)."""
    chosen = [sentence for sentence in sentences if sentence.similarity >= min_similarity]
    chosen = sorted(chosen[:count], key=lambda sentence: (sentence.rank, sentence.position))
    return " ".join(f"“{_trim(sentence.text)}” [{sentence.rank + 1}]" for sentence in chosen)


def cited_numbers(text: str) -> set[int]:
    """The passage numbers an answer cites as ``[n]`` (extractive or generated)."""
    return {int(number) for number in _CITATION_MARK.findall(text)}


def build_assistant(settings: Settings) -> Assistant:
    """Load the index and the embedding model: what the service does once at start-up."""
    index = Index.load(settings.path(settings.index_dir))
    built_with = index.manifest.get("embedding_model")
    if built_with != settings.embedding_model:  # its vectors mean nothing to another model
        raise IndexMissingError(
            f"the index was built with {built_with!r}, not {settings.embedding_model!r}: "
            "run `make train`"
        )
    model = load_model(settings)

    def encode_texts(texts: list[str]) -> np.ndarray:
        return encode(model, texts, batch_size=max(len(texts), 1))  # one batch

    return Assistant(Retriever(index, settings, encode_texts), settings)


def _citation(n: int, hit: Hit) -> Citation:
    p = hit.passage
    return Citation(n, p.title, p.source, p.anchor, p.url, _trim(p.text, SNIPPET_CHARS),
                    round(hit.score, 4))  # fmt: skip


def _refusal(what: str, similarity: float, threshold: float) -> str:
    return (
        f"I can't answer that from these documents: the closest {what} is only "
        f"{max(similarity, 0):.2f} similar to the question (threshold {threshold:.2f}). "
        "Try rephrasing, or add documents that cover it."
    )


def _trim(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def main() -> None:
    """``make ask Q="..."``: the answer and its numbered sources, in the terminal."""
    question = " ".join(sys.argv[1:]).strip()
    if not question:
        sys.exit('error: no question: make ask Q="How do I copy a file?"')
    try:
        answer = build_assistant(Settings()).ask(question)
    except (IndexMissingError, ModelError, LLMError) as error:
        sys.exit(f"error: {error}")
    print(answer.answer, end="\n\n")
    for citation in answer.citations:
        print(f"[{citation.n}] {citation.title} ({citation.source}) {citation.url}".rstrip())


if __name__ == "__main__":
    main()
