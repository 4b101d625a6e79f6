"""`mlportfolio update`: a newer template arrives, every user edit survives."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import Result

from mlportfolio import gitrepo
from mlportfolio.errors import ProjectError
from mlportfolio.kinds import KINDS
from mlportfolio.render import NewProject, new_project
from mlportfolio.templates import template_root
from mlportfolio.update import update_project
from tests.conftest import tree_digest

Cli = Callable[..., Result]
NEXT = "0.3.0"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _tracking_module(src: Path) -> Path:
    """``ops/tracking.py`` since 0.2.0, ``tracking.py`` in 0.1.0's flat layout."""
    moved = src / "ops" / "tracking.py"
    return moved if moved.is_file() else src / "tracking.py"


@dataclass(frozen=True)
class Scenario:
    project: Path
    package: str
    data_file: Path


def _apply_user_edits(project: Path, package: str) -> Scenario:
    """Twenty edits of the kinds users make: code, prose, config, files added/removed."""
    src = project / "src" / package
    readme = project / "README.md"
    title = readme.read_text().splitlines()[0]
    _edit(readme, title, f"{title}\n\n> Built for my portfolio by Ada.")  # 1
    _append(readme, "\n## My notes\n\nThe threshold matters more than the model.\n")  # 2
    _edit(readme, "\n\n", "\n\nStatus: work in progress.\n\n")  # 3 (after the title)
    _append(project / "Makefile", "\nhello:  ## Say hello\n\t@echo hello\n")  # 4
    first = (project / "Makefile").read_text().splitlines()[0]
    _edit(project / "Makefile", first, f"{first} (Ada's copy)")  # 5
    _append(project / "pyproject.toml", "\n[tool.coverage.run]\nbranch = true\n")  # 6
    _edit(project / "pyproject.toml", 'description = "', 'description = "Ada: ')  # 7
    tracking = _tracking_module(src)
    _edit(tracking, '"""', '"""[Ada] ')  # 8
    _append(tracking, '\n\ndef owner() -> str:\n    return "ada"\n')  # 9
    _append(src / "__init__.py", '\nAUTHOR = "ada"\n')  # 10
    _edit(project / ".gitignore", "# Python\n", "# Python (Ada)\n")  # 11: will conflict
    _append(project / ".gitignore", "scratch/\n")  # 12
    _edit(project / ".github/workflows/ci.yml", "name: ci", "name: ada-ci")  # 13
    (project / "tests" / "test_tracking.py").unlink()  # 14: a deleted file
    (project / "notes").mkdir()
    (project / "notes" / "interview.md").write_text("# What I will say\n")  # 15
    (src / "extra.py").write_text("def double(x: int) -> int:\n    return 2 * x\n")  # 16
    (project / "tests" / "test_extra.py").write_text(
        f"from {package}.extra import double\n\n\ndef test_double() -> None:\n"
        "    assert double(2) == 4\n"
    )  # 17
    (project / "docs").mkdir(exist_ok=True)
    (project / "docs" / "architecture.md").write_text("# Architecture\n")  # 18
    (project / ".env.example").write_text("MLFLOW_TRACKING_URI=\n")  # 19
    data_files = sorted((project / "data").rglob("*")) if (project / "data").exists() else []
    bundled = [path for path in data_files if path.is_file()]
    data_file = bundled[0] if bundled else project / "data" / "raw" / "mine.csv"
    data_file.parent.mkdir(parents=True, exist_ok=True)
    data_file.write_text("replaced,by,ada\n1,2,3\n")  # 20: a replaced data set
    gitrepo.commit_all(project, "My edits")
    return Scenario(project, package, data_file)


def _next_template(tmp_path: Path, kind: str) -> Path:
    """Version N+1 of the templates: three clean changes and one that conflicts."""
    root = tmp_path / "templates-next"
    shutil.copytree(template_root(), root)
    includes = root / "includes"
    _edit(includes / "tracking.py.jinja", 'CHAMPION = "champion"\n',
          'CHAMPION = "champion"\nCHALLENGER = "challenger"\n')  # fmt: skip
    _append(
        includes / "github-ci.yml.jinja", "      - name: Type check\n        run: make typecheck\n"
    )
    (root / kind / "CONTRIBUTING.md").write_text("# Contributing\n\nRun `make test`.\n")
    _edit(includes / "gitignore.jinja", "# Python\n", "# Python build outputs\n")  # conflicts
    return root


def _render(tmp_path: Path, kind: str) -> Path:
    return new_project(NewProject(kind=kind, dest=tmp_path / "proj", name="my-proj")).path


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_update_keeps_every_user_edit_and_brings_template_changes(
    kind: str, tmp_path: Path, project_env: dict[str, str]
) -> None:
    project = _render(tmp_path, kind)
    scenario = _apply_user_edits(project, "my_proj")
    data_before = scenario.data_file.read_bytes()
    result = update_project(project, template_root=_next_template(tmp_path, kind), version=NEXT)

    assert result.conflicts == [".gitignore"]
    assert {"CONTRIBUTING.md", ".github/workflows/ci.yml", ".gitignore"} <= set(result.changed)
    # the template changes that do not conflict arrived
    src = project / "src" / "my_proj"
    assert 'CHALLENGER = "challenger"' in (src / "ops" / "tracking.py").read_text()
    assert (project / "CONTRIBUTING.md").is_file()
    assert "make typecheck" in (project / ".github/workflows/ci.yml").read_text()
    # the conflict is shown with standard markers holding both sides
    gitignore = (project / ".gitignore").read_text()
    assert "<<<<<<<" in gitignore
    assert "# Python (Ada)" in gitignore
    assert "# Python build outputs" in gitignore
    # all twenty user edits survived
    readme = (project / "README.md").read_text()
    for text in ("> Built for my portfolio by Ada.", "## My notes", "Status: work in progress."):
        assert text in readme
    makefile = (project / "Makefile").read_text()
    assert "hello:" in makefile
    assert "(Ada's copy)" in makefile
    pyproject = (project / "pyproject.toml").read_text()
    assert "[tool.coverage.run]" in pyproject
    assert 'description = "Ada: ' in pyproject
    tracking = (src / "ops" / "tracking.py").read_text()
    assert '"""[Ada] ' in tracking
    assert "def owner()" in tracking
    assert 'AUTHOR = "ada"' in (src / "__init__.py").read_text()
    assert "scratch/" in gitignore
    assert "name: ada-ci" in (project / ".github/workflows/ci.yml").read_text()
    assert not (project / "tests" / "test_tracking.py").exists()
    for added in (
        "notes/interview.md",
        "docs/architecture.md",
        ".env.example",
        "tests/test_extra.py",
    ):
        assert (project / added).is_file()
    assert (src / "extra.py").is_file()
    assert scenario.data_file.read_bytes() == data_before
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["template_version"] == NEXT

    # resolve the one conflict as the user would, then the project's own tests pass
    (project / ".gitignore").write_text(
        "\n".join(line for line in gitignore.splitlines()
                  if not line.startswith(("<<<<<<<", "=======", ">>>>>>>", "# Python build")))
        + "\n"
    )  # fmt: skip
    gitrepo.commit_all(project, "Merge the template update")
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"],
        cwd=project, env=project_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-3000:]

    # a second update finds the new pristine commit: nothing left to change
    again = update_project(
        project, template_root=_next_template(tmp_path / "b", kind), version=NEXT
    )
    assert again.changed == []


def test_dry_run_writes_nothing(
    tmp_path: Path, run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _render(tmp_path, "classifier")
    _apply_user_edits(project, "my_proj")
    before = tree_digest(project)
    result = update_project(
        project, dry_run=True, template_root=_next_template(tmp_path, "classifier"), version=NEXT
    )
    assert result.conflicts == [".gitignore"]
    assert "CONTRIBUTING.md" in result.changed
    assert tree_digest(project) == before


def test_update_with_the_same_version_is_a_no_op(tmp_path: Path, run_cli: Cli) -> None:
    project = _render(tmp_path, "rag")
    before = tree_digest(project)
    result = run_cli("update", project)
    assert result.exit_code == 0, result.stderr
    assert "is up to date" in result.stdout
    assert tree_digest(project) == before


def _refusal_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    plain = tmp_path / "plain"
    plain.mkdir()
    project = _render(tmp_path, "classifier")
    cases: dict[str, tuple[Path, str]] = {"not-generated": (plain, "not a project generated")}
    for name, answers, expected in (
        ("answers-not-yaml", "kind: [unclosed\n", "is not valid YAML"),
        ("answers-empty", "", "holds no answers"),
        ("answers-bad-kind", "kind: regression\nproject_name: x\ntemplate_version: 0.1.0\n",
         "kind 'regression' is not one of"),
        ("answers-bad-version", "kind: rag\nproject_name: x\ntemplate_version: soon\n",
         "is not a version"),
        ("answers-bad-name", "kind: rag\nproject_name: json\ntemplate_version: 0.1.0\n",
         "shadows a Python built-in module"),
        ("newer-template", "kind: rag\nproject_name: x\ntemplate_version: 9.0.0\n",
         "newer than the installed"),
    ):  # fmt: skip
        copy = tmp_path / name
        shutil.copytree(project, copy)
        (copy / ".copier-answers.yml").write_text(answers)
        gitrepo.commit_all(copy, "edit answers")
        cases[name] = (copy, expected)
    dirty = tmp_path / "dirty"
    shutil.copytree(project, dirty)
    _append(dirty / "README.md", "uncommitted\n")
    cases["uncommitted-changes"] = (dirty, "uncommitted change")
    no_git = tmp_path / "no-git"
    shutil.copytree(project, no_git)
    shutil.rmtree(no_git / ".git")
    cases["not-a-git-repo"] = (no_git, "is not a git repository")
    return cases


def test_update_refuses_with_one_line(tmp_path: Path, run_cli: Cli) -> None:
    for name, (path, expected) in _refusal_cases(tmp_path).items():
        before = tree_digest(path)
        result = run_cli("update", path)
        assert result.exit_code == ProjectError.exit_code, (name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (name, result.stderr)
        assert expected in lines[0], (name, lines[0])
        assert tree_digest(path) == before, name
