"""Render a template into a new project folder, atomically.

The project is rendered into a temporary folder next to DEST, completed there (user
data copied in, git history started) and only then moved into place with one rename.
Whatever goes wrong before that rename, including Ctrl-C, leaves DEST as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import copier
from copier.errors import CopierError

from mlportfolio import __version__, gitrepo, inputs, templates
from mlportfolio.answers import UserInputs
from mlportfolio.errors import DestinationError, RenderError, UsageError
from mlportfolio.kinds import Kind, check_options, get_kind
from mlportfolio.names import package_name

_GENERATOR_ANSWERS = frozenset({"kind", "project_name", "package_name", "template_version"})


@dataclass(frozen=True)
class NewProject:
    """Everything ``mlportfolio new`` was asked to do."""

    kind: str
    dest: Path
    name: str | None = None
    defaults: bool = True
    inputs: UserInputs = field(default_factory=UserInputs)
    answers: Mapping[str, str] = field(default_factory=dict)
    git: bool = True


@dataclass(frozen=True)
class RenderedProject:
    """What was created, for the CLI to report."""

    path: Path
    kind: Kind
    package: str
    warnings: list[str]
    commit: str | None


def new_project(request: NewProject) -> RenderedProject:
    """Render ``request.kind`` into ``request.dest``; refuse before writing anything."""
    kind = get_kind(request.kind)
    check_options(kind, request.inputs.given())
    dest = request.dest.expanduser().absolute()
    _check_destination(dest)
    name = request.name if request.name is not None else dest.name
    package = package_name(name)
    prepared = kind.prepare(request.inputs)
    data: dict[str, Any] = {
        **_parse_overrides(request.answers),
        **prepared.answers,
        "kind": kind.name,
        "project_name": name.strip(),
        "package_name": package,
        "template_version": __version__,
    }
    user_defaults = {"author_name": gitrepo.config_value("user.name") or "Your Name"}

    with _staging_area(dest) as staging:
        project = staging / "project"
        render_template(project, data, user_defaults, defaults=request.defaults)
        commit = _commit(project, kind, prepared.copies, use_git=request.git)
        _move_into_place(project, dest)
    return RenderedProject(dest, kind, package, prepared.warnings, commit)


def _commit(
    project: Path, kind: Kind, copies: list[tuple[Path, str]], *, use_git: bool
) -> str | None:
    """Start the project's history and copy the user's files in; return the commit.

    The first commit is the pristine render: `mlportfolio update` merges the next
    template version against it, so the user's data comes in a second commit.
    """
    commit = None
    use_git = use_git and gitrepo.git_available()
    try:
        if use_git:
            subject = f"Initial commit: mlportfolio {__version__} {kind.name} template"
            message = gitrepo.pristine_message(subject, __version__)
            commit = gitrepo.init_and_commit(project, message)
        for source, relative in copies:
            target = project / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.suffix.lower() in (".csv", ".tsv"):  # a data table: always UTF-8
                inputs.copy_as_utf8(source, target)
            else:  # documents are copied byte for byte
                shutil.copyfile(source, target)
        if use_git and copies:
            commit = gitrepo.commit_all(project, "Add the data set given on the command line")
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise RenderError(
            f"git could not commit the new project: {detail[0]}",
            "check `git config --list` (identity, hooks, signing) and try again",
        ) from None
    return commit


def render_template(
    project: Path,
    data: dict[str, Any],
    user_defaults: dict[str, Any] | None = None,
    *,
    defaults: bool = True,
    template_root: Path | None = None,
) -> None:
    """Run copier on the template root (the bundled one unless given); copier errors
    become ``RenderError``."""
    try:
        copier.run_copy(
            str(template_root or templates.template_root()),
            project,
            data=data,
            user_defaults=user_defaults or {},
            defaults=defaults,
            quiet=True,
            unsafe=False,
            cleanup_on_error=False,
        )
    except KeyboardInterrupt:
        raise
    except ValueError as error:  # copier's word for an answer that fails validation
        raise UsageError(
            f"invalid template answer: {error}", "fix the --set value (see `mlportfolio list`)"
        ) from None
    except CopierError as error:
        raise RenderError(
            f"copier could not render the template: {error}",
            "run with --debug and report it",
        ) from error


def _parse_overrides(pairs: Mapping[str, str]) -> dict[str, Any]:
    """Validate ``--set key=value`` answers against the questionnaire."""
    known = templates.questions()
    for key in pairs:
        if key in _GENERATOR_ANSWERS:
            raise UsageError(
                f"--set {key}=... is decided by the generator",
                "use KIND and --name instead",
            )
        if key not in known:
            raise UsageError(
                f"--set {key}=... is not a template question",
                f"use one of: {', '.join(sorted(set(known) - _GENERATOR_ANSWERS))}",
            )
    return dict(pairs)


def _check_destination(dest: Path) -> None:
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise DestinationError(
                f"destination {dest} exists and is a file", "choose a new folder name"
            )
        if any(dest.iterdir()):
            raise DestinationError(
                f"destination {dest} already exists and is not empty",
                "choose a new folder, or remove this one yourself if you mean to replace it",
            )
    for parent in dest.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DestinationError(
                    f"cannot create {dest}: {parent} is a file", "choose a folder path"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise DestinationError(
                    f"cannot write in {parent}", "choose a folder you can write to"
                )
            return


@contextmanager
def _staging_area(dest: Path) -> Iterator[Path]:
    """A temporary folder beside ``dest`` (same file system, so the final move is a
    rename), removed afterwards together with any parent folders created for it."""
    created = [parent for parent in reversed(dest.parents) if not parent.exists()]
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.mlportfolio-", dir=dest.parent))
    except OSError as error:
        _remove_created(created)
        raise DestinationError(
            f"cannot create {dest}: {error.strerror}", "choose a folder you can write to"
        ) from None
    succeeded = False
    try:
        yield staging
        succeeded = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not succeeded:
            _remove_created(created)


def _remove_created(created: list[Path]) -> None:
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            break


def _move_into_place(project: Path, dest: Path) -> None:
    try:
        if dest.is_dir():
            dest.rmdir()  # empty: checked before rendering
        project.rename(dest)
    except OSError as error:
        raise DestinationError(
            f"cannot move the project into {dest}: {error.strerror}",
            "check that nothing else is writing there and try again",
        ) from None


def is_interactive() -> bool:
    """Whether copier may ask questions (both ends of the terminal are a TTY)."""
    return sys.stdin.isatty() and sys.stdout.isatty()
