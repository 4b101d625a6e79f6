"""The layout a reader relies on: stages in walkthrough order, no cycles, a lean server.

``pipeline.STAGES`` lists the stage modules in the order the README walks through them.
A stage may import earlier stages, never a later one, and no module may take part in an
import cycle, counting imports inside functions and under ``TYPE_CHECKING``: the source
is read with ``ast``, so an import a test never reaches still counts.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = "review_sentiment"
SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(part for part in parts if part != "__init__")


def _imports(path: Path) -> set[str]:
    """The modules of this package that ``path`` imports, wherever the import sits.

    ``from . import data`` counts as importing ``data``; the package ``__init__`` that
    Python also runs on the way is not counted (it holds no code of its own).
    """
    module = _module_name(path)
    parts = module.split(".")
    package = parts if path.name == "__init__.py" else parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            found |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return {name for name in found if name in MODULES and name != module and not _is_package(name)}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


MODULES = {_module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _stages() -> list[str]:
    """``STAGES`` from ``pipeline.py``, read without importing it."""
    tree = ast.parse((SOURCE / "pipeline.py").read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "STAGES" for t in targets):
            return list(ast.literal_eval(node.value))  # type: ignore[attr-defined]
    raise AssertionError("pipeline.py defines no STAGES")


def _cycle() -> list[str] | None:
    """One import cycle as a path ``a -> b -> a``, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        path.append(name)
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[name] = "done"
        return None

    for name in sorted(GRAPH):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_no_module_takes_part_in_an_import_cycle() -> None:
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_stage_imports_only_earlier_stages() -> None:
    stages = _stages()
    assert stages, "pipeline.STAGES is empty"
    for position, stage in enumerate(stages):
        later = {f"{PACKAGE}.{name}" for name in stages[position + 1 :]}
        imported = GRAPH[f"{PACKAGE}.{stage}"] & later
        assert not imported, f"{stage} imports later stages: {sorted(imported)}"


def test_no_module_imports_the_pipeline_entry_point() -> None:
    entry = f"{PACKAGE}.pipeline"
    assert [name for name, targets in GRAPH.items() if entry in targets] == []


def test_the_serving_process_loads_no_plotting_and_no_training_code() -> None:
    code = f"import json, sys, {PACKAGE}.serve; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=SOURCE.parent
    )
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    training = {f"{PACKAGE}.{name}" for name in ("pipeline", "train", "report")}
    assert not {name for name in loaded if name.split(".")[0] == "matplotlib"}
    assert not loaded & training, f"serve loads training code: {sorted(loaded & training)}"
