"""Security linters on each rendered project: bandit on its code, zizmor on its CI workflow.

Both run on a fresh render with default answers (a second or two in all, so not slow-marked);
a finding is either fixed in the template or carries a ``# nosec`` with its reason beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlportfolio import examples
from mlportfolio.kinds import KINDS
from tests.conftest import VENV_BIN


@pytest.fixture(scope="module", params=list(KINDS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    kind: str = request.param
    return examples.render_example(kind, tmp_path_factory.mktemp(kind) / kind)


def _json_report(command: list[str], cwd: Path) -> Any:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        output = result.stdout + result.stderr
        pytest.fail(f"{command[0]} gave no JSON report (exit {result.returncode}):\n{output}")


def test_bandit_finds_no_medium_or_high_issue_in_the_project_code(rendered: Path) -> None:
    report = _json_report(
        [sys.executable, "-m", "bandit", "-q", "-r", "src", "-ll", "-f", "json"], rendered
    )
    assert report["errors"] == [], "bandit could not read some files"
    findings = [
        f"{issue['filename']}:{issue['line_number']} {issue['test_id']} {issue['issue_text']}"
        for issue in report["results"]
    ]
    assert findings == []


def test_zizmor_finds_nothing_in_the_github_workflows(rendered: Path) -> None:
    assert (rendered / ".github" / "workflows" / "ci.yml").is_file()
    zizmor = str(VENV_BIN / "zizmor")  # a binary without a Python module: no `-m` to run
    report = _json_report([zizmor, "--offline", "--format", "json", "."], rendered)
    findings = [f"{finding['ident']}: {finding['desc']}" for finding in report]
    assert findings == []
