"""The generator and the rendered projects agree: each shared value has one source.

``mlportfolio.contract`` holds the values; rendered projects cannot import it, so each
copy in a template is read back from the rendered examples (which `test_render` keeps
in sync with the templates) and compared. Each kind is defined once, in ``kinds.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from mlportfolio import contract, templates
from mlportfolio.answers import UserInputs
from mlportfolio.cli import app
from mlportfolio.examples import examples_root
from mlportfolio.kinds import KINDS, OPTION_FLAGS
from mlportfolio.names import package_name


def _package(kind: str) -> Path:
    return examples_root() / kind / "src" / package_name(KINDS[kind].example_name)


def _literal(node: ast.expr) -> Any:
    """A literal, also inside ``frozenset({...})``, ``Path("...")`` or ``Field(x, ...)``."""
    if isinstance(node, ast.Call) and node.args:
        return _literal(node.args[0])
    return ast.literal_eval(node)


def _assigned(path: Path, name: str) -> Any:
    """The value assigned to ``name`` at module level or in a class body of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bodies = [tree.body] + [node.body for node in tree.body if isinstance(node, ast.ClassDef)]
    for body in bodies:
        for node in body:
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            else:
                continue
            if any(isinstance(target, ast.Name) and target.id == name for target in targets):
                return _literal(node.value)  # type: ignore[arg-type]
    raise AssertionError(f"{path} assigns no {name}")


def _evaluated(path: Path, name: str) -> Any:
    """A module constant that is an expression of literals (``20 * 1024 * 1024``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return eval(compile(ast.Expression(node.value), str(path), "eval"), {})
    raise AssertionError(f"{path} assigns no {name}")


SHARED = [
    ("classifier", "data.py", "NULL_TOKENS", set, contract.NULL_TOKENS),
    ("classifier", "config.py", "test_size", float, contract.TEST_SIZE),
    ("rag", "documents.py", "DOCUMENT_SUFFIXES", set, contract.CORPUS_SUFFIXES),
    ("rag", "documents.py", "MAX_FILE_BYTES", int, contract.MAX_CORPUS_FILE_BYTES),
    ("rag", "documents.py", "BUILD_EXTRAS", set, contract.CORPUS_BUILD_EXTRAS),
    *[(kind, "ops/readme_blocks.py", "SUMMARY_FILE", str, contract.SUMMARY_FILE) for kind in KINDS],
]


@pytest.mark.parametrize(("kind", "module", "name", "kind_of", "expected"), SHARED)
def test_the_rendered_copy_equals_the_generator_value(
    kind: str, module: str, name: str, kind_of: type, expected: Any
) -> None:
    path = _package(kind) / module
    value = _evaluated(path, name) if kind_of is int else _assigned(path, name)
    assert kind_of(value) == (set(expected) if kind_of is set else expected), f"{path}: {name}"


def test_default_cv_folds_come_from_the_questionnaire() -> None:
    assert contract.default_cv_folds() == templates.questions()["cv_folds"]["default"]


def test_every_kind_the_questionnaire_offers_is_defined_once() -> None:
    offered = set(templates.questions()["kind"]["choices"].values())
    assert offered == set(KINDS)
    for kind in KINDS.values():
        assert (templates.template_root() / kind.name).is_dir()
        key, bundled = kind.bundled_data
        assert key in templates.questions(), f"{kind.name}: {key} is not a template question"
        assert bundled, kind.name


def test_every_kind_option_is_a_documented_cli_flag() -> None:
    import typer.main

    command = typer.main.get_command(app).commands["new"]  # type: ignore[attr-defined]
    flags = {flag for param in command.params for flag in param.opts}
    for option in set().union(*(kind.options for kind in KINDS.values())):
        assert option in UserInputs.__dataclass_fields__
        assert OPTION_FLAGS[option] in flags, option
