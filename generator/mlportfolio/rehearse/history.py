"""The rehearsal history: sessions in ``.mlportfolio/rehearsals.jsonl`` and the ratings
that steer the next session towards the questions answered worst.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlportfolio.rehearse.material import Material, Question

HISTORY_FILE = Path(".mlportfolio") / "rehearsals.jsonl"
# A question never rated counts as rated 2.5: drilled before the ones answered well,
# after the ones answered badly. Only the last RECENT ratings count, so progress shows.
UNRATED = 2.5
RECENT = 3


@dataclass(frozen=True)
class Answer:
    """One follow-up: how long the answer took against its countdown, and its rating."""

    key: str
    question: str
    seconds: float
    limit_s: float
    rating: int


@dataclass(frozen=True)
class Session:
    """One rehearsal as recorded: one line of ``.mlportfolio/rehearsals.jsonl``."""

    started: str
    run_id: str
    sections: dict[str, float]
    budgets: dict[str, float]
    must_haves: dict[str, bool]
    answers: tuple[Answer, ...] = ()

    @property
    def total_s(self) -> float:
        """The walkthrough's spoken time."""
        return sum(self.sections.values())

    @property
    def mean_rating(self) -> float | None:
        """The session's mean follow-up rating, if it asked any."""
        ratings = [answer.rating for answer in self.answers]
        return sum(ratings) / len(ratings) if ratings else None

    def to_json(self) -> dict[str, Any]:
        """The record as written: every field, plus the total for readers of the file."""
        return {**asdict(self), "total_s": self.total_s}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Session:
        """A record read back; ``KeyError``/``TypeError``/``ValueError`` if it is not one."""
        return cls(
            started=str(record["started"]),
            run_id=str(record["run_id"]),
            sections={str(k): float(v) for k, v in record["sections"].items()},
            budgets={str(k): float(v) for k, v in record["budgets"].items()},
            must_haves={str(k): bool(v) for k, v in record["must_haves"].items()},
            answers=tuple(
                Answer(
                    str(a["key"]),
                    str(a["question"]),
                    float(a["seconds"]),
                    float(a["limit_s"]),
                    int(a["rating"]),
                )
                for a in record["answers"]
            ),
        )


@dataclass
class History:
    """Every session recorded in a project, oldest first.

    A line that cannot be read (a hand edit, a disk that filled up mid-write) is skipped
    and counted, never fatal: losing one session must not lock the user out of the rest.
    """

    path: Path
    sessions: list[Session] = field(default_factory=list)
    unreadable: int = 0

    @classmethod
    def read(cls, project: Path) -> History:
        """The history of ``project`` (empty when it has none yet)."""
        history = cls(project / HISTORY_FILE)
        try:
            lines = history.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return history
        for line in filter(str.strip, lines):
            try:
                history.sessions.append(Session.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError, AttributeError):
                history.unreadable += 1
        return history

    def append(self, session: Session) -> None:
        """Add ``session`` as one line; the folder ignores itself in git, whatever the
        project's ``.gitignore`` says (projects rendered before it listed the folder)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ignore = self.path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# personal rehearsal history: never committed\n*\n")
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(session.to_json(), sort_keys=True) + "\n")
        self.sessions.append(session)

    def ratings(self) -> dict[str, list[int]]:
        """Each question's ratings, oldest first."""
        ratings: dict[str, list[int]] = {}
        for session in self.sessions:
            for answer in session.answers:
                ratings.setdefault(answer.key, []).append(answer.rating)
        return ratings

    def to_json(self) -> str:
        """Sessions and per-question ratings, for scripts."""
        questions: dict[str, dict[str, Any]] = {}
        for session in self.sessions:
            for answer in session.answers:
                entry = questions.setdefault(
                    answer.key, {"question": answer.question, "ratings": []}
                )
                entry["ratings"].append(answer.rating)
        for entry in questions.values():
            entry["mean"] = round(sum(entry["ratings"]) / len(entry["ratings"]), 2)
        return json.dumps(
            {
                "path": str(self.path),
                "sessions": [session.to_json() for session in self.sessions],
                "questions": questions,
                "unreadable_lines": self.unreadable,
            },
            indent=2,
        )


def weakness(ratings: Sequence[int]) -> float:
    """The mean of the last ``RECENT`` ratings (1 worst, 5 best), ``UNRATED`` if none."""
    recent = list(ratings)[-RECENT:]
    return sum(recent) / len(recent) if recent else UNRATED


def weight(ratings: Sequence[int]) -> float:
    """How much more often a question is drawn: 25 for a recent 1, 1 for a recent 5."""
    return (6 - weakness(ratings)) ** 2


def choose(
    questions: Sequence[Question], history: History, count: int, rng: random.Random
) -> list[Question]:
    """``count`` distinct questions, each drawn with probability growing with ``weight``.

    Weighted sampling without replacement (Efraimidis-Spirakis): each question gets the key
    ``u ** (1 / weight)`` for a uniform ``u`` and the largest keys win, so a weak question
    is likely, not certain, to come up, and a strong one still comes back now and then.
    """
    ratings = history.ratings()
    keys = [rng.random() ** (1 / weight(ratings.get(q.key, []))) for q in questions]
    ranked = sorted(zip(keys, range(len(questions)), strict=True), reverse=True)
    return [questions[index] for _, index in ranked[:count]]


def weakest(material: Material, history: History, count: int = 3) -> list[Question]:
    """The ``count`` questions with the worst recent ratings (unrated ones count as
    ``UNRATED``); ties keep the README's order."""
    ratings = history.ratings()
    return sorted(material.questions, key=lambda q: weakness(ratings.get(q.key, [])))[:count]
