"""``mlportfolio rehearse``: say the walkthrough against the clock, then drill follow-ups.

An interviewer hears the walkthrough; nobody reads it to them. So a session hides the
README's prose behind one cue line per section (its heading and the number the run
produced), times each section against its budget, then asks follow-up questions from the
project's own question table, each against a countdown, before revealing the evidence it
links to. The user rates each answer; the ratings steer the next session towards the
questions answered worst, and a cue card collects what to read in the minute before a call.

Everything comes from the project itself: the walkthrough as ``walkthrough.parse`` reads
it and ``check.must_haves`` judges it, the question table and the passages it links to,
and ``reports/walkthrough.json`` from ``make report``. Sessions are appended to
``.mlportfolio/rehearsals.jsonl``, which never leaves the user's machine.

A session reads the world only through ``Instruments`` (clock, calendar, dice) and the
input stream and console it is given, so a test drives a whole session through stdin
with a scripted clock and never sleeps.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.control import Control
from rich.markup import escape
from rich.padding import Padding
from rich.segment import ControlType
from rich.table import Table
from rich.text import Text

from mlportfolio import check
from mlportfolio.errors import InputEndedError, NotReadyError
from mlportfolio.rehearse.history import HISTORY_FILE, RECENT, Answer, History, Session, choose
from mlportfolio.rehearse.material import Material, load

DEFAULT_QUESTIONS = 5
DEFAULT_ANSWER_SECONDS = 90
RATINGS = range(1, 6)

Clock = Callable[[], float]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Instruments:
    """The clock, calendar and dice a session reads; tests pass scripted ones.

    ``live`` draws a ticking clock line while the user speaks: ``None`` means only when
    the console is a terminal.
    """

    clock: Clock = time.monotonic
    now: Callable[[], datetime] = _utc_now
    rng: random.Random = field(default_factory=random.Random)
    live: bool | None = None


@dataclass(frozen=True)
class Drill:
    """How a session is run: follow-up questions to ask and seconds to answer each."""

    questions: int = DEFAULT_QUESTIONS
    answer_s: float = DEFAULT_ANSWER_SECONDS


class _Ticker:
    """Redraws one status line four times a second while the main thread waits for Enter.

    On exit it erases the line Enter's echo moved to (a tick may have raced onto it) and
    the clock line above, so the caller's verdict takes the clock's place.
    """

    def __init__(self, console: Console, render: Callable[[], Text], enabled: bool) -> None:
        self._console, self._render, self._enabled = console, render, enabled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Ticker:
        if self._enabled:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._enabled:
            self._stop.set()
            self._thread.join()
            self._erase()
            self._console.control(Control.move(0, -1))
            self._erase()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._erase()
            self._console.print(self._render(), end="")
            self._stop.wait(0.25)

    def _erase(self) -> None:
        self._console.control(Control.move_to_column(0), Control((ControlType.ERASE_IN_LINE, 2)))


class Rehearsal:
    """One session: the timed walkthrough, then the follow-ups, then the summary.

    The clock is read exactly twice per timed step, when its cue has been shown and when
    Enter ends it; nothing else reads it (the live line aside). Reading a rating is not
    timed. End of input before the end raises ``InputEndedError`` and records nothing.
    """

    def __init__(
        self,
        material: Material,
        history: History,
        drill: Drill,
        *,
        stdin: TextIO,
        console: Console,
        instruments: Instruments,
    ) -> None:
        self.material, self.history, self.drill = material, history, drill
        self._stdin, self._out, self._tools = stdin, console, instruments
        live = instruments.live
        self._live = console.is_terminal if live is None else live

    def run(self) -> Session:
        """Run the session and return its record (the caller appends it to the history)."""
        started = self._tools.now().isoformat(timespec="seconds")
        sections = self._walkthrough()
        answers = self._follow_ups()
        session = Session(
            started=started,
            run_id=self.material.run_id,
            sections=sections,
            budgets={cue.name: cue.budget_s for cue in self.material.cues},
            must_haves={m.name: m.met for m in self.material.must_haves},
            answers=tuple(answers),
        )
        self._summary(session)
        return session

    def _walkthrough(self) -> dict[str, float]:
        cues = self.material.cues
        budget = sum(cue.budget_s for cue in cues)
        low, high = check.SPEAKING_MINUTES
        self._out.print(
            f"[bold]Walkthrough[/bold]: {len(cues)} sections, {mmss(budget)} budget "
            f"(target {low:.0f}-{high:.0f} min). Your prose stays hidden: speak each "
            "section from its cue, then press Enter."
        )
        self._ask("Press Enter to start the clock ")
        times: dict[str, float] = {}
        for number, cue in enumerate(cues, 1):
            counter = escape(f"[{number}/{len(cues)}]")
            self._out.print(
                f"\n[bold cyan]{counter} {escape(cue.heading)}[/bold cyan] ({mmss(cue.budget_s)})"
            )
            self._out.print(
                f"      number: {escape(cue.number)}"
                if cue.number
                else "      (no number from the run in this section: say it in your words)"
            )
            seconds = self._timed(cue.budget_s, countdown=False)
            times[cue.name] = seconds
            self._out.print(f"      {_verdict(seconds, cue.budget_s)}")
        return times

    def _follow_ups(self) -> list[Answer]:
        picked = choose(
            self.material.questions, self.history, self.drill.questions, self._tools.rng
        )
        if not picked:
            return []
        ratings = self.history.ratings()
        self._out.print(
            f"\n[bold]Follow-ups[/bold]: {len(picked)} question(s), weakest first more "
            f"often; {mmss(self.drill.answer_s)} each. Answer aloud, press Enter when done."
        )
        answers = []
        for number, question in enumerate(picked, 1):
            past = ratings.get(question.key)
            seen = f" (rated {', '.join(map(str, past[-RECENT:]))})" if past else " (new)"
            self._out.print(
                f"\n[bold cyan]Q{number}/{len(picked)}. {escape(question.text)}[/bold cyan]"
                f"[dim]{seen}[/dim]"
            )
            seconds = self._timed(self.drill.answer_s, countdown=True)
            self._out.print(f"      {_verdict(seconds, self.drill.answer_s)}")
            evidence = question.evidence
            self._out.print(f"      [bold]evidence[/bold] {escape(evidence.source)}:")
            self._out.print(Padding(Text(evidence.passage), (0, 0, 0, 8)), soft_wrap=False)
            if evidence.number:
                self._out.print(f"      [bold]your run[/bold]  {escape(evidence.number)}")
            self._out.print(f"      [bold]open[/bold]      {escape(evidence.open)}")
            rating = self._rating()
            answers.append(
                Answer(question.key, question.text, seconds, self.drill.answer_s, rating)
            )
        return answers

    def _timed(self, budget: float, *, countdown: bool) -> float:
        start = self._tools.clock()

        def render() -> Text:
            elapsed = self._tools.clock() - start
            if countdown:
                left = budget - elapsed
                label = (
                    f"      {mmss(left)} left" if left >= 0 else f"      time is up +{mmss(-left)}"
                )
            else:
                label = f"      {mmss(elapsed)} / {mmss(budget)}"
            return Text(label, style="green" if elapsed <= budget else "red")

        with _Ticker(self._out, render, self._live):
            self._readline()
        return round(self._tools.clock() - start, 1)

    def _rating(self) -> int:
        while True:
            answer = self._ask("      rate your answer 1-5 (1 lost, 3 fine, 5 interview-ready): ")
            if answer.strip() in {str(r) for r in RATINGS}:
                return int(answer)
            self._out.print("      [yellow]type a whole number from 1 to 5[/yellow]")

    def _ask(self, prompt: str) -> str:
        self._out.print(prompt, end="")
        return self._readline()

    def _readline(self) -> str:
        line = self._stdin.readline()
        if not line:
            raise InputEndedError(
                "input ended before the session finished; nothing was recorded",
                "run `mlportfolio rehearse` again and press Enter after each section",
            )
        return line.strip()

    def _summary(self, session: Session) -> None:
        table = Table("section", "budget", "time", "", title="Walkthrough timing")
        for cue in self.material.cues:
            seconds = session.sections[cue.name]
            table.add_row(
                cue.name, mmss(cue.budget_s), mmss(seconds), _delta(seconds, cue.budget_s)
            )
        low, high = (minutes * 60 for minutes in check.SPEAKING_MINUTES)
        total = session.total_s
        where = "within" if low <= total <= high else ("under" if total < low else "over")
        table.add_row("total", f"{low / 60:.0f}-{high / 60:.0f} min", mmss(total), where)
        self._out.print()
        self._out.print(table)
        self._out.print("Must-haves in your README:")
        for must in self.material.must_haves:
            mark = "[green]yes[/green]" if must.met else "[red]no[/red] "
            fix = f": {escape(must.fix)}" if not must.met else ""
            self._out.print(f"  {mark} {must.name} ({must.section}){fix}")
        if session.answers:
            answers = Table("follow-up", "time", "rating", title="Follow-ups")
            for answer in session.answers:
                answers.add_row(
                    answer.question,
                    f"{mmss(answer.seconds)} {_delta(answer.seconds, answer.limit_s)}",
                    str(answer.rating),
                )
            self._out.print(answers)


def rehearse(
    path: Path, drill: Drill, *, stdin: TextIO, console: Console, instruments: Instruments
) -> tuple[Session, History]:
    """Load ``path``, run one session on ``stdin``/``console`` and record it."""
    material = load(path)
    if drill.questions and not material.questions:
        raise NotReadyError(
            "README.md has no '| question | ... | evidence |' table to draw follow-ups from",
            "restore the Interview questions table, or pass --questions 0",
        )
    history = History.read(material.path)
    session = Rehearsal(
        material, history, drill, stdin=stdin, console=console, instruments=instruments
    ).run()
    history.append(session)
    console.print(
        f"Recorded session {len(history.sessions)} in {HISTORY_FILE.as_posix()}; "
        "`mlportfolio rehearse --history` shows your progress, `--card` writes the cue card."
    )
    return session, history


def mmss(seconds: float) -> str:
    whole = round(abs(seconds))
    return f"{'-' if seconds < 0 else ''}{whole // 60}:{whole % 60:02d}"


def _delta(seconds: float, budget: float) -> str:
    return f"+{mmss(seconds - budget)} over" if seconds > budget else "ok"


def _verdict(seconds: float, budget: float) -> str:
    if seconds <= budget:
        return f"[green]{mmss(seconds)} of {mmss(budget)}[/green]"
    return f"[red]{mmss(seconds)} of {mmss(budget)}: {mmss(seconds - budget)} over[/red]"
