"""The interview walkthrough end to end: render, train, `make report`, `mlportfolio check`.

A freshly trained project's README gets its numbers and run id from MLflow; `check` then
lists exactly the placeholders, and once they hold real prose it exits 0 with a speaking
time estimate and resume bullets. Every evidence link resolves in every template.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlportfolio.check import check_project
from mlportfolio.kinds import KINDS
from mlportfolio.render import NewProject, new_project
from tests.walkthrough_prose import fill_placeholders


def _make(project: Path, env: dict[str, str], *targets: str) -> str:
    result = subprocess.run(
        ["make", *targets, f"PYTHON={sys.executable}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"make {' '.join(targets)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_evidence_link_resolves_in_a_fresh_render(kind: str, tmp_path: Path) -> None:
    project = new_project(NewProject(kind=kind, dest=tmp_path / kind, defaults=True)).path
    broken = [f for f in check_project(project).findings if f.rule == "broken-link"]
    assert broken == []


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_fresh_render_lists_only_placeholders(kind: str, tmp_path: Path) -> None:
    project = new_project(NewProject(kind=kind, dest=tmp_path / kind, defaults=True)).path
    rules = {finding.rule for finding in check_project(project).findings}
    assert rules <= {"placeholder", "no-number", "unanswered-questions"}  # nothing run yet
    assert "placeholder" in rules


@pytest.mark.slow
def test_classifier_walkthrough_from_render_to_a_clean_check(
    tmp_path: Path, project_env: dict[str, str]
) -> None:
    project = new_project(NewProject(kind="classifier", dest=tmp_path / "cr", defaults=True)).path
    _make(project, project_env, "train", "report")
    readme = project / "README.md"
    summary = json.loads((project / "reports/walkthrough.json").read_text())
    assert summary["run_id"] in readme.read_text()
    assert "TODO(you)" in readme.read_text()

    before = readme.read_bytes()
    assert "already up to date" in _make(project, project_env, "report")
    assert readme.read_bytes() == before

    report = check_project(project)
    assert {finding.rule for finding in report.findings} == {"placeholder"}
    assert report.resume_bullets

    fill_placeholders(readme)
    filled = readme.read_bytes()
    _make(project, project_env, "report")
    assert readme.read_bytes() == filled, "make report must not touch the user's prose"

    result = subprocess.run(
        [Path(sys.executable).parent / "mlportfolio", "check", project],
        capture_output=True,
        text=True,
        check=False,
        env=project_env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Speaking time" in result.stdout
    assert "Resume bullets" in result.stdout
