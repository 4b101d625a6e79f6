"""``mlportfolio check``: is this README ready to be walked through in an interview?

Each rule returns findings with a file, a line and a fix. Numbers are checked against
what the project really logged (its MLflow runs, read through MLflow's client API, and
``reports/walkthrough.json`` written by ``make report``), so a README cannot quote a
metric no run produced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlportfolio import contract, logged, walkthrough
from mlportfolio.answers_file import read_answers
from mlportfolio.errors import ProjectError, UsageError
from mlportfolio.kinds import KINDS

WORDS_PER_MINUTE = (130, 160)
SPEAKING_MINUTES = (5.0, 7.0)
PAGE_BUDGET_WORDS = 1500
MIN_REFLECTION_WORDS = 15
_TRADEOFF = re.compile(
    r"trade-?off|at the cost of|in exchange for|instead of|rather than|\bcost(s|ing)?\b|"
    r"\bvs\.?\b|versus|lost to|gave up|\bslower\b|\bfaster\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?%|\d*\.\d+)(?![\w.])")
MARKDOWN_LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)")
_LINE_ANCHOR = re.compile(r"^L(\d+)(?:-L(\d+))?$")


@dataclass(frozen=True)
class Finding:
    """One problem: where it is, what it is and how to fix it."""

    rule: str
    path: str
    line: int
    problem: str
    fix: str


@dataclass
class Report:
    """Everything ``check`` found and estimated."""

    findings: list[Finding] = field(default_factory=list)
    speaking_minutes: tuple[float, float] = (0.0, 0.0)
    spoken_words: int = 0
    notes: list[str] = field(default_factory=list)
    resume_bullets: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The report as JSON, for tools and CI."""
        return json.dumps(asdict(self), indent=2)


def check_project(project: Path) -> Report:
    """Run every rule on ``project``'s README."""
    project = project.expanduser().resolve()
    readme = project / "README.md"
    if not readme.is_file():
        raise UsageError(f"{project} has no README.md", "run check on a generated project folder")
    text = readme.read_text(encoding="utf-8")
    parsed = walkthrough.parse(text)
    summary = load_summary(project)
    from_runs = logged.logged_metrics(project)
    metrics = {**(from_runs or {}), **_summary_metrics(summary)}
    report = Report(spoken_words=parsed.spoken_words)
    low, high = (parsed.spoken_words / wpm for wpm in reversed(WORDS_PER_MINUTE))
    report.speaking_minutes = (round(low, 1), round(high, 1))
    report.findings = [
        *_placeholders(parsed),
        *_structure(parsed),
        *_result_number(parsed),
        *_unverified_numbers(parsed, metrics),
        *_tradeoff(parsed),
        *_reflection(parsed),
        *_links(project, parsed.lines),
        *_speaking_time(parsed, report.speaking_minutes),
        *_page_budget(text),
        *_run_warnings(summary),
        *_answers(project, text, summary, from_runs),
    ]
    report.notes = _notes(project, parsed)
    if from_runs is None:
        report.notes.append(
            "could not read the MLflow runs (no Python with MLflow found): "
            "run `make install` in the project, then check again"
        )
    if metrics and summary:
        report.resume_bullets = [str(b) for b in summary.get("resume_bullets", [])][:2]
    return report


def _finding(rule: str, line: int, problem: str, fix: str) -> Finding:
    return Finding(rule, "README.md", line, problem, fix)


def _run_warnings(summary: dict[str, Any]) -> Iterator[Finding]:
    """What the run itself flagged (the classifier's leakage screen), from the summary."""
    for warning in summary.get("warnings", []):
        yield Finding(
            "run-warning",
            contract.SUMMARY_FILE,
            1,
            str(warning),
            "answer it before you show the project (the README's screen line says how)",
        )


def _answers(
    project: Path, text: str, summary: dict[str, Any], runs: dict[str, float] | None
) -> Iterator[Finding]:
    """The question table answers from the reported run, and its evidence exists.

    ``make report`` writes each answer (question, this run's one-line answer, evidence
    links) to the summary and into README's ``questions`` block. A table that still shows
    the template's text, a cell that no longer matches the summary, a summary whose run is
    gone from MLflow, a missing evidence file, or a JSON evidence file written by another
    run each leave the user quoting something their latest run did not show.
    """
    block = walkthrough.auto_blocks(text).get("questions")
    if block is None:
        return
    line = block[0]
    answers = summary.get("answers") or []
    if not answers:
        yield _finding(
            "unanswered-questions",
            line,
            "the interview-question table has no answers from a run yet",
            "run `make train` then `make report`",
        )
        return
    run_id = str(summary.get("run_id", ""))
    if runs and run_id and not any(key.startswith(f"{run_id}:") for key in runs):
        yield _finding(
            "stale-answers",
            line,
            f"the answers come from run {run_id}, which MLflow no longer has",
            "run `make report` to answer from the current run",
        )
    for answer in answers:
        question, shown = str(answer.get("question", "")), str(answer.get("answer", ""))
        if shown not in text:
            yield _finding(
                "stale-answers",
                line,
                f"README does not show the reported answer to '{question}'",
                "run `make report` (it rewrites only the table)",
            )
        for link in answer.get("evidence", []):
            problem = _evidence_problem(project, str(link), run_id)
            if problem:
                yield _finding(
                    "missing-evidence",
                    line,
                    f"'{question}': {link} {problem}",
                    "run `make train` then `make report` to regenerate the evidence",
                )


def _evidence_problem(project: Path, link: str, run_id: str) -> str | None:
    path = project / link.partition("#")[0]
    if not path.exists():
        return "does not exist"
    if path.suffix == ".json" and run_id:
        try:
            written_by = json.loads(path.read_text(encoding="utf-8")).get("run_id")
        except (OSError, ValueError, AttributeError):
            return None
        if written_by and written_by != run_id:
            return f"was written by run {written_by}, not the reported run {run_id}"
    return None


def _placeholders(parsed: walkthrough.Walkthrough) -> Iterator[Finding]:
    for line in parsed.placeholders:
        prompt = parsed.lines[line - 1].split(walkthrough.PLACEHOLDER, 1)[1].strip(" :*_>")
        yield _finding(
            "placeholder",
            line,
            f"placeholder still present: {prompt[:70]}",
            "replace the whole line with your own words",
        )


def _structure(parsed: walkthrough.Walkthrough) -> Iterator[Finding]:
    if not parsed.has_markers:
        yield _finding(
            "structure",
            1,
            "no walkthrough markers",
            "restore the <!-- walkthrough:start/end --> lines around the five sections",
        )
    for name in walkthrough.SECTIONS:
        if parsed.section(name) is None:
            yield _finding("structure", 1, f"no {name} section", f"add a '## {name}' section")


def _result_number(parsed: walkthrough.Walkthrough) -> Iterator[Finding]:
    result = parsed.section("Result")
    if result is not None:
        text = "\n".join(line for _, line in result.prose + result.auto)
        if not _NUMBER.search(text):
            yield _finding(
                "no-number",
                result.line,
                "the Result section cites no number",
                "run `make report` after a training or evaluation run; quote its headline",
            )


def _unverified_numbers(
    parsed: walkthrough.Walkthrough, metrics: dict[str, float]
) -> Iterator[Finding]:
    for section in parsed.sections.values():
        for line, text in section.prose:
            if walkthrough.PLACEHOLDER in text:
                continue
            for match in _NUMBER.finditer(text):
                if not _is_logged(match.group(1), metrics):
                    yield _finding(
                        "unverified-number",
                        line,
                        f"{match.group(1)} matches no metric logged to MLflow",
                        "quote the number from the report block, rounded, or remove it",
                    )


def _is_logged(shown: str, metrics: dict[str, float]) -> bool:
    percent = shown.endswith("%")
    digits = shown.rstrip("%")
    value = float(digits)
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    tolerance = 0.5 * 10**-decimals + 1e-9
    return any(
        abs(value - (metric * 100 if percent else metric)) <= tolerance
        for metric in metrics.values()
    )


def _tradeoff(parsed: walkthrough.Walkthrough) -> Iterator[Finding]:
    action = parsed.section("Action")
    if action is None or any(walkthrough.PLACEHOLDER in text for _, text in action.prose):
        return  # the placeholder finding already says what to write
    if not _TRADEOFF.search(action.prose_text):
        yield _finding(
            "no-tradeoff",
            action.line,
            "the Action section states no tradeoff",
            "say what you gave up and for what (e.g. 'X instead of Y, at the cost of Z')",
        )


def _reflection(parsed: walkthrough.Walkthrough) -> Iterator[Finding]:
    reflection = parsed.section("Reflection")
    if reflection is None:
        return
    words = len(reflection.prose_text.split())
    if words < MIN_REFLECTION_WORDS and not any(
        walkthrough.PLACEHOLDER in text for _, text in reflection.prose
    ):
        yield _finding(
            "no-reflection",
            reflection.line,
            f"the Reflection section has {words} words",
            "say what did not work and what you would do next",
        )


@dataclass(frozen=True)
class MustHave:
    """One thing an interviewer listens for in the walkthrough, and whether it is there."""

    name: str
    section: str
    met: bool
    fix: str


def must_haves(parsed: walkthrough.Walkthrough) -> list[MustHave]:
    """A number from the run, a stated tradeoff and a reflection, judged by check's own
    rules (so ``rehearse`` and ``check`` never disagree about what is missing)."""
    rules = (
        ("a number from the run", "Result", _result_number),
        ("a stated tradeoff", "Action", _tradeoff),
        ("a reflection", "Reflection", _reflection),
    )
    found = []
    for name, section, rule in rules:
        missing = next(rule(parsed), None)
        if parsed.section(section) is None:
            found.append(MustHave(name, section, False, f"add a '## {section}' section"))
        else:
            found.append(MustHave(name, section, missing is None, missing.fix if missing else ""))
    return found


def _links(project: Path, lines: list[str]) -> Iterator[Finding]:
    for number, line in enumerate(lines, 1):
        for match in MARKDOWN_LINK.finditer(line):
            target = match.group(1)
            if re.match(r"^[a-z]+:", target) or (target.startswith("#") and not target[1:]):
                continue
            problem = _broken(project, target)
            if problem:
                yield _finding(
                    "broken-link", number, f"link {target} {problem}", "fix the path or anchor"
                )


def _broken(project: Path, target: str) -> str | None:
    path_part, _, anchor = target.partition("#")
    path = project / path_part if path_part else project / "README.md"
    if not path.exists():
        return "points to a missing file"
    if not anchor or path.is_dir():
        return None
    if match := _LINE_ANCHOR.match(anchor):
        count = len(path.read_text(encoding="utf-8", errors="replace").splitlines())
        last = int(match.group(2) or match.group(1))
        return None if last <= count else f"points past the file's {count} lines"
    if path.suffix.lower() == ".md":
        headings = {
            slug(line.lstrip("#").strip())
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("#")
        }
        return None if anchor in headings else f"names a heading #{anchor} that does not exist"
    return f"uses anchor #{anchor}, which only works on .md files or as #L<line>"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    heading = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return heading.replace(" ", "-")


def _speaking_time(
    parsed: walkthrough.Walkthrough, minutes: tuple[float, float]
) -> Iterator[Finding]:
    if parsed.placeholders:
        return  # the estimate only means something once the prose is the user's
    low, high = minutes
    if high < SPEAKING_MINUTES[0] or low > SPEAKING_MINUTES[1]:
        yield _finding(
            "speaking-time",
            1,
            f"the walkthrough reads in {low}-{high} min ({parsed.spoken_words} words)",
            f"aim for {SPEAKING_MINUTES[0]:.0f}-{SPEAKING_MINUTES[1]:.0f} min: "
            f"{int(SPEAKING_MINUTES[0] * WORDS_PER_MINUTE[1])}-"
            f"{int(SPEAKING_MINUTES[1] * WORDS_PER_MINUTE[0])} words",
        )


def _page_budget(text: str) -> Iterator[Finding]:
    prose = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    # The question table is an index into the evidence, looked up, not read through.
    prose = re.sub(r"<!-- auto:questions -->.*?<!-- /auto:questions -->", " ", prose, flags=re.S)
    prose = re.sub(r"<!--.*?-->", " ", prose, flags=re.DOTALL)
    words = len(re.findall(r"\w+", re.sub(r"\]\([^)\s]*\)", "]", prose)))  # targets unread
    if words > PAGE_BUDGET_WORDS:
        yield _finding(
            "page-budget",
            1,
            f"README has {words} words, over the one-page budget of {PAGE_BUDGET_WORDS}",
            "move detail to docs/ and link it",
        )


def _notes(project: Path, parsed: walkthrough.Walkthrough) -> list[str]:
    try:
        answers = read_answers(project)
    except ProjectError:
        return []
    key, bundled = KINDS[answers["kind"]].bundled_data
    default = answers.get(key) == bundled
    notes = []
    if default:
        notes.append("still uses the template's default data set: fine to learn, weaker to show")
    if default and parsed.placeholders:
        notes.append("still looks like the template: default data set and untouched prose")
    return notes


def load_summary(project: Path) -> dict[str, Any]:
    try:
        summary = json.loads((project / contract.SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _summary_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The numbers ``make report`` wrote beside the README."""
    return {
        f"report:{key}": float(value)
        for key, value in summary.get("metrics", {}).items()
        if isinstance(value, int | float)
    }
