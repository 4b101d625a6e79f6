"""Every bad input gets one line naming the problem and the fix, and writes nothing."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import Result

from mlportfolio.errors import DataError, DestinationError, UsageError
from tests.conftest import tree_digest

Cli = Callable[..., Result]


def _table(n_rows: int = 40, **overrides: list[str]) -> str:
    rng = random.Random(0)
    columns = {
        "age": [str(rng.randint(18, 80)) for _ in range(n_rows)],
        "city": [rng.choice(["Oslo", "Lima", "Pune"]) for _ in range(n_rows)],
        "label": ["yes" if i % 3 == 0 else "no" for i in range(n_rows)],
    }
    columns.update(overrides)
    header = ",".join(columns)
    rows = [",".join(values) for values in zip(*columns.values(), strict=True)]
    return "\n".join([header, *rows]) + "\n"


@dataclass(frozen=True)
class Case:
    """One bad command line: the files it needs, its arguments and the expected error."""

    id: str
    args: tuple[str, ...]
    exit_code: int
    message: str
    files: tuple[tuple[str, str | bytes], ...] = ()


U, D, X = UsageError.exit_code, DestinationError.exit_code, DataError.exit_code
DEST = "{tmp}/proj"
CASES = [
    # KIND and options
    Case("unknown-kind", ("new", "regression", DEST), U, "unknown project kind 'regression'"),
    Case("corpus-for-classifier", ("new", "classifier", DEST, "--corpus", "{tmp}"), U,
         "--corpus is not an option of `new classifier`"),
    Case("data-for-rag", ("new", "rag", DEST, "--data", "{tmp}/d.csv"), U,
         "--data is not an option of `new rag`"),
    Case("target-for-finetune", ("new", "finetune", DEST, "--target", "y"), U,
         "--target is not an option of `new finetune`"),
    Case("text-col-for-classifier", ("new", "classifier", DEST, "--text-col", "t"), U,
         "--text-col is not an option of `new classifier`"),
    Case("target-without-data", ("new", "classifier", DEST, "--target", "y"), U,
         "--target and --positive-class describe a --data file"),
    Case("data-without-target", ("new", "classifier", DEST, "--data", "{tmp}/d.csv"), U,
         "--data needs --target", (("d.csv", _table()),)),
    Case("finetune-data-without-columns", ("new", "finetune", DEST, "--data", "{tmp}/d.csv"), U,
         "--data needs --text-col and --label-col", (("d.csv", _table()),)),
    Case("set-unknown-question", ("new", "rag", DEST, "--set", "colour=red"), U,
         "--set colour=... is not a template question"),
    Case("set-not-key-value", ("new", "rag", DEST, "--set", "colour"), U,
         "--set 'colour' is not KEY=VALUE"),
    Case("set-generator-answer", ("new", "rag", DEST, "--set", "kind=classifier"), U,
         "--set kind=... is decided by the generator"),
    Case("set-invalid-choice", ("new", "rag", DEST, "--set", "python_version=2.7"), U,
         "invalid template answer"),
    Case("unknown-extra-option", ("new", "rag", DEST, "--colour=red"), U,
         "No such option: --colour"),
    # project names
    Case("name-with-dot", ("new", "rag", DEST, "--name", "my.project"), D, "invalid project name"),
    Case("name-starts-with-digit", ("new", "rag", DEST, "--name", "1project"), D,
         "invalid project name"),
    Case("name-too-long", ("new", "rag", DEST, "--name", "a" * 41), D, "invalid project name"),
    Case("name-empty", ("new", "rag", DEST, "--name", ""), D, "invalid project name"),
    Case("name-with-slash", ("new", "rag", DEST, "--name", "a/b"), D, "invalid project name"),
    Case("name-is-keyword", ("new", "rag", DEST, "--name", "class"), D,
         "shadows a Python built-in module"),
    Case("name-is-stdlib", ("new", "rag", DEST, "--name", "json"), D,
         "shadows a Python built-in module"),
    Case("name-shadows-library", ("new", "rag", DEST, "--name", "mlflow"), D,
         "shadows a library the project imports"),
    Case("name-shadows-installed", ("new", "rag", DEST, "--name", "jinja2"), D,
         "shadows the installed package at"),
    Case("dest-name-invalid", ("new", "rag", "{tmp}/my.proj"), D, "invalid project name"),
    # destinations
    Case("dest-not-empty", ("new", "rag", "{tmp}/full"), D, "already exists and is not empty",
         (("full/notes.txt", "mine"),)),
    Case("dest-is-file", ("new", "rag", "{tmp}/file"), D, "exists and is a file",
         (("file", "mine"),)),
    Case("dest-parent-is-file", ("new", "rag", "{tmp}/file/proj"), D, "is a file",
         (("file", "mine"),)),
    Case("dest-unwritable", ("new", "rag", "/proc/mlportfolio-test/proj"), D, "cannot"),
    # data files
    Case("data-missing", ("new", "classifier", DEST, "--data", "{tmp}/nope.csv", "--target", "y"),
         X, "does not exist"),
    Case("data-is-folder", ("new", "classifier", DEST, "--data", "{tmp}", "--target", "y"), X,
         "is a folder"),
    Case("data-not-csv", ("new", "classifier", DEST, "--data", "{tmp}/d.json", "--target", "y"),
         X, "is not a CSV file", (("d.json", '{"a": 1}'),)),
    Case("data-excel", ("new", "classifier", DEST, "--data", "{tmp}/d.xlsx", "--target", "y"),
         X, "is not a CSV file", (("d.xlsx", b"PK\x03\x04\x00\x00"),)),
    Case("data-empty", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target", "y"), X,
         "is empty", (("d.csv", ""),)),
    Case("data-binary", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target", "y"), X,
         "is binary", (("d.csv", b"a,b\n\x00\x01\x02"),)),
    Case("data-header-only", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "label"), X, "has a header but no rows", (("d.csv", "age,label\n"),)),
    Case("data-one-column", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "label"), X, "has a single column", (("d.csv", "label\n1\n2\n"),)),
    Case("data-unnamed-column", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "label"), X, "has a column with an empty name (position 2)",
         (("d.csv", "a,,label\n1,2,3\n"),)),
    Case("data-duplicate-column", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "label"), X, "repeats column 'a'", (("d.csv", "a,a,label\n1,2,3\n"),)),
    Case("data-ragged-row", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "label"), X, "line 3 ('1,2'...) has 2 fields", (("d.csv", "a,b,label\n1,2,3\n1,2\n"),)),
    Case("data-ragged-after-multiline", ("new", "classifier", DEST, "--data", "{tmp}/d.csv",
         "--target", "label"), X, "line 4 ('7'...) has 1 fields",
         (("d.csv", 'a,b,label\n1,"two\nlines",3\n7\n'),)),
    Case("target-not-a-column", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "churn"), X, "column 'churn' (--target) is not in d.csv", (("d.csv", _table()),)),
    Case("target-single-class", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "label"), X, "has a single class 'no'", (("d.csv", _table(label=["no"] * 40)),)),
    Case("target-rare-class", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "label"), X, "class 'yes' of label column 'label' has 3 rows",
         (("d.csv", _table(label=["yes"] * 3 + ["no"] * 37)),)),
    Case("target-quantity", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "age"), X, "'age' looks like a quantity (", (("d.csv", _table()),)),
    Case("target-continuous", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "price"), X, "too many for a classifier",
         (("d.csv", _table(120, price=[f"{i * 1.5}" for i in range(120)])),)),
    Case("target-all-null", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "label"), X, "is empty in every row", (("d.csv", _table(label=["NA"] * 40)),)),
    Case("feature-all-null", ("new", "classifier", DEST, "--data", "{tmp}/d.csv", "--target",
         "label"), X, "column 'city' in d.csv is empty in every row",
         (("d.csv", _table(city=[""] * 40)),)),
    Case("positive-class-unknown", ("new", "classifier", DEST, "--data", "{tmp}/d.csv",
         "--target", "label", "--positive-class", "maybe"), X,
         "--positive-class 'maybe' is not a value of 'label'", (("d.csv", _table()),)),
    Case("finetune-text-col-missing", ("new", "finetune", DEST, "--data", "{tmp}/d.csv",
         "--text-col", "review", "--label-col", "label"), X,
         "column 'review' (--text-col) is not in d.csv", (("d.csv", _table()),)),
    Case("finetune-same-columns", ("new", "finetune", DEST, "--data", "{tmp}/d.csv",
         "--text-col", "label", "--label-col", "label"), U, "name the same column",
         (("d.csv", _table()),)),
    Case("finetune-single-label", ("new", "finetune", DEST, "--data", "{tmp}/d.csv",
         "--text-col", "city", "--label-col", "label"), X, "has a single class",
         (("d.csv", _table(label=["pos"] * 40)),)),
    # corpora
    Case("corpus-missing", ("new", "rag", DEST, "--corpus", "{tmp}/nope"), X, "does not exist"),
    Case("corpus-is-file", ("new", "rag", DEST, "--corpus", "{tmp}/a.md"), X,
         "is a file, not a folder", (("a.md", "# A\n"),)),
    Case("corpus-empty", ("new", "rag", DEST, "--corpus", "{tmp}/docs"), X,
         "has no .md, .rst, .txt, .html or .pdf files", (("docs/image.png", b"\x89PNG"),)),
    Case("corpus-only-build-extras", ("new", "rag", DEST, "--corpus", "{tmp}/html"), X,
         "has no .md, .rst, .txt, .html or .pdf files",
         (("html/_sources/a.rst.txt", "A\n=\n"), ("html/genindex.html", "<p>Index</p>"))),
    Case("corpus-binary-text", ("new", "rag", DEST, "--corpus", "{tmp}/docs"), X,
         "is binary, not text", (("docs/a.md", "# A\n"), ("docs/b.txt", b"\x00\x01"))),
    Case("corpus-fake-pdf", ("new", "rag", DEST, "--corpus", "{tmp}/docs"), X,
         "is not a valid PDF", (("docs/a.pdf", "not a pdf"),)),
]  # fmt: skip


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gives_one_line_and_writes_nothing(
    case: Case, run_cli: Cli, tmp_path: Path
) -> None:
    for relative, content in case.files:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    before = tree_digest(tmp_path)
    result = run_cli(*(arg.format(tmp=tmp_path) for arg in case.args))
    assert result.exit_code == case.exit_code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert case.message in lines[0]
    assert "; " in lines[0], "the line must name a fix after the problem"
    assert result.stdout == ""
    assert tree_digest(tmp_path) == before
