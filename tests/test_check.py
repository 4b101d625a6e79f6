"""`mlportfolio check`: each rule has a failing and a passing fixture."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from mlportfolio.check import check_project, slug

Cli = Callable[..., Result]

SITUATION = (
    "Loan officers approve credit by hand, and every missed defaulter costs the lender "
    "the unpaid balance, while a good applicant turned away costs only a margin. "
)
FILLER = "We measured it on the test set and compared it with the baseline model. " * 4


def _readme(
    *,
    situation: str = SITUATION * 8,
    action: str = "I chose boosting instead of the linear model, at the cost of "
    "explainability, because it was clearly better. " * 6,
    result: str = "Holdout PR-AUC was 0.61 against 0.52 for the baseline. " + FILLER * 3,
    reflection: str = "Target encoding overfitted the small categories, so I dropped it; "
    "next I would add monotonic constraints and a drift monitor. " * 4,
    extra: str = "",
) -> str:
    return f"""# Credit risk

<!-- walkthrough:start -->
## Situation: the problem

{situation}

## Task: the data

{FILLER * 6}

<!-- auto:dataset -->
| rows | 4454 |
<!-- /auto:dataset -->

## Action: the model and the one tradeoff

{action}

## Result: one number

{result}

<!-- auto:headline -->
**Headline:** PR-AUC 0.612 (run abc).
<!-- /auto:headline -->

## Reflection: what didn't work

{reflection}
<!-- walkthrough:end -->

## Evidence

- [leakage](src/pkg/train.py#L2)
- [the notes](docs/notes.md#the-threshold)
{extra}
"""


ANSWERS = (
    'kind: "classifier"\nproject_name: "mine"\ntemplate_version: "0.1.0"\n'
    'data_file: "data/raw/{data}"\n'
)


@pytest.fixture(scope="module")
def tracking_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MLflow store with one run, logged through MLflow's client API."""
    from mlflow.tracking import MlflowClient

    database = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{database}")
    run = client.create_run(client.create_experiment("pkg"))
    client.log_metric(run.info.run_id, "test_pr_auc", 0.6123)
    client.log_metric(run.info.run_id, "baseline_test_pr_auc", 0.5181)
    return database


@pytest.fixture
def project(tmp_path: Path, tracking_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "train.py").write_text("import x\npipeline.fit(X, y)\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text("# Notes\n\n## The threshold\n")
    (tmp_path / ".copier-answers.yml").write_text(ANSWERS.format(data="mine.csv"))
    shutil.copy(tracking_db, tmp_path / "mlflow.db")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "walkthrough.json").write_text(
        json.dumps({"metrics": {"test_pr_auc": 0.6123}, "resume_bullets": ["one", "two"]})
    )
    return tmp_path


def _rules(project: Path, readme: str) -> list[str]:
    (project / "README.md").write_text(readme)
    return [finding.rule for finding in check_project(project).findings]


def test_a_filled_readme_passes(project: Path) -> None:
    assert _rules(project, _readme()) == []


@pytest.mark.parametrize(
    ("rule", "readme"),
    [
        ("placeholder", _readme(situation="> TODO(you): who is hurt?\n\n" + SITUATION * 8)),
        ("no-number", _readme(result=FILLER * 3).replace("PR-AUC 0.612 (run abc).", "soon")),
        ("unverified-number", _readme(result="Holdout PR-AUC was 0.93, a record. " + FILLER * 3)),
        ("no-tradeoff", _readme(action="I chose boosting because it was better. " * 8)),
        ("no-reflection", _readme(reflection="It worked.")),
        ("broken-link", _readme(extra="- [gone](src/pkg/missing.py)")),
        ("broken-link", _readme(extra="- [past the end](src/pkg/train.py#L99)")),
        ("broken-link", _readme(extra="- [no heading](docs/notes.md#nope)")),
        ("speaking-time", _readme(situation="Short.", result="PR-AUC 0.61.", action="X vs Y.")),
        ("speaking-time", _readme(situation=SITUATION * 60)),
        ("page-budget", _readme(extra="word " * 1500)),
        ("structure", _readme().replace("## Reflection", "## Later")),
    ],
)
def test_each_rule_fails_its_fixture(project: Path, rule: str, readme: str) -> None:
    assert rule in _rules(project, readme)


def test_a_leak_flagged_by_the_run_is_a_finding(project: Path) -> None:
    summary = project / "reports" / "walkthrough.json"
    flagged = {**json.loads(summary.read_text()), "warnings": ["possible leak: follow_up_days"]}
    summary.write_text(json.dumps(flagged))
    (project / "README.md").write_text(_readme())
    [finding] = check_project(project).findings
    assert finding.rule == "run-warning" and "follow_up_days" in finding.problem


QUESTIONS = """
## Interview questions

<!-- auto:questions -->
| question | your run | evidence |
|---|---|---|
| Would more data help? | {answer} | [learning_curve.json](reports/learning_curve.json) |
<!-- /auto:questions -->
"""
ANSWER = "the last doubling of rows added 0.012 PR-AUC"


def _answered(project: Path, *, run_id: str, evidence_run: str, answer: str = ANSWER) -> None:
    """A README whose question table answers from ``run_id`` with one evidence file."""
    summary = project / "reports" / "walkthrough.json"
    reported = {
        **json.loads(summary.read_text()),
        "run_id": run_id,
        "answers": [
            {
                "question": "Would more data help?",
                "answer": ANSWER,
                "evidence": ["reports/learning_curve.json"],
            }
        ],
    }
    summary.write_text(json.dumps(reported))
    curve = project / "reports" / "learning_curve.json"
    curve.write_text(json.dumps({"run_id": evidence_run}))
    (project / "README.md").write_text(_readme(extra=QUESTIONS.format(answer=answer)))


def _logged_run(project: Path) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    [run] = client.search_runs([exp.experiment_id for exp in client.search_experiments()])
    return str(run.info.run_id)


def test_question_table_answered_by_the_logged_run_passes(project: Path) -> None:
    run_id = _logged_run(project)
    _answered(project, run_id=run_id, evidence_run=run_id)
    assert check_project(project).findings == []


def test_question_table_left_as_the_template_is_a_finding(project: Path) -> None:
    (project / "README.md").write_text(_readme(extra=QUESTIONS.format(answer="`make report`")))
    rules = {finding.rule for finding in check_project(project).findings}
    assert rules == {"unanswered-questions", "broken-link"}  # no run wrote the evidence yet


@pytest.mark.parametrize(
    ("change", "rule", "words"),
    [
        ("edited cell", "stale-answers", "does not show"),
        ("run gone", "stale-answers", "no longer has"),
        ("evidence from another run", "missing-evidence", "written by run"),
        ("evidence deleted", "missing-evidence", "does not exist"),
    ],
)
def test_question_table_not_backed_by_the_latest_run_is_a_finding(
    project: Path, change: str, rule: str, words: str
) -> None:
    run_id = _logged_run(project)
    reported, evidence_run, answer = run_id, run_id, ANSWER
    if change == "edited cell":
        answer = "more data would help a lot"
    elif change == "run gone":
        reported = evidence_run = "0" * 32
    elif change == "evidence from another run":
        evidence_run = "f" * 32
    _answered(project, run_id=reported, evidence_run=evidence_run, answer=answer)
    if change == "evidence deleted":
        (project / "reports" / "learning_curve.json").unlink()
    findings = [f for f in check_project(project).findings if f.rule != "broken-link"]
    assert {finding.rule for finding in findings} == {rule}
    assert words in findings[0].problem


def test_link_targets_do_not_count_toward_the_page_budget(project: Path) -> None:
    links = "[notes](docs/notes.md#the-threshold) " * 400  # 2,000 words if targets counted
    assert "page-budget" not in _rules(project, _readme(extra=links))


def test_the_question_table_does_not_count_toward_the_page_budget(project: Path) -> None:
    table = "<!-- auto:questions -->\n" + "| q | a |\n" * 800 + "<!-- /auto:questions -->\n"
    rules = _rules(project, _readme(extra=table))
    assert "page-budget" not in rules


def test_numbers_match_logged_metrics_within_rounding(project: Path) -> None:
    for shown in ("0.61", ".612", "61%", "61.2%", "0.52"):
        readme = _readme(result=f"Holdout PR-AUC was {shown} overall. " + FILLER * 3)
        assert "unverified-number" not in _rules(project, readme), shown


def test_cli_prints_speaking_time_and_resume_bullets_and_exits_zero(
    project: Path, run_cli: Cli
) -> None:
    (project / "README.md").write_text(_readme())
    result = run_cli("check", project)
    assert result.exit_code == 0, result.stdout
    assert "Speaking time:" in result.stdout
    assert "- one" in result.stdout
    assert "ready to walk through" in result.stdout


def test_cli_exits_one_on_findings_and_json_lists_them(project: Path, run_cli: Cli) -> None:
    (project / "README.md").write_text(_readme(reflection="It worked."))
    result = run_cli("check", project, "--json")
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    assert [finding["rule"] for finding in findings] == ["no-reflection"]
    assert findings[0]["line"] > 0


def test_cli_exits_two_without_a_readme(tmp_path: Path, run_cli: Cli) -> None:
    result = run_cli("check", tmp_path)
    assert result.exit_code == 2
    assert "has no README.md" in result.stderr


def test_default_data_set_is_noted(project: Path) -> None:
    (project / ".copier-answers.yml").write_text(ANSWERS.format(data="credit_data.csv"))
    (project / "README.md").write_text(_readme(situation="> TODO(you): who?\n" + SITUATION * 8))
    notes = check_project(project).notes
    assert any("still looks like the template" in note for note in notes)


@pytest.mark.parametrize(
    "answers",
    [
        'kind: "rag"\nproject_name: "mine"\ntemplate_version: "0.1.0"\ncorpus: "custom"\n',
        ANSWERS.format(data="churn.csv"),
        ANSWERS.format(data="tickets.csv").replace("classifier", "finetune"),
    ],
)
def test_own_data_is_not_noted_as_the_default(project: Path, answers: str) -> None:
    (project / ".copier-answers.yml").write_text(answers)
    (project / "README.md").write_text(_readme(situation="> TODO(you): who?\n" + SITUATION * 8))
    assert not any("default data set" in note for note in check_project(project).notes)


def test_slug_matches_github_anchors() -> None:
    assert slug("Why PR-AUC, not accuracy?") == "why-pr-auc-not-accuracy"


def test_numbers_only_in_runs_still_count_when_no_report_was_written(project: Path) -> None:
    (project / "reports" / "walkthrough.json").unlink()
    readme = _readme(result="The baseline reached 0.52 on the test split. " + FILLER * 3)
    assert "unverified-number" not in _rules(project, readme)


def test_a_project_whose_runs_cannot_be_read_gets_a_note(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mlportfolio.logged.interpreters", lambda project: [])
    (project / "README.md").write_text(_readme())
    assert any("could not read the MLflow runs" in note for note in check_project(project).notes)
