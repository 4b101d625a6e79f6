"""The evaluation set: questions, each with the passage that answers it (its "gold").

``data/eval/questions.jsonl`` holds one JSON object per line::

    {"question": "How do I copy a file?", "source": "faq/library.rst",
     "anchor": "how-do-i-copy-a-file"}

``source`` is the file path inside ``data/corpus`` and ``anchor`` the section (heading
slug, or a qualified name such as ``shutil.copyfile`` for Python docs); any passage cut
from that section counts as a hit. Add your own questions in the same shape.

Without an eval file (a corpus of your own), ``synthetic_questions`` samples sentences
from the corpus as questions whose gold is the section they came from, and
``without_sentences`` cuts those sentences out of the passages searched (the "inverse
cloze" task): the retriever must find a sentence's context, not the sentence itself,
which any word match would. A cheap proxy that measures retrieval, not how real users
phrase questions; write real ones.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

from .chunking import Passage, split_sentences

MAX_QUESTION_CHARS = 300  # a synthetic question is its sentence's first 300 characters


class EvalSetError(ValueError):
    """A line of the eval file is not a question with a source and an anchor."""


@dataclass(frozen=True)
class Question:
    """One evaluation question and where its answer lives."""

    question: str
    source: str
    anchor: str

    def is_gold(self, passage: Passage) -> bool:
        """Whether ``passage`` was cut from the answering section."""
        return passage.source == self.source and passage.anchor == self.anchor


def load_questions(path: Path) -> list[Question]:
    """Questions from a JSON-lines file (an empty list when there is no file)."""
    if not path.is_file():
        return []
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(Question(str(row["question"]), str(row["source"]), row["anchor"]))
        except (ValueError, KeyError, TypeError):
            raise EvalSetError(
                f"{path.name} line {number} is not "
                '{"question": ..., "source": ..., "anchor": ...}: fix that line'
            ) from None
    return questions


def synthetic_questions(passages: list[Passage], count: int, seed: int) -> list[Question]:
    """Sample ``count`` passages; the longest sentence of each becomes its question."""
    rng = random.Random(seed)
    candidates = [p for p in passages if len(p.text.split()) >= 12]
    questions = []
    for passage in rng.sample(candidates, min(count, len(candidates))):
        sentence = max(split_sentences(passage.text), key=len)
        questions.append(Question(sentence[:MAX_QUESTION_CHARS], passage.source, passage.anchor))
    return questions


def without_sentences(
    passages: list[Passage], questions: list[Question]
) -> tuple[list[Passage], list[int]]:
    """The passages with every sentence that a question was taken from cut out, and the
    positions of the passages that changed (their embeddings must be recomputed).

    Overlapping chunks repeat a sentence, so it is cut from every passage that holds it.
    """
    asked = {question.question for question in questions}
    kept, changed = [], []
    for position, passage in enumerate(passages):
        sentences = split_sentences(passage.text)
        remaining = [s for s in sentences if s[:MAX_QUESTION_CHARS] not in asked]
        if len(remaining) < len(sentences):
            passage = replace(passage, text=" ".join(remaining))
            changed.append(position)
        kept.append(passage)
    return kept, changed
