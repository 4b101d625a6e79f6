"""README's system diagram stays true: every box names real modules or make targets.

A diagram drawn once goes stale the day a module is renamed. This test reads the Mermaid
block of README.md and fails when a box names a file under ``src/python_docs_qa/``
or a ``make`` target that does not exist, or names neither (a box nobody can open).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "python_docs_qa"
BOX = re.compile(r'\w+\[\(?"([^"]+)"\)?\]')  # node["label"] or node[("label")]
FILE = re.compile(r"[\w/]+\.(?:py|js)\b")
TARGET = re.compile(r"make ([a-z][a-z-]*)")


def _diagram() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```mermaid\n(.*?)```", readme, flags=re.DOTALL)
    assert found, "README.md has no ```mermaid block"
    return found.group(1)


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))


def test_every_box_of_the_system_diagram_names_a_real_module_or_target() -> None:
    boxes = BOX.findall(_diagram())
    assert len(boxes) >= 5, boxes
    targets = _make_targets()
    for label in boxes:
        files, named = FILE.findall(label), TARGET.findall(label)
        assert files or named, f"box '{label}' names no module and no make target"
        for file in files:
            assert (SOURCE / file).is_file(), f"box '{label}': no src/{SOURCE.name}/{file}"
        for target in named:
            assert target in targets, f"box '{label}': no `make {target}` in the Makefile"


def test_the_diagram_check_notices_a_renamed_module() -> None:
    first = FILE.findall(_diagram())[0]
    renamed = _diagram().replace(first, first.replace(".", "_v2."))
    files = [file for label in BOX.findall(renamed) for file in FILE.findall(label)]
    assert any(not (SOURCE / file).is_file() for file in files)
