"""The few git operations the generator needs, through the git command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_FALLBACK_IDENTITY = ("-c", "user.name=mlportfolio", "-c", "user.email=mlportfolio@localhost")
PRISTINE_TRAILER = "Mlportfolio-Pristine"
# Commits the tool makes on its own must not stop to ask for a signing passphrase.
_UNSIGNED = ("-c", "commit.gpgsign=false")


def git_available() -> bool:
    """Whether a ``git`` executable is on PATH."""
    return shutil.which("git") is not None


def git(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run ``git ARGS`` in ``repo`` and return its stripped standard output."""
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        check=check,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return result.stdout.strip()


def identity(repo: Path) -> tuple[str, ...]:
    """``-c`` options for a neutral author when the user has no git identity set."""
    try:
        if git(repo, "config", "user.name") and git(repo, "config", "user.email"):
            return ()
    except subprocess.CalledProcessError:
        pass
    return _FALLBACK_IDENTITY


def pristine_message(subject: str, version: str) -> str:
    """A commit message marking a pristine template render (found again by update)."""
    return f"{subject}\n\n{PRISTINE_TRAILER}: {version}\n"


def init_and_commit(repo: Path, message: str) -> str:
    """``git init`` ``repo``, commit everything in it and return the commit id."""
    git(repo, "init", "--quiet", "--initial-branch=main")
    return commit_all(repo, message)


def commit_all(repo: Path, message: str) -> str:
    """Commit every change in ``repo`` and return the commit id.

    The user's own git identity is used when configured; otherwise a neutral one, so
    a commit never fails on a fresh machine.
    """
    git(repo, "add", "--all")
    git(repo, *identity(repo), *_UNSIGNED, "commit", "--quiet", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def is_repository(path: Path) -> bool:
    """Whether ``path`` is the top folder of a git work tree."""
    try:
        top = git(path, "rev-parse", "--show-toplevel")
    except (subprocess.CalledProcessError, OSError):
        return False
    return Path(top).resolve() == path.resolve()


def uncommitted(repo: Path) -> list[str]:
    """Changed or untracked (not ignored) paths, as ``git status --porcelain`` lines."""
    return git(repo, "--no-optional-locks", "status", "--porcelain").splitlines()


def latest_pristine(repo: Path) -> str | None:
    """The newest commit reachable from HEAD that is a pristine template render."""
    found = git(repo, "log", "-1", "--format=%H", f"--grep=^{PRISTINE_TRAILER}: ", "HEAD")
    return found or None


def commit_directory(repo: Path, directory: Path, parent: str, message: str) -> str:
    """Commit the files of ``directory`` as a new commit on top of ``parent``.

    Neither the work tree, the index nor any branch of ``repo`` changes: the tree is
    built in a throwaway index, so the commit exists only as an object until merged.
    """
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(repo, f"--work-tree={directory}", "add", "--all", ".", env=env)
        tree = git(repo, "write-tree", env=env)
    return git(repo, *identity(repo), "commit-tree", tree, "-p", parent, "-m", message)


def config_value(key: str) -> str | None:
    """A global git setting such as ``user.name``, or ``None``."""
    if not git_available():
        return None
    try:
        value = git(Path.cwd(), "config", "--global", key)
    except (subprocess.CalledProcessError, OSError):
        return None
    return value or None
