"""The built wheel carries the templates: installed in a fresh venv, it renders every kind."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlportfolio import examples
from mlportfolio.kinds import KINDS
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", out, REPO_ROOT],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("mlportfolio-*.whl")
    return built


def test_wheel_ships_every_template_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    template_files = {
        f"mlportfolio/templates/{path.relative_to(REPO_ROOT / 'templates').as_posix()}"
        for path in (REPO_ROOT / "templates").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert template_files <= names
    assert "mlportfolio/templates/copier.yml" in names


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_renders_every_kind(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel],
        check=True,
        capture_output=True,
    )
    for kind in KINDS:
        dest = tmp_path / "out" / kind
        subprocess.run(
            [venv / "bin" / "mlportfolio", "new", kind, dest, "--defaults",
             "--name", KINDS[kind].example_name, "--set", "author_name=Your Name"],
            check=True,
            capture_output=True,
            cwd=tmp_path,
        )  # fmt: skip
        rendered = examples.files_under(dest) - {
            path for path in examples.files_under(dest) if path.startswith(".git/")
        }
        assert rendered == examples.files_under(examples.examples_root() / kind)
