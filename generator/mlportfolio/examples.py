"""Keep ``examples/`` equal to what the templates render with default answers.

``python -m mlportfolio.examples`` regenerates them; ``drift()`` lists what differs
(the test suite fails on any difference, so a template change ships with its example).
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mlportfolio.kinds import KINDS
from mlportfolio.render import NewProject, new_project

EXAMPLE_ANSWERS = {"author_name": "Your Name"}


def examples_root() -> Path:
    """``examples/`` at the repository root (examples exist only in a checkout)."""
    return Path(__file__).resolve().parents[2] / "examples"


def render_example(kind: str, dest: Path) -> Path:
    """Render ``kind`` with default answers into ``dest`` (no git history)."""
    project = new_project(
        NewProject(
            kind=kind,
            dest=dest,
            name=KINDS[kind].example_name,
            defaults=True,
            answers=EXAMPLE_ANSWERS,
            git=False,
        )
    )
    return project.path


def files_under(root: Path) -> set[str]:
    """Relative POSIX paths of every file below ``root``."""
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def drift(kind: str, root: Path | None = None) -> list[str]:
    """Paths that differ between ``examples/KIND`` and a fresh render, with the reason."""
    example = (root or examples_root()) / kind
    with tempfile.TemporaryDirectory() as tmp:
        fresh = render_example(kind, Path(tmp) / kind)
        expected, actual = files_under(fresh), files_under(example) if example.is_dir() else set()
        problems = [f"missing from examples/{kind}: {path}" for path in sorted(expected - actual)]
        problems += [f"not rendered any more: {path}" for path in sorted(actual - expected)]
        problems += [
            f"differs: {path}"
            for path in sorted(expected & actual)
            if not filecmp.cmp(fresh / path, example / path, shallow=False)
        ]
    return problems


def regenerate(root: Path | None = None, kinds: Sequence[str] = ()) -> list[Path]:
    """Re-render the examples of ``kinds`` (all when empty) in place; return the folders."""
    root = root or examples_root()
    written = []
    for kind in kinds or KINDS:
        target = root / kind
        with tempfile.TemporaryDirectory() as tmp:
            fresh = render_example(kind, Path(tmp) / kind)
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(fresh, target)
        written.append(target)
    return written


def main() -> None:
    """Regenerate ``examples/`` (``make examples``; ``python -m mlportfolio.examples rag``)."""
    kinds = sys.argv[1:]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        sys.exit(f"unknown kind {', '.join(unknown)}: choose from {', '.join(KINDS)}")
    for path in regenerate(kinds=kinds):
        print(f"regenerated {path}")
    sys.exit(0)


if __name__ == "__main__":
    main()
