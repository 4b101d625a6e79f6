"""Each rendered project passes its own linters and test suite, with no network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlportfolio import examples
from mlportfolio.kinds import KINDS


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_rendered_project_is_lint_clean_and_its_tests_pass(
    kind: str, tmp_path: Path, project_env: dict[str, str]
) -> None:
    project = examples.render_example(kind, tmp_path / kind)
    for command in (
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
    ):
        result = subprocess.run(
            command, cwd=project, env=project_env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{' '.join(command[2:])}:\n{result.stdout}{result.stderr}"
