"""Shared fixtures: a CLI runner and a way to prove a folder was left untouched."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mlportfolio.cli import app

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def tree_digest(root: Path) -> str:
    """A hash of every path, file mode and byte below ``root`` (``root`` included)."""
    digest = hashlib.sha256()
    if not root.exists():
        return "absent"
    for path in sorted([root, *root.rglob("*")]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(oct(path.lstat().st_mode).encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke ``mlportfolio ARGS`` in-process and return the click result."""
    runner = CliRunner()

    def invoke(*args: str | os.PathLike[str]) -> Result:
        return runner.invoke(app, [str(arg) for arg in args])

    return invoke


@pytest.fixture
def project_env() -> dict[str, str]:
    """Environment for running a rendered project's commands with this venv."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env.pop("MLFLOW_TRACKING_URI", None)
    return env
