"""Rendering: the exact file set of each kind, no template syntax left, atomic failure."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from mlportfolio import examples, render
from mlportfolio.answers import UserInputs
from mlportfolio.errors import RenderError
from mlportfolio.kinds import KINDS
from mlportfolio.render import NewProject, new_project
from tests.conftest import tree_digest

Cli = Callable[..., Result]
LEFTOVERS = ("{{", "{%", "[[")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".cfg", ".txt", ".html", ".js",
                 ".css", ".json", ".ini", ""}  # fmt: skip
MUST_HAVE = {"README.md", "Makefile", "pyproject.toml", ".copier-answers.yml", ".gitignore",
             ".github/workflows/ci.yml"}  # fmt: skip


@pytest.fixture(scope="module", params=list(KINDS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    kind: str = request.param
    return examples.render_example(kind, tmp_path_factory.mktemp(kind) / kind)


def test_each_kind_renders_exactly_the_files_of_its_example(rendered: Path) -> None:
    example = examples.examples_root() / rendered.name
    assert examples.files_under(rendered) == examples.files_under(example)
    assert examples.files_under(rendered) >= MUST_HAVE


def test_no_template_syntax_is_left_in_any_rendered_file(rendered: Path) -> None:
    for path in rendered.rglob("*"):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8")
        for marker in LEFTOVERS:
            assert marker not in text, f"{marker!r} left in {path.relative_to(rendered)}"
    assert not any("{" in part for part in examples.files_under(rendered))


def test_every_ops_module_is_explained_in_design(rendered: Path) -> None:
    design = (rendered / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    ops = next((rendered / "src").glob("*/ops"))
    missing = [
        m.name
        for m in ops.glob("*.py")
        if m.name != "__init__.py" and f"ops/{m.name}" not in design
    ]
    assert not missing, f"docs/DESIGN.md does not explain: {missing}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_examples_are_in_sync_with_the_templates(kind: str) -> None:
    problems = examples.drift(kind)
    assert not problems, "run `make examples`: " + "; ".join(problems[:5])


def _interrupting_render(*args: Any, **kwargs: Any) -> None:
    project: Path = args[0]
    project.mkdir(parents=True)
    (project / "half-written.py").write_text("partial")
    raise KeyboardInterrupt


def _failing_render(*args: Any, **kwargs: Any) -> None:
    project: Path = args[0]
    project.mkdir(parents=True)
    (project / "half-written.py").write_text("partial")
    raise RenderError("copier could not render the template: boom", "report it")


@pytest.mark.parametrize("fake", [_interrupting_render, _failing_render])
def test_interrupted_or_failed_render_leaves_nothing_behind(
    fake: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "render_template", fake)
    before = tree_digest(tmp_path)
    with pytest.raises((KeyboardInterrupt, RenderError)):
        new_project(NewProject(kind="classifier", dest=tmp_path / "new" / "deep" / "proj"))
    assert tree_digest(tmp_path) == before


def test_ctrl_c_exits_130_with_one_line(
    run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "render_template", _interrupting_render)
    result = run_cli("new", "rag", tmp_path / "proj", "--defaults")
    assert result.exit_code == 130
    assert result.stderr.strip() == "interrupted: nothing was written"
    assert list(tmp_path.iterdir()) == []


def test_user_csv_is_copied_and_configured(tmp_path: Path) -> None:
    data = tmp_path / "loans.csv"
    rows = ["loan_id;income;grade;defaulted"]
    rows += [f"L{i:03d};{1000 + (i * 7919) % 1000};{'ABC'[i % 3]};{'yes' if i % 4 == 0 else 'no'}"
             for i in range(60)]  # fmt: skip
    data.write_text("\n".join(rows) + "\n")
    project = new_project(
        NewProject(
            kind="classifier",
            dest=tmp_path / "loans",
            inputs=UserInputs(data=data, target="defaulted"),
        )
    )
    assert project.warnings == ["column 'loan_id' looks like a row ID and will be dropped"]
    assert (project.path / "data/raw/loans.csv").read_bytes() == data.read_bytes()
    assert not (project.path / "data/raw/credit_data.csv").exists()
    answers = (project.path / ".copier-answers.yml").read_text()
    for line in (
        'data_file: "data/raw/loans.csv"',
        'target: "defaulted"',
        'positive_class: "yes"',
        'csv_sep: ";"',
        'drop_columns: ["loan_id"]',
    ):
        assert line in answers
    readme = (project.path / "README.md").read_text()
    assert readme.splitlines()[2] == (
        "Predict defaulted from loans.csv with a tabular classifier, and serve it over REST."
    )
    assert "a missed `defaulted = yes` (false negative)" in readme
    assert "credit" not in readme.lower()


def test_user_corpus_is_copied_with_its_folder_structure(tmp_path: Path) -> None:
    corpus = tmp_path / "notes"
    (corpus / "guides").mkdir(parents=True)
    (corpus / "intro.md").write_text("# Intro\nHello.\n")
    (corpus / "guides" / "setup.rst").write_text("Setup\n=====\nRun it.\n")
    (corpus / ".hidden.md").write_text("# secret\n")
    project = new_project(
        NewProject(kind="rag", dest=tmp_path / "qa", inputs=UserInputs(corpus=corpus))
    )
    copied = examples.files_under(project.path / "data" / "corpus")
    assert copied == {"intro.md", "guides/setup.rst"}
    assert 'corpus: "custom"' in (project.path / ".copier-answers.yml").read_text()


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_long_project_name_renders_lint_clean_code(kind: str, tmp_path: Path) -> None:
    """The package name lands in code lines; a long one must not push them past 100."""
    dest = tmp_path / "customer-churn-prediction"  # a 25-character package
    project = new_project(NewProject(kind=kind, dest=dest, defaults=True)).path
    ruff = [sys.executable, "-m", "ruff"]
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        result = subprocess.run([*ruff, *command], cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
