"""Read a project README laid out as the interview walkthrough.

The README contract (written by ``templates/includes/walkthrough.md.jinja``):

- the walkthrough sits between ``<!-- walkthrough:start -->`` and
  ``<!-- walkthrough:end -->``, as ``## `` sections named Situation, Task, Action,
  Result and Reflection;
- a line holding ``TODO(you)`` is a placeholder for the user's own words;
- ``<!-- auto:NAME -->`` ... ``<!-- /auto:NAME -->`` blocks are rewritten by the
  project's ``make report`` from its MLflow run; nothing outside them is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

START, END = "<!-- walkthrough:start -->", "<!-- walkthrough:end -->"
PLACEHOLDER = "TODO(you)"
SECTIONS = ("Situation", "Task", "Action", "Result", "Reflection")
_AUTO_OPEN = re.compile(r"<!-- auto:([\w-]+) -->")
_AUTO_CLOSE = re.compile(r"<!-- /auto:([\w-]+) -->")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_WORD = re.compile(r"[A-Za-z0-9][\w'\u2019.%-]*")


@dataclass
class Section:
    """One ``## `` section of the walkthrough, split into user prose and auto lines."""

    name: str
    line: int
    prose: list[tuple[int, str]] = field(default_factory=list)
    auto: list[tuple[int, str]] = field(default_factory=list)

    @property
    def prose_text(self) -> str:
        """The user's own words (placeholders left out)."""
        return "\n".join(text for _, text in self.prose if PLACEHOLDER not in text)


@dataclass
class Walkthrough:
    """The parsed README: sections, placeholders and the spoken words."""

    lines: list[str]
    sections: dict[str, Section]
    placeholders: list[int]
    spoken_words: int
    has_markers: bool

    def section(self, name: str) -> Section | None:
        """The section whose heading starts with ``name``, if any."""
        return self.sections.get(name)


def _spoken(text: str) -> int:
    text = _COMMENT.sub(" ", text)
    if text.lstrip().startswith("|"):  # tables are shown, not read aloud
        return 0
    return len(_WORD.findall(text))


def parse(text: str) -> Walkthrough:
    """Parse README text into a ``Walkthrough``."""
    lines = text.splitlines()
    sections: dict[str, Section] = {}
    placeholders = [number for number, line in enumerate(lines, 1) if PLACEHOLDER in line]
    inside = START not in text
    current: Section | None = None
    auto_block: str | None = None
    in_code = False
    words = 0
    for number, line in enumerate(lines, 1):
        if START in line:
            inside = True
            continue
        if END in line:
            inside = False
            current = None
            continue
        if not inside:
            continue
        if line.startswith("## "):
            heading = line[3:].strip()
            name = next((s for s in SECTIONS if s.lower() in heading.lower()), heading)
            current = sections.setdefault(name, Section(name, number))
            continue
        if match := _AUTO_OPEN.search(line):
            auto_block = match.group(1)
            continue
        if _AUTO_CLOSE.search(line):
            auto_block = None
            continue
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        if in_code or current is None:
            continue
        (current.auto if auto_block else current.prose).append((number, line))
        if PLACEHOLDER not in line:
            words += _spoken(line)
    return Walkthrough(lines, sections, placeholders, words, START in text and END in text)


def auto_blocks(text: str) -> dict[str, tuple[int, int]]:
    """``name -> (first, last)`` line numbers (1-based, marker lines) of each auto block."""
    blocks: dict[str, tuple[int, int]] = {}
    opened: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if match := _AUTO_OPEN.search(line):
            opened[match.group(1)] = number
        elif (match := _AUTO_CLOSE.search(line)) and match.group(1) in opened:
            blocks[match.group(1)] = (opened.pop(match.group(1)), number)
    return blocks
