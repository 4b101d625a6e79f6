"""Stage 2, chunk: cut sections into overlapping passages small enough to embed whole.

MiniLM reads ``max_seq_length`` tokens and ignores the rest, so a passage is kept near
``chunk_words`` words, about what those tokens hold (BM25 still sees every word).
Paragraphs stay whole where they fit, so a passage reads like the document. The overlap
repeats the previous passage's last whole sentences (up to ``overlap_words``), so a
passage opens with the context before it, and never with half a sentence that an answer
could quote without its start.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from .documents import Section

# A sentence ends at . ! or ? followed by space and a capital, digit, bracket or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


@dataclass(frozen=True)
class Passage:
    """The unit of retrieval and citation."""

    id: str
    source: str
    title: str
    anchor: str
    text: str
    url: str = ""

    def indexed_text(self) -> str:
        """What BM25 and the embedding model see: the title path, then the text."""
        return f"{self.title}\n{self.text}"

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready row."""
        return asdict(self)


def chunk_section(section: Section, chunk_words: int, overlap_words: int) -> list[Passage]:
    """Cut one section into passages of about ``chunk_words`` words with overlap."""
    units = _units(section.text, max(chunk_words - overlap_words, 1))
    chunks: list[list[str]] = []
    current: list[str] = []
    for unit in units:
        words = unit.split()
        if current and len(current) + len(words) > chunk_words:
            chunks.append(current)
            room = max(chunk_words - len(words), 0)  # the overlap never overfills a passage
            current = _last_sentences(current, min(overlap_words, room))
        current = current + words
    if current and (not chunks or len(current) > overlap_words):
        chunks.append(current)
    return [
        Passage(
            id=passage_id(section.source, section.anchor, number, " ".join(words)),
            source=section.source,
            title=section.title,
            anchor=section.anchor,
            text=" ".join(words),
            url=section.url,
        )
        for number, words in enumerate(chunks)
    ]


def passage_id(source: str, anchor: str, number: int, text: str) -> str:
    """A short stable id: the same place and text always give the same id (SHA-1 names,
    it guards nothing; another hash would change every id already in an index)."""
    key = f"{source}#{anchor}#{number}#{text}".encode()
    return hashlib.sha1(key, usedforsecurity=False).hexdigest()[:12]


def _last_sentences(words: list[str], limit: int) -> list[str]:
    """The words of the last whole sentences of ``words`` that fit in ``limit`` words."""
    kept: list[str] = []
    for sentence in reversed(_SENTENCE_END.split(" ".join(words))):
        if len(kept) + len(sentence.split()) > limit:
            break
        kept = sentence.split() + kept
    return kept


def _units(text: str, size: int) -> list[str]:
    """Paragraphs, with any paragraph over ``size`` words cut into sentences (then words)."""
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        if len(paragraph.split()) <= size:
            units.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
            words = sentence.split()
            units += [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return [unit for unit in units if unit.strip()]
