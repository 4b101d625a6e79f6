"""Bring a generated project up to the installed template version, keeping every edit.

How the old template version is reconstructed: it is never re-rendered. Every render
is committed as a *pristine* commit (the project's first commit, marked with a
``Mlportfolio-Pristine`` trailer). An update renders the new version with the recorded
answers, commits that tree on top of the last pristine commit (without touching the
work tree or any branch), and lets ``git merge`` do the three-way merge:

- lines only the user changed keep the user's version;
- lines only the template changed take the template's version;
- lines both changed become standard conflict markers, listed at the end;
- files the user deleted stay deleted; files the user added are untouched;
- ignored outputs (mlruns, models, caches) are invisible to git, and the user's data
  under ``data/`` always keeps the user's version.

The merge commit has the new pristine commit as its second parent, so the pristine
history travels with the repository (push, clone) and the next update finds its base.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from mlportfolio import __version__, gitrepo
from mlportfolio.answers_file import read_answers
from mlportfolio.errors import ProjectError
from mlportfolio.render import render_template

USER_DATA_DIR = "data/"


@dataclass(frozen=True)
class UpdateResult:
    """What an update changed (or would change, with ``dry_run``)."""

    path: Path
    old_version: str
    new_version: str
    changed: list[str]
    conflicts: list[str]
    dry_run: bool


def update_project(
    project: Path,
    *,
    dry_run: bool = False,
    template_root: Path | None = None,
    version: str = __version__,
) -> UpdateResult:
    """Merge the template at ``version`` into ``project`` (see the module docstring)."""
    project = project.expanduser().resolve()
    answers = read_answers(project)
    old_version = str(answers["template_version"])
    if Version(old_version) > Version(version):
        raise ProjectError(
            f"{project.name} was rendered by mlportfolio {old_version}, "
            f"newer than the installed {version}",
            "upgrade first: pip install --upgrade mlportfolio",
        )
    if not gitrepo.git_available() or not gitrepo.is_repository(project):
        raise ProjectError(
            f"{project} is not a git repository", "update merges with git: restore the .git folder"
        )
    dirty = gitrepo.uncommitted(project)
    if dirty:
        raise ProjectError(
            f"{project.name} has {len(dirty)} uncommitted change(s), e.g. {dirty[0][3:]}",
            "commit or stash them first, so the update can be reviewed and undone",
        )
    base = gitrepo.latest_pristine(project)
    if base is None:
        raise ProjectError(
            "no pristine template commit in this project's history",
            "it was not created by `mlportfolio new` with git, or its history was rewritten",
        )
    with tempfile.TemporaryDirectory(prefix="mlportfolio-update-") as tmp:
        rendered = Path(tmp) / "render"
        render_template(
            rendered, {**answers, "template_version": version}, template_root=template_root
        )
        # Rehearse in a clone: a dry run (or an update with nothing to do) must not
        # write even a git object into the project.
        rehearsal = Path(tmp) / "clone"
        gitrepo.git(Path(tmp), "clone", "--quiet", "--no-hardlinks", str(project), str(rehearsal))
        repo = rehearsal if dry_run else project
        pristine = _commit_pristine(rehearsal, rendered, base, version)
        changed = gitrepo.git(rehearsal, "diff", "--name-only", base, pristine).splitlines()
        conflicts: list[str] = []
        if changed:
            if not dry_run:
                pristine = _commit_pristine(project, rendered, base, version)
            conflicts = _merge(repo, pristine, version)
    return UpdateResult(project, old_version, version, changed, conflicts, dry_run)


def _commit_pristine(repo: Path, rendered: Path, base: str, version: str) -> str:
    message = gitrepo.pristine_message(f"mlportfolio {version} template render", version)
    return gitrepo.commit_directory(repo, rendered, parent=base, message=message)


def _merge(repo: Path, pristine: str, version: str) -> list[str]:
    """Merge ``pristine`` into HEAD; resolve what policy decides; return real conflicts."""
    identity = gitrepo.identity(repo)
    message = f"Update to mlportfolio template {version}"
    gitrepo.git(
        repo, *identity, "merge", "--no-ff", "--no-edit", "-m", message, pristine, check=False
    )
    unresolved = []
    for line in gitrepo.git(repo, "status", "--porcelain").splitlines():
        status, path = line[:2], line[3:]
        if status == "DU":  # deleted by the user, changed by the template: stays deleted
            gitrepo.git(repo, "rm", "--quiet", "--", path)
        elif status == "UD":  # changed by the user, deleted by the template: user's wins
            gitrepo.git(repo, "add", "--", path)
        elif status in {"UU", "AA"} and path.startswith(USER_DATA_DIR):
            gitrepo.git(repo, "checkout", "--ours", "--", path)
            gitrepo.git(repo, "add", "--", path)
        elif "U" in status or status in {"AA", "DD"}:
            unresolved.append(path)
    if not unresolved and _merging(repo):
        gitrepo.git(repo, *identity, "commit", "--quiet", "--no-verify", "--no-edit")
    return unresolved


def _merging(repo: Path) -> bool:
    try:
        gitrepo.git(repo, "rev-parse", "--verify", "--quiet", "MERGE_HEAD")
    except subprocess.CalledProcessError:
        return False
    return True
