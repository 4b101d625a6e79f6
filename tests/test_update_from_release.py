"""A project made by the last release moves to this version's layout with `mlportfolio update`.

The release (0.1.0) is rebuilt from this repository's own history: its generator and
templates are extracted at the release commit and run as a user ran them. The project gets
a dozen user edits, then the installed generator updates it. Every edit must survive
(following files the new layout moved) or be reported as a conflict; once the user resolves
the conflicts, the project's own tests pass.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mlportfolio import __version__, gitrepo
from mlportfolio.kinds import KINDS
from mlportfolio.update import update_project
from tests.test_update import _apply_user_edits

REPO = Path(__file__).resolve().parents[1]
RELEASE = "0.1.0"
RELEASE_COMMIT = "c99c66297a06457c3c0626e242e55a922ff8fe3e"  # the commit that shipped 0.1.0
CONFLICT_MARKERS = ("<<<<<<<", "=======", ">>>>>>>")


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release's generator and templates, extracted from git history."""
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(REPO),
            "archive",
            "--format=tar",
            RELEASE_COMMIT,
            "generator",
            "templates",
        ],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.fail(
            f"release commit {RELEASE_COMMIT[:8]} is not in this clone's history "
            f"({archive.stderr.decode().strip()}); clone without --depth to run this test"
        )
    root = tmp_path_factory.mktemp("release")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(root, filter="data")
    return root


def _render_with_release(release: Path, kind: str, dest: Path, env: dict[str, str]) -> None:
    """``mlportfolio new KIND DEST --defaults`` as the release's command ran it."""
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); import mlportfolio.cli as cli; "
        "assert cli.__file__.startswith(sys.path[0]), cli.__file__; cli.main()"
    )
    command = [sys.executable, "-c", code, str(release / "generator")]
    command += ["new", kind, str(dest), "--defaults", "--name", "my-proj"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr


def _resolve_as_the_template(project: Path, conflicts: list[str]) -> None:
    """What a user does who keeps the new template's side of each conflict."""
    if not conflicts:
        return
    for path in conflicts:
        if (project / path).exists():
            text = (project / path).read_text()
            kept, side = [], None
            for line in text.splitlines(keepends=True):
                if line.startswith("<<<<<<<"):
                    side = "ours"
                elif line.startswith("=======") and side == "ours":
                    side = "theirs"
                elif line.startswith(">>>>>>>") and side == "theirs":
                    side = None
                elif side != "ours":
                    kept.append(line)
            (project / path).write_text("".join(kept))
    gitrepo.commit_all(project, "Resolve the template update")


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_release_project_with_user_edits_moves_to_the_new_layout(
    kind: str, release: Path, tmp_path: Path, project_env: dict[str, str]
) -> None:
    project = tmp_path / "proj"
    _render_with_release(release, kind, project, project_env)
    package = "my_proj"
    assert (project / "src" / package / "tracking.py").is_file(), "the release's flat layout"
    scenario = _apply_user_edits(project, package)
    data_before = scenario.data_file.read_bytes()

    result = update_project(project)

    assert (result.old_version, result.new_version) == (RELEASE, __version__)
    print(f"{kind}: {len(result.changed)} files changed, conflicts: {result.conflicts}")
    conflicts = set(result.conflicts)
    src = project / "src" / package
    assert (src / "ops" / "tracking.py").is_file(), "the new layout arrived"
    assert (project / "tests" / "test_layout.py").is_file()
    assert not (src / "tracking.py").exists(), "moved, not copied"

    def kept(path: str, *texts: str) -> bool:
        if path in conflicts:
            return True
        content = (project / path).read_text()
        return all(text in content for text in texts)

    # each user edit is in the merged file, or that file is listed as a conflict
    assert kept("README.md", "> Built for my portfolio by Ada.", "## My notes", "work in progress")
    assert kept("Makefile", "hello:", "(Ada's copy)")
    assert kept("pyproject.toml", "[tool.coverage.run]", 'description = "Ada: ')
    tracking = f"src/{package}/ops/tracking.py"
    assert kept(tracking, '"""[Ada] ', "def owner()"), "edits follow the moved file"
    assert kept(f"src/{package}/__init__.py", 'AUTHOR = "ada"')
    assert kept(".gitignore", "# Python (Ada)", "scratch/")
    assert kept(".github/workflows/ci.yml", "name: ada-ci")
    assert not (project / "tests" / "test_tracking.py").exists() or (
        "tests/test_tracking.py" in conflicts
    ), "a file the user deleted stays deleted unless reported"
    for added in ("notes/interview.md", "docs/architecture.md", ".env.example"):
        assert (project / added).is_file(), added
    assert (project / "tests" / "test_extra.py").is_file()
    assert (src / "extra.py").is_file()
    assert scenario.data_file.read_bytes() == data_before
    unmarked = [
        path
        for path in subprocess.run(
            ["git", "-C", str(project), "ls-files"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        if path not in conflicts
        and (project / path).is_file()
        and (project / path).stat().st_size < 1_000_000
        and any(
            line.startswith(CONFLICT_MARKERS[0])
            for line in (project / path).read_text(errors="replace").splitlines()
        )
    ]
    assert unmarked == [], "conflict markers in files not reported as conflicts"

    # the user resolves the conflicts, then the project's own tests pass
    _resolve_as_the_template(project, result.conflicts)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"],
        cwd=project,
        env=project_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
