"""Progress over sessions (a table and a sparkline) and the cue card for the minute
before a call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from mlportfolio import check, walkthrough
from mlportfolio.rehearse.history import HISTORY_FILE, RECENT, History, Session, weakest, weakness
from mlportfolio.rehearse.material import Material, lead, load
from mlportfolio.rehearse.session import mmss

CARD_FILE = Path("reports") / "cue-card.md"
_SPARKS = "▁▂▃▄▅▆▇█"
_SHORT = {"Situation": "Sit", "Action": "Act", "Result": "Res", "Reflection": "Refl"}


def history_view(history: History) -> list[RenderableType]:
    """Sessions over time as a table, the walkthrough total as a bar chart with the
    target band, and each question's ratings."""
    if not history.sessions:
        return [Text("No rehearsals recorded yet: run `mlportfolio rehearse` first.")]
    names = list(walkthrough.SECTIONS)
    short = [_SHORT.get(name, name[:4]) for name in names]
    sessions = Table(
        "#", "when (UTC)", "total", *short, "asked", "rating", title="Sessions", box=box.SIMPLE_HEAD
    )
    for number, session in enumerate(history.sessions, 1):
        mean = session.mean_rating
        sessions.add_row(
            str(number),
            session.started[5:16].replace("T", " "),
            mmss(session.total_s),
            *(mmss(session.sections[n]) if n in session.sections else "" for n in names),
            str(len(session.answers)),
            f"{mean:.1f}" if mean is not None else "",
        )
    view: list[RenderableType] = [sessions, _chart(history.sessions)]
    questions = Table(
        "question",
        "ratings, oldest first",
        "trend",
        "mean",
        title="Follow-ups",
        box=box.SIMPLE_HEAD,
    )
    texts = {a.key: a.question for s in history.sessions for a in s.answers}
    for key, ratings in sorted(history.ratings().items(), key=lambda kv: weakness(kv[1])):
        questions.add_row(
            texts[key],
            " ".join(map(str, ratings)),
            "".join(_SPARKS[(r - 1) * (len(_SPARKS) - 1) // 4] for r in ratings),
            f"{sum(ratings) / len(ratings):.1f}",
        )
    if questions.row_count:
        view.append(questions)
    if history.unreadable:
        view.append(Text(f"{history.unreadable} unreadable line(s) skipped in {HISTORY_FILE}"))
    return view


def _chart(sessions: Sequence[Session], width: int = 40) -> Text:
    """One bar per session; ``|`` marks the 5 and 7 minute edges of the target."""
    low, high = (minutes * 60 for minutes in check.SPEAKING_MINUTES)
    scale = max(high * 8 / 7, *(s.total_s for s in sessions)) / width
    edges = {math.floor(low / scale), math.floor(high / scale)}
    chart = Text(
        f"Walkthrough total per session (| marks {low / 60:.0f} and {high / 60:.0f} min)\n"
    )
    for number, session in enumerate(sessions, 1):
        filled = round(session.total_s / scale)
        inside = low <= session.total_s <= high
        chart.append(f"{number:>3} ")
        for column in range(width + 1):
            if column in edges:
                chart.append("|", style="dim")
            elif column < filled:
                chart.append("█", style="green" if inside else "yellow")
            else:
                chart.append(" ")
        chart.append(f" {mmss(session.total_s)}\n")
    return chart


def cue_card(material: Material, history: History) -> str:
    """One page of Markdown: the STAR cues and numbers, the three weakest questions with
    one line of evidence each, and the resume bullets."""
    ratings = history.ratings()
    low, high = check.SPEAKING_MINUTES
    rehearsed = (
        f"{len(history.sessions)} rehearsal(s), the last {mmss(history.sessions[-1].total_s)}"
        if history.sessions
        else "not rehearsed yet"
    )
    lines = [
        f"# Cue card: {material.name}",
        "",
        f"Read this in the minute before the call. Numbers from MLflow run "
        f"`{material.run_id}`; {rehearsed} (target {low:.0f}-{high:.0f} min).",
        "",
        "## The walkthrough",
        "",
    ]
    for number, cue in enumerate(material.cues, 1):
        said = f": {cue.number}" if cue.number else ""
        lines.append(f"{number}. **{cue.heading}** ({mmss(cue.budget_s)}){said}")
    lines += ["", "## Your three weakest questions", ""]
    for question in weakest(material, history):
        past = ratings.get(question.key)
        rated = f"rated {', '.join(map(str, past[-RECENT:]))}" if past else "not rehearsed yet"
        evidence = question.evidence
        run = f" Run: {evidence.number.rstrip('.')}." if evidence.number else ""
        lines.append(
            f"- **{question.text}** ({rated}): {lead(evidence.passage)}{run} Open {evidence.open}."
        )
    if material.resume_bullets:
        lines += ["", "## Resume bullets", ""]
        lines += [f"- {bullet}" for bullet in material.resume_bullets]
    return "\n".join(lines) + "\n"


def write_card(path: Path) -> tuple[Path, str]:
    """Write ``reports/cue-card.md`` for the project at ``path``; return it and its text.

    Written through a temporary file and renamed, so a failure leaves the old card whole.
    """
    material = load(path)
    text = cue_card(material, History.read(material.path))
    card = material.path / CARD_FILE
    card.parent.mkdir(parents=True, exist_ok=True)
    staging = card.with_name(f".{card.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    staging.replace(card)
    return card, text
