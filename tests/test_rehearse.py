"""`mlportfolio rehearse`: whole sessions driven through stdin with a scripted clock.

Each kind is rendered by the generator, "trained" the fast way (its own
``ops/readme_blocks.publish`` fills README's run blocks and writes
``reports/walkthrough.json`` with numbers shaped like that kind's ``make report``), and
filled with ``tests.walkthrough_prose``. One slow test does the same with the classifier's
real ``make train report``.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from mlportfolio.cli import app
from mlportfolio.errors import InputEndedError, NotReadyError, ProjectError, UsageError
from mlportfolio.kinds import KINDS
from mlportfolio.rehearse import (
    DEFAULT_BUDGET_MINUTES,
    HISTORY_FILE,
    History,
    Instruments,
    choose,
    load,
    weight,
)
from mlportfolio.render import NewProject, new_project
from tests.walkthrough_prose import PROSE, fill_placeholders

RUN_ID = "0123456789abcdef0123456789abcdef"
# What each kind's `make report` writes into README's blocks, in its own table shapes.
BLOCKS: dict[str, dict[str, str]] = {
    "classifier": {
        "dataset": "|  |  |\n|---|---|\n| data | `data/raw/credit_data.csv` |\n"
        "| rows | 4,454 (3,563 train, 891 test, the test split written once) |\n"
        "| target | `Status`: `good` 71.8%, `bad` 28.2% |",
        "comparison": "| model | CV PR-AUC | test PR-AUC | test Brier (lower is better) |\n"
        "|---|---|---|---|\n| **lightgbm** (selected) | 0.671 | 0.737 | 0.148 |\n"
        "| logistic_regression | 0.644 | 0.742 | 0.156 |\n"
        "| majority_class | n/a | 0.282 | 0.202 |\n\n"
        "Selected by 5-fold CV PR-AUC on the training split; decision threshold 0.531 "
        "chosen on out-of-fold predictions (f1), never on the test split.",
        "headline": "**Test PR-AUC 0.737** for lightgbm vs 0.742 for logistic_regression, "
        f"on 891 test rows that no decision saw.\n\nMLflow run `{RUN_ID}` (champion v1); "
        "reproduce with `make install train report`.",
    },
    "rag": {
        "dataset": "|  |  |\n|---|---|\n| corpus | Python 3.11 documentation |\n"
        "| index | 2,412 passages from 38 sources, about 180 words each (40 overlap) |",
        "comparison": "| retriever | recall@1 | recall@5 | recall@10 | MRR@10 |\n"
        "|---|---|---|---|---|\n| bm25 | 0.410 | 0.620 | 0.700 | 0.500 |\n"
        "| dense | 0.450 | 0.660 | 0.740 | 0.540 |\n"
        "| hybrid | 0.520 | 0.740 | 0.810 | 0.600 |\n\n"
        "Served: **hybrid** (fixed in config.py, not picked by these numbers; RRF k=60).",
        "headline": "**Recall@5 0.740** for hybrid retrieval vs 0.620 for BM25 alone, on the "
        "200-question test split (exact McNemar p = 0.003).\n\n"
        f"MLflow run `{RUN_ID}`; reproduce with `make install train report`.",
    },
    "finetune": {
        "dataset": "|  |  |\n|---|---|\n| data | `data/raw/rotten_tomatoes.csv` |\n"
        "| texts | 10,662 after dropping empty and duplicate texts |",
        "comparison": "| model | val macro F1 | test accuracy ± CI | train s |\n"
        "|---|---|---|---|\n| TF-IDF + LR | 0.751 | 0.760 ± 0.018 | 2.1 |\n"
        "| **MiniLM fine-tuned** | 0.851 | 0.842 ± 0.015 | 312 |",
        "headline": "**Test accuracy 0.842** for MiniLM fine-tuned end to end vs 0.760 for "
        "TF-IDF + logistic regression, on 1,067 test texts no model trained on.\n\n"
        f"MLflow run `{RUN_ID}` (champion v1); reproduce with `make install train report`.",
    },
}
CUE_NUMBERS = {
    "classifier": (
        "rows: 4,454 (3,563 train, 891 test, the test split written once)",
        "CV PR-AUC: lightgbm 0.671 vs logistic_regression 0.644",
        "Test PR-AUC 0.737 for lightgbm vs 0.742 for logistic_regression, on 891 test rows",
    ),
    "rag": (
        "index: 2,412 passages from 38 sources",
        "recall@1: hybrid 0.520 vs bm25 0.410, dense 0.450",
        "Recall@5 0.740 for hybrid retrieval vs 0.620 for BM25 alone",
    ),
    "finetune": (
        "texts: 10,662 after dropping empty and duplicate texts",
        "val macro F1: MiniLM fine-tuned 0.851 vs TF-IDF + LR 0.751",
        "Test accuracy 0.842 for MiniLM fine-tuned end to end vs 0.760",
    ),
}
BULLETS = ["Built it on real data: the headline 0.737.", "Tracked every run in MLflow."]
WALK = (55.0, 70.0, 130.0, 50.0, 65.0)  # seconds per section: 6:10 in all


def _publish(project: Path, blocks: dict[str, str]) -> None:
    """What `make report` does, through the project's own readme_blocks module."""
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    source = project / "src" / package / "ops" / "readme_blocks.py"
    spec = importlib.util.spec_from_file_location(f"readme_blocks_{package}", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    module.publish(
        project / "README.md",
        blocks,
        summary=project / "reports" / "walkthrough.json",
        run_id=RUN_ID,
        metrics={"test.headline": 0.737},
        resume_bullets=BULLETS,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A fresh render of each kind, made once per module (copy it before changing it)."""
    cache: dict[str, Path] = {}

    def render(kind: str) -> Path:
        if kind not in cache:
            dest = tmp_path_factory.mktemp(kind) / f"my-{kind}"
            cache[kind] = new_project(NewProject(kind=kind, dest=dest, defaults=True)).path
        return cache[kind]

    return render


@pytest.fixture
def make_project(rendered: Callable[[str], Path], tmp_path: Path) -> Callable[..., Path]:
    """A copy of a rendered project: trained (run blocks + summary) and filled, or not."""

    def make(kind: str, *, trained: bool = True, filled: bool = True) -> Path:
        project = tmp_path / kind
        shutil.copytree(rendered(kind), project, symlinks=True)
        if trained:
            _publish(project, BLOCKS[kind])
        if filled:
            fill_placeholders(project / "README.md")
        return project

    return make


def _clock(*durations: float) -> Callable[[], float]:
    """Read twice per timed step (cue shown, Enter pressed); fails on any extra read."""
    times, now = [], 1000.0
    for duration in durations:
        times += [now, now + duration]
        now += duration + 3.0  # the gap (reading a rating) is never counted
    return iter(times).__next__


def _keys(ratings: Iterable[int | str], sections: int = 5) -> str:
    """Enter to start, Enter after each section, then Enter and a rating per follow-up."""
    return "\n" + "\n" * sections + "".join(f"\n{rating}\n" for rating in ratings)


def _rehearse(
    project: Path,
    *args: str,
    keys: str = "",
    clock: Callable[[], float] | None = None,
    seed: int = 0,
    day: int = 1,
) -> Result:
    instruments = Instruments(
        clock=clock or itertools.count(0.0, 30.0).__next__,
        now=lambda: datetime(2025, 3, day, 9, 30, tzinfo=UTC),
        rng=random.Random(seed),
        live=False,
    )
    return CliRunner().invoke(app, ["rehearse", str(project), *args], input=keys, obj=instruments)


def _history(project: Path) -> list[dict[str, Any]]:
    lines = (project / HISTORY_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines]


# --- a whole session ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_whole_session_is_timed_revealed_rated_and_recorded(
    kind: str, make_project: Callable[..., Path]
) -> None:
    project = make_project(kind)
    answers = (80.0, 100.0, 60.0)
    clock = _clock(*WALK, *answers)
    result = _rehearse(project, "--questions", "3", keys=_keys([2, 4, 5]), clock=clock)
    assert result.exit_code == 0, result.stdout + result.stderr
    out = result.stdout

    with pytest.raises(StopIteration):
        clock()  # the clock was read exactly at each cue and each Enter
    for number in CUE_NUMBERS[kind]:
        assert number in out
    for heading in ("Situation: the problem", "Action: the model and the one tradeoff"):
        assert heading in out
    for prose in PROSE.values():  # the user's own words stay hidden
        assert prose.split(".")[0] not in out
    assert "1:10 of 1:00: 0:10 over" in out
    assert "6:10" in out and "within" in out
    assert "yes a stated tradeoff (Action)" in out

    [record] = _history(project)
    assert record["sections"] == dict(zip(("Situation", "Task", "Action", "Result",
                                           "Reflection"), WALK, strict=True))  # fmt: skip
    assert record["total_s"] == sum(WALK)
    assert record["budgets"]["Action"] == 120.0
    assert record["run_id"] == RUN_ID
    assert record["started"] == "2025-03-01T09:30:00+00:00"
    assert [(a["seconds"], a["limit_s"], a["rating"]) for a in record["answers"]] == [
        (80.0, 90.0, 2), (100.0, 90.0, 4), (60.0, 90.0, 5),
    ]  # fmt: skip
    questions = {q.key: q for q in load(project).questions}
    for answer in record["answers"]:
        question = questions[answer["key"]]
        assert question.text in out
        assert question.evidence.source in out  # the linked passage, revealed after
        assert question.evidence.passage.split()[0] in out
        opened = question.evidence.open.split(" ")[0].strip("`,")
        assert opened in out
        assert (project / opened.partition("#")[0]).exists() or opened.startswith("make")


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_question_reveals_a_passage_a_run_number_and_something_to_open(
    kind: str, make_project: Callable[..., Path]
) -> None:
    material = load(make_project(kind))
    assert len(material.questions) >= 8
    for question in material.questions:
        evidence = question.evidence
        assert len(evidence.passage.split()) >= 8, question.text
        assert any(ch.isdigit() for ch in evidence.number), question.text
        target = evidence.open.split(" ")[0].strip("`,").partition("#")[0]
        assert target == "make" or (material.path / target).exists(), evidence.open
    assert [cue.budget_s for cue in material.cues] == [
        DEFAULT_BUDGET_MINUTES[cue.name] * 60 for cue in material.cues
    ]


def test_overruns_are_shown_per_section_and_against_the_five_to_seven_minutes(
    make_project: Callable[..., Path],
) -> None:
    project = make_project("classifier")
    clock = _clock(90, 95, 200, 80, 100)
    result = _rehearse(project, "--questions", "0", keys=_keys([]), clock=clock)
    assert result.exit_code == 0, result.stderr
    assert "+0:30 over" in result.stdout and "+1:20 over" in result.stdout
    assert "9:25" in result.stdout and "over" in result.stdout.split("9:25")[1][:20]
    assert _history(project)[0]["answers"] == []


def test_a_missing_must_have_is_named_with_check_s_fix(make_project: Callable[..., Path]) -> None:
    project = make_project("classifier")
    readme = project / "README.md"
    plain = "I trained the model carefully and it worked well on the data. " * 20
    readme.write_text(readme.read_text().replace(PROSE["Action"].strip(), plain))
    result = _rehearse(project, "--questions", "0", keys=_keys([]), clock=_clock(*WALK))
    assert result.exit_code == 0, result.stderr
    assert "no  a stated tradeoff (Action): say what you gave up" in result.stdout
    assert _history(project)[0]["must_haves"]["a stated tradeoff"] is False


def test_a_rating_that_is_not_one_to_five_is_asked_again(
    make_project: Callable[..., Path],
) -> None:
    project = make_project("rag")
    keys = "\n" * 6 + "\n0\ngood\n3\n"
    result = _rehearse(project, "--questions", "1", keys=keys, clock=_clock(*WALK, 40))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("type a whole number from 1 to 5") == 2
    assert _history(project)[0]["answers"][0]["rating"] == 3


def test_input_ending_mid_session_records_nothing(make_project: Callable[..., Path]) -> None:
    project = make_project("finetune")
    result = _rehearse(project, keys="\n\n\n", clock=_clock(*WALK))
    assert result.exit_code == InputEndedError.exit_code
    assert "nothing was recorded" in result.stderr
    assert not (project / HISTORY_FILE).exists()


def test_the_history_folder_is_ignored_by_git(make_project: Callable[..., Path]) -> None:
    project = make_project("classifier")
    assert ".mlportfolio/" in (project / ".gitignore").read_text().splitlines()
    (project / ".gitignore").write_text("")  # a project rendered before the line existed
    assert _rehearse(project, "--questions", "0", keys=_keys([])).exit_code == 0
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ".mlportfolio" not in status.stdout


# --- weighting, history, cue card ------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_questions_rated_weakest_are_drawn_most_often(
    kind: str, make_project: Callable[..., Path]
) -> None:
    project = make_project(kind)
    questions = load(project).questions
    # session 1 asks every question: the first drawn is rated 1, the last 5, the rest 3
    ratings = [1] + [3] * (len(questions) - 2) + [5]
    keys = _keys(ratings)
    clock = _clock(*WALK, *[30.0] * len(questions))
    result = _rehearse(project, "--questions", str(len(questions)), keys=keys, clock=clock)
    assert result.exit_code == 0, result.stderr
    asked = [answer["key"] for answer in _history(project)[0]["answers"]]
    weak, strong = asked[0], asked[-1]

    history = History.read(project)
    assert weight([1]) > weight([]) > weight([3]) > weight([5])
    draws = [choose(questions, history, 1, random.Random(seed))[0].key for seed in range(3000)]
    share = {key: draws.count(key) / len(draws) for key in asked}
    assert share[weak] > 2 * (1 / len(questions))
    assert share[weak] > 10 * share[strong]
    assert share[weak] == max(share.values())

    expected = [q.key for q in choose(questions, history, 3, random.Random(1))]
    result = _rehearse(project, "--questions", "3", keys=_keys([2, 2, 2]),
                       clock=_clock(*WALK, 30, 30, 30), seed=1, day=2)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [answer["key"] for answer in _history(project)[1]["answers"]] == expected
    assert result.stdout.count("(rated ") == 3, "each question says how it was rated before"


@pytest.mark.parametrize("kind", list(KINDS))
def test_history_shows_sessions_over_time_as_a_table_a_chart_and_json(
    kind: str, make_project: Callable[..., Path]
) -> None:
    project = make_project(kind)
    for day, (walk, rating) in enumerate([((80, 90, 150, 70, 85), 2), (WALK, 4)], 1):
        result = _rehearse(project, "--questions", "2", keys=_keys([rating, rating]),
                           clock=_clock(*walk, 50, 50), seed=7, day=day)  # fmt: skip
        assert result.exit_code == 0, result.stderr

    table = _rehearse(project, "--history")
    assert table.exit_code == 0, table.stderr
    assert "Sessions" in table.stdout and "Follow-ups" in table.stdout
    assert "03-01 09:30" in table.stdout and "03-02 09:30" in table.stdout
    assert "7:55" in table.stdout and "6:10" in table.stdout  # totals, in order
    assert table.stdout.index("7:55") < table.stdout.index("6:10")
    chart = [line for line in table.stdout.splitlines() if "█" in line]
    assert len(chart) == 2 and chart[0].count("█") > chart[1].count("█")
    assert "2 4" in table.stdout or "2 2" in table.stdout  # ratings over time

    data = json.loads(_rehearse(project, "--history", "--json").stdout)
    assert [s["total_s"] for s in data["sessions"]] == [475.0, 370.0]
    assert [s["sections"]["Action"] for s in data["sessions"]] == [150.0, 130.0]
    means = {q["mean"] for q in data["questions"].values()}
    assert means <= {2.0, 3.0, 4.0}


def test_history_skips_an_unreadable_line_and_starts_empty(
    make_project: Callable[..., Path],
) -> None:
    project = make_project("finetune")
    assert "No rehearsals recorded yet" in _rehearse(project, "--history").stdout
    assert _rehearse(project, "--questions", "0", keys=_keys([])).exit_code == 0
    with (project / HISTORY_FILE).open("a") as file:
        file.write('{"started": "half a line\n')
    result = _rehearse(project, "--history")
    assert result.exit_code == 0
    assert "1 unreadable line(s) skipped" in result.stdout
    assert len(History.read(project).sessions) == 1


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_cue_card_holds_the_cues_the_three_weakest_questions_and_the_bullets(
    kind: str, make_project: Callable[..., Path]
) -> None:
    project = make_project(kind)
    result = _rehearse(project, "--questions", "4", keys=_keys([4, 1, 5, 2]),
                       clock=_clock(*WALK, 40, 40, 40, 40))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rated = {a["question"]: a["rating"] for a in _history(project)[0]["answers"]}

    printed = _rehearse(project, "--card")
    assert printed.exit_code == 0, printed.stderr
    card = (project / "reports" / "cue-card.md").read_text()
    assert card in printed.stdout
    assert card.startswith(f"# Cue card: my-{kind}\n")
    for number in CUE_NUMBERS[kind]:
        assert number in card
    assert card.count("\n1. **Situation") == 1 and "\n5. **Reflection" in card
    weakest = card.split("## Your three weakest questions")[1].split("## Resume bullets")[0]
    listed = [line for line in weakest.splitlines() if line.startswith("- **")]
    assert len(listed) == 3
    worst, second = (q for q, _ in sorted(rated.items(), key=lambda item: item[1])[:2])
    assert listed[0].startswith(f"- **{worst}** (rated 1)")
    assert listed[1].startswith(f"- **{second}** (rated 2)")
    assert all("Run: " in line and "Open " in line for line in listed)
    for bullet in BULLETS:
        assert f"- {bullet}" in card
    assert len(card.split()) < 500, "one page"


# --- refusals ----------------------------------------------------------------------------


def test_outside_a_generated_project_it_refuses_in_one_line(tmp_path: Path) -> None:
    for args in ((), ("--card",), ("--history",)):
        result = _rehearse(tmp_path, *args, keys=_keys([]))
        assert result.exit_code == ProjectError.exit_code
        assert result.stderr.count("\n") == 1
        assert "not a project generated by mlportfolio" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("trained", "filled", "says"),
    [
        (False, False, "no run yet: reports/walkthrough.json is missing; run `make train report`"),
        (False, True, "no run yet"),
        (True, False, "README.md still has 5 TODO(you) placeholders"),
    ],
)
def test_a_project_not_ready_says_what_to_run_first(
    make_project: Callable[..., Path], trained: bool, filled: bool, says: str
) -> None:
    project = make_project("classifier", trained=trained, filled=filled)
    for args in ((), ("--card",)):
        result = _rehearse(project, *args, keys=_keys([1] * 5), clock=_clock(*WALK))
        assert result.exit_code == NotReadyError.exit_code
        assert result.stderr.count("\n") == 1
        assert says in result.stderr
    assert not (project / ".mlportfolio").exists()
    assert not (project / "reports" / "cue-card.md").exists()


def test_a_readme_without_its_question_table_refuses_follow_ups_only(
    make_project: Callable[..., Path],
) -> None:
    project = make_project("rag")
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("| question | evidence |", "| asked | see |"))
    result = _rehearse(project, keys=_keys([3] * 5))
    assert result.exit_code == NotReadyError.exit_code
    assert "pass --questions 0" in result.stderr
    assert _rehearse(project, "--questions", "0", keys=_keys([])).exit_code == 0


@pytest.mark.parametrize("args", [("--json",), ("--card", "--history"), ("--questions", "-1")])
def test_options_that_do_not_combine_are_usage_errors(
    make_project: Callable[..., Path], args: tuple[str, ...]
) -> None:
    result = _rehearse(make_project("classifier"), *args)
    assert result.exit_code == UsageError.exit_code
    assert result.stderr.count("\n") == 1


# --- the real thing ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_really_trained_classifier_is_rehearsed_and_carded(
    tmp_path: Path, project_env: dict[str, str]
) -> None:
    project = new_project(NewProject(kind="classifier", dest=tmp_path / "cr", defaults=True)).path
    make = subprocess.run(
        ["make", "train", "report", f"PYTHON={sys.executable}"],
        cwd=project,
        env=project_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert make.returncode == 0, make.stdout + make.stderr
    fill_placeholders(project / "README.md")
    summary = json.loads((project / "reports" / "walkthrough.json").read_text())

    result = _rehearse(project, "--questions", "2", keys=_keys([3, 1]),
                       clock=_clock(*WALK, 70, 95))  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "CV PR-AUC: lightgbm" in result.stdout
    assert "yes a number from the run (Result)" in result.stdout
    assert _history(project)[0]["run_id"] == summary["run_id"]

    card = _rehearse(project, "--card")
    assert card.exit_code == 0, card.stderr
    text = (project / "reports" / "cue-card.md").read_text()
    assert summary["run_id"] in text and "(rated 1)" in text
    assert all(bullet in text for bullet in summary["resume_bullets"])


def test_a_question_answered_by_the_run_recalls_that_answer(
    make_project: Callable[..., Path],
) -> None:
    project = make_project("classifier")
    readme = project / "README.md"
    row = "| Why PR-AUC and not accuracy? | _run `make train report`_ |"
    assert row in readme.read_text(), "the classifier table has a 'your run' column"
    answer = "PR-AUC 0.737 vs 0.282 base rate"
    readme.write_text(
        readme.read_text().replace(row, f"| Why PR-AUC and not accuracy? | {answer} |")
    )
    questions = {question.text: question for question in load(project).questions}
    assert questions["Why PR-AUC and not accuracy?"].evidence.number == answer
    assert questions["How did you choose the threshold?"].evidence.number != answer
