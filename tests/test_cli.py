"""The command line: every command, its output and its exit codes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import Result

from mlportfolio import __version__
from mlportfolio.errors import DestinationError
from mlportfolio.kinds import KINDS
from tests.conftest import tree_digest

Cli = Callable[..., Result]


def test_version_prints_the_package_version(run_cli: Cli) -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"mlportfolio {__version__}"


def test_list_shows_each_template_on_one_line(run_cli: Cli) -> None:
    result = run_cli("list")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(KINDS)


def test_no_arguments_shows_help(run_cli: Cli) -> None:
    result = run_cli()
    assert "Usage" in result.stdout
    for command in ("new", "list"):
        assert command in result.stdout


@pytest.mark.parametrize("kind", list(KINDS))
def test_new_renders_a_committed_project_and_prints_next_steps(
    run_cli: Cli, tmp_path: Path, kind: str
) -> None:
    dest = tmp_path / f"my-{kind}"
    result = run_cli("new", kind, dest, "--defaults")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[1] == "Next:"
    assert lines[2].strip() == f"cd {dest} && make install"
    assert len(lines) == 5
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["kind"] == kind
    assert answers["project_name"] == f"my-{kind}"
    assert answers["package_name"] == f"my_{kind}"
    assert answers["template_version"] == __version__
    assert not any(key.startswith("_") for key in answers)
    log = subprocess.run(
        ["git", "log", "--format=%B"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert log.stdout.strip() == (
        f"Initial commit: mlportfolio {__version__} {kind} template\n\n"
        f"Mlportfolio-Pristine: {__version__}"
    )
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def test_name_option_sets_project_and_package_names(run_cli: Cli, tmp_path: Path) -> None:
    result = run_cli("new", "classifier", tmp_path / "dest", "--defaults", "--name", "Credit Risk")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "dest" / "src" / "credit_risk").is_dir()


def test_second_new_on_the_same_destination_changes_nothing(run_cli: Cli, tmp_path: Path) -> None:
    dest = tmp_path / "x"
    assert run_cli("new", "classifier", dest, "--defaults").exit_code == 0
    before = tree_digest(dest)
    result = run_cli("new", "classifier", dest, "--defaults")
    assert result.exit_code == DestinationError.exit_code
    assert len(result.stderr.strip().splitlines()) == 1
    assert "already exists and is not empty" in result.stderr
    assert tree_digest(dest) == before


def test_existing_empty_destination_is_used(run_cli: Cli, tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    dest.mkdir()
    assert run_cli("new", "rag", dest, "--defaults").exit_code == 0
    assert (dest / ".copier-answers.yml").is_file()


def test_missing_parent_folders_are_created(run_cli: Cli, tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b" / "proj"
    assert run_cli("new", "finetune", dest, "--defaults").exit_code == 0
    assert (dest / "Makefile").is_file()


def test_set_answers_a_template_question(run_cli: Cli, tmp_path: Path) -> None:
    dest = tmp_path / "proj"
    result = run_cli(
        "new", "classifier", dest, "--defaults", "--set", "python_version=3.12",
        "--set", "author_name=Ada Lovelace",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["python_version"] == "3.12"
    assert answers["author_name"] == "Ada Lovelace"


def test_debug_shows_the_traceback(run_cli: Cli, tmp_path: Path) -> None:
    result = run_cli("--debug", "new", "nope", tmp_path / "p")
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "UsageError"


def test_console_script_prints_one_red_line_without_traceback(tmp_path: Path) -> None:
    from tests.conftest import VENV_BIN

    result = subprocess.run(
        [VENV_BIN / "mlportfolio", "new", "nope", tmp_path / "p"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_an_unknown_option_is_refused_before_anything_is_written(
    run_cli: Cli, tmp_path: Path
) -> None:
    dest = tmp_path / "proj"
    result = run_cli("new", "classifier", dest, "--defaults", "--data-author-name=Ada")
    assert result.exit_code == 2
    assert "No such option" in result.stderr
    assert not dest.exists()
