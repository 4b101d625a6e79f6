"""The few git operations the generator needs, through the git command line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

_FALLBACK_IDENTITY = ("-c", "user.name=mlportfolio", "-c", "user.email=mlportfolio@localhost")


def git_available() -> bool:
    """Whether a ``git`` executable is on PATH."""
    return shutil.which("git") is not None


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return result.stdout.strip()


def _has_identity(repo: Path) -> bool:
    try:
        return bool(_git(repo, "config", "user.name")) and bool(_git(repo, "config", "user.email"))
    except subprocess.CalledProcessError:
        return False


def init_and_commit(repo: Path, message: str) -> str:
    """``git init`` ``repo``, commit everything in it and return the commit id.

    The user's own git identity is used when configured; otherwise a neutral one, so
    the first commit never fails on a fresh machine.
    """
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all")
    identity = () if _has_identity(repo) else _FALLBACK_IDENTITY
    _git(repo, *identity, "commit", "--quiet", "--no-verify", "--message", message)
    return _git(repo, "rev-parse", "HEAD")


def config_value(key: str) -> str | None:
    """A global git setting such as ``user.name``, or ``None``."""
    if not git_available():
        return None
    try:
        value = _git(Path.cwd(), "config", "--global", key)
    except (subprocess.CalledProcessError, OSError):
        return None
    return value or None
