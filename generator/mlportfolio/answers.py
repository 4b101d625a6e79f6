"""Turn command-line inputs into copier answers plus the user files to copy in.

One ``prepare_<kind>`` per kind; ``kinds.py`` says which kind uses which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlportfolio import inputs
from mlportfolio.errors import DataError, UsageError


@dataclass(frozen=True)
class UserInputs:
    """The kind-specific options of ``mlportfolio new``; ``None`` means not given."""

    data: Path | None = None
    target: str | None = None
    positive_class: str | None = None
    corpus: Path | None = None
    text_col: str | None = None
    label_col: str | None = None
    base_model: str | None = None

    def given(self) -> dict[str, object]:
        """The options the user actually passed, by name."""
        return {name: value for name, value in vars(self).items() if value is not None}


@dataclass
class Prepared:
    """Answers for copier, files to copy into the project, and warnings to show."""

    answers: dict[str, Any] = field(default_factory=dict)
    copies: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _data_file_answer(path: Path) -> str:
    return f"data/raw/{path.name}"


def prepare_classifier(user: UserInputs) -> Prepared:
    """``--data --target [--positive-class]``: a CSV with a column to predict."""
    if user.data is None:
        if user.target is not None or user.positive_class is not None:
            raise UsageError(
                "--target and --positive-class describe a --data file",
                "add --data my.csv, or drop them to use the bundled credit data",
            )
        return Prepared()
    if user.target is None:
        raise UsageError(
            "--data needs --target",
            "name the column to predict, e.g. --target churned",
        )
    table = inputs.read_csv(user.data)
    inputs.require_column(table, user.target, "--target")
    inputs.require_no_empty_columns(table)
    balance = inputs.class_balance(table, user.target, "--target", user.positive_class)
    id_columns = inputs.id_like_columns(table, exclude={user.target})
    if len(id_columns) >= len(table.columns) - 1:
        raise DataError(
            f"every feature column of {user.data.name} looks like a row ID",
            "a classifier needs descriptive columns; check the file",
        )
    warnings = list(balance.warnings) + _encoding_warnings(table)
    warnings += [f"column {name!r} looks like a row ID and will be dropped" for name in id_columns]
    warnings += [
        f"column {name!r} holds dates: the model sees each date as a category; derive "
        "numbers from it (age in days, month) or add it to drop_columns in config.py"
        for name in inputs.date_like_columns(table, exclude={user.target, *id_columns})
    ]
    answers: dict[str, Any] = {
        "data_file": _data_file_answer(user.data),
        "target": user.target,
        "positive_class": balance.positive_class,
        "csv_sep": table.delimiter,
        "csv_decimal": inputs.decimal_separator(table),
        "drop_columns": id_columns,
    }
    return Prepared(answers, [(user.data, answers["data_file"])], warnings)


def _encoding_warnings(table: inputs.CsvTable) -> list[str]:
    if table.encoding == "utf-8":
        return []
    return [f"{table.path.name} is not UTF-8: read as Latin-1 and copied in as UTF-8"]


def prepare_finetune(user: UserInputs) -> Prepared:
    """``--data --text-col --label-col [--base-model]``: labelled texts."""
    answers: dict[str, Any] = {}
    if user.base_model is not None:
        answers["base_model"] = user.base_model
    if user.data is None:
        if user.text_col is not None or user.label_col is not None:
            raise UsageError(
                "--text-col and --label-col describe a --data file",
                "add --data texts.csv, or drop them to use the bundled review data",
            )
        return Prepared(answers)
    if user.text_col is None or user.label_col is None:
        raise UsageError(
            "--data needs --text-col and --label-col",
            "name the text column and the label column, e.g. --text-col review --label-col stars",
        )
    table = inputs.read_csv(user.data)
    inputs.require_column(table, user.text_col, "--text-col")
    inputs.require_column(table, user.label_col, "--label-col")
    if user.text_col == user.label_col:
        raise UsageError(
            "--text-col and --label-col name the same column", "pick two different columns"
        )
    texts = table.values(user.text_col)
    if sum(text is not None for text in texts) < len(texts) / 2:
        raise DataError(
            f"text column {user.text_col!r} is empty in most rows",
            "pick the column that holds the text",
        )
    balance = inputs.class_balance(table, user.label_col, "--label-col")
    answers.update(
        data_file=_data_file_answer(user.data),
        text_col=user.text_col,
        label_col=user.label_col,
        csv_sep=table.delimiter,
    )
    warnings = balance.warnings + _encoding_warnings(table)
    return Prepared(answers, [(user.data, answers["data_file"])], warnings)


def prepare_rag(user: UserInputs) -> Prepared:
    """``--corpus DIR``: a folder of documents."""
    if user.corpus is None:
        return Prepared()
    documents = inputs.check_corpus(user.corpus)
    copies = [
        (document, f"data/corpus/{document.relative_to(user.corpus).as_posix()}")
        for document in documents
    ]
    return Prepared({"corpus": "custom"}, copies)
