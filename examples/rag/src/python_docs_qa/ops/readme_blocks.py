"""Rewrite the machine-filled blocks of README.md and write reports/walkthrough.json.

A block is everything between ``<!-- auto:NAME -->`` and ``<!-- /auto:NAME -->``. Only
the inside of a block changes; every byte outside the markers (your prose) is kept, and
filling the same blocks twice changes nothing. ``mlportfolio check`` reads
``reports/walkthrough.json`` to verify the numbers you quote and to print resume bullets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

SUMMARY_FILE = Path("reports/walkthrough.json")


class ReadmeBlockError(ValueError):
    """README.md lacks a block the report fills, or its markers are broken."""


@dataclass(frozen=True)
class Answer:
    """One interview question, answered with a number from this run and where it comes from.

    ``evidence`` holds project-relative links (``reports/...``, ``docs/DESIGN.md#anchor``,
    ``src/...``); ``mlportfolio check`` verifies that each one exists.
    """

    question: str
    answer: str
    evidence: tuple[str, ...]


def answers_table(answers: Sequence[Answer]) -> str:
    """The README's question table: the question, this run's answer, the evidence links."""
    rows = [
        [
            answer.question,
            answer.answer,
            ", ".join(f"[{_link_text(link)}]({link})" for link in answer.evidence),
        ]
        for answer in answers
    ]
    return markdown_table(["question", "your run", "evidence"], rows)


def _link_text(link: str) -> str:
    return Path(link.split("#", 1)[0]).name


def fill_blocks(text: str, blocks: Mapping[str, str]) -> str:
    """Return ``text`` with the inside of each named block replaced by its new content."""
    for name, content in blocks.items():
        pattern = re.compile(
            rf"<!-- auto:{re.escape(name)} -->\n(.*?)<!-- /auto:{re.escape(name)} -->",
            flags=re.DOTALL,
        )
        matches = list(pattern.finditer(text))
        if len(matches) != 1:
            raise ReadmeBlockError(
                f"README.md needs exactly one '<!-- auto:{name} -->' ... "
                f"'<!-- /auto:{name} -->' pair; restore the markers to let `make report` fill it"
            )
        start, end = matches[0].span(1)
        text = text[:start] + content.strip("\n") + "\n" + text[end:]
    return text


def update_readme(readme: Path, blocks: Mapping[str, str]) -> bool:
    """Fill ``blocks`` in ``readme``; write only when something changed. True if it did."""
    before = readme.read_text(encoding="utf-8")
    after = fill_blocks(before, blocks)
    if after != before:
        readme.write_text(after, encoding="utf-8")
    return after != before


def publish(
    readme: Path,
    blocks: Mapping[str, str],
    *,
    summary: Path,
    run_id: str,
    metrics: Mapping[str, float],
    resume_bullets: Sequence[str],
    warnings: Sequence[str] = (),
    answers: Sequence[Answer] = (),
) -> bool:
    """Fill README's ``blocks`` and write the ``summary`` that ``mlportfolio check`` reads.

    Returns whether README changed; raises ``ReadmeBlockError`` before writing anything
    when a block's markers are missing. ``warnings`` (e.g. a possible leak) reach
    ``mlportfolio check`` through the summary; ``answers`` fill the ``questions`` block.
    """
    if answers:
        blocks = {**blocks, "questions": answers_table(answers)}
    changed = update_readme(readme, blocks)
    write_summary(
        summary,
        run_id=run_id,
        metrics=metrics,
        resume_bullets=resume_bullets,
        warnings=warnings,
        answers=answers,
    )
    return changed


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_summary(
    path: Path,
    *,
    run_id: str,
    metrics: Mapping[str, float],
    resume_bullets: Sequence[str],
    warnings: Sequence[str] = (),
    answers: Sequence[Answer] = (),
) -> None:
    """Write the run id, quotable metrics, resume bullets, warnings and answers as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "run_id": run_id,
        "metrics": {name: float(value) for name, value in sorted(metrics.items())},
        "resume_bullets": list(resume_bullets),
        "warnings": list(warnings),
        "answers": [asdict(answer) for answer in answers],
    }
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
