"""``mlportfolio rehearse``: say the walkthrough against the clock, then drill follow-ups.

``material`` reads what a session draws on from the project, ``history`` keeps the
sessions and picks the questions answered worst, ``session`` runs one rehearsal, and
``views`` shows progress and writes the cue card.
"""

from mlportfolio.rehearse.history import HISTORY_FILE, History, choose, weight
from mlportfolio.rehearse.material import DEFAULT_BUDGET_MINUTES, load, project_root
from mlportfolio.rehearse.session import (
    DEFAULT_ANSWER_SECONDS,
    DEFAULT_QUESTIONS,
    Drill,
    Instruments,
    rehearse,
)
from mlportfolio.rehearse.views import history_view, write_card

__all__ = [
    "DEFAULT_ANSWER_SECONDS",
    "DEFAULT_BUDGET_MINUTES",
    "DEFAULT_QUESTIONS",
    "HISTORY_FILE",
    "Drill",
    "History",
    "Instruments",
    "choose",
    "history_view",
    "load",
    "project_root",
    "rehearse",
    "weight",
    "write_card",
]
