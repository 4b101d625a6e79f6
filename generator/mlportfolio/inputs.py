"""Check user-supplied data before anything is rendered.

A user who points ``--data`` at a file they downloaded from somewhere deserves one clear
line about what is wrong with it *now*, not a stack trace from pandas ten minutes into
training. These checks use only the standard library so the generator stays light.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mlportfolio.contract import (
    CORPUS_BUILD_EXTRAS,
    CORPUS_SUFFIXES,
    MAX_CORPUS_FILE_BYTES,
    NULL_TOKENS,
    TEST_SIZE,
    default_cv_folds,
)
from mlportfolio.errors import DataError

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
MAX_CLASSES = 50
PANDAS_INDEX_NAME = "Unnamed: 0"  # how pandas names a first column with no header
_ID_NAME = re.compile(r"(^|[\s_.-])(id|uuid|guid|key|index)$|^unnamed: ?0$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z](ID|Id)$")  # customerID, orderId
_COMMA_NUMBER = re.compile(r"^[-+]?\d+(,\d+)?$")
_DOT_FRACTION = re.compile(r"^[-+]?\d*\.\d+$")
_DATE = re.compile(
    r"^(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4})"  # 2021-03-04 or 3/4/2021
    r"([ T]\d{1,2}:\d{2}(:\d{2})?)?$"  # and a time of day, optionally
)


@dataclass(frozen=True)
class CsvTable:
    """A CSV file read as text: header, rows and the delimiter it uses."""

    path: Path
    columns: list[str]
    rows: list[list[str]]
    delimiter: str
    encoding: str = "utf-8"

    def values(self, column: str) -> list[str | None]:
        """The cells of ``column`` with null tokens turned into ``None``."""
        index = self.columns.index(column)
        return [_clean(row[index]) for row in self.rows]


@dataclass(frozen=True)
class ClassBalance:
    """The classes of a label column, their counts, and which one is "positive"."""

    counts: dict[str, int]
    positive_class: str
    warnings: list[str] = field(default_factory=list)


def _clean(cell: str) -> str | None:
    cell = cell.strip()
    return None if cell.lower() in NULL_TOKENS else cell


def read_csv(path: Path) -> CsvTable:
    """Read ``path`` as a CSV file, refusing anything that is not a usable table."""
    if not path.exists():
        raise DataError(f"data file {path} does not exist", "check the path to --data")
    if path.is_dir():
        raise DataError(f"data path {path} is a folder", "pass a single .csv file to --data")
    if path.suffix.lower() not in CSV_SUFFIXES:
        raise DataError(
            f"data file {path.name} is not a CSV file (suffix {path.suffix or 'none'!r})",
            "export it as .csv (comma or semicolon separated) and pass that file",
        )
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(
            f"cannot read data file {path}: {error.strerror}",
            "check the file's permissions",
        ) from None
    if not raw.strip():
        raise DataError(f"data file {path.name} is empty", "pass a CSV with a header and rows")
    if b"\x00" in raw[:8192]:
        raise DataError(
            f"data file {path.name} is binary, not CSV text",
            "export it as a UTF-8 .csv file",
        )
    text, encoding = decode_text(raw)
    try:
        dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    # A file object, not str.splitlines(): a quoted value may hold a line break, and
    # splitlines() would also break lines at characters CSV treats as text (\x85, \u2028).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records, ends = [], []  # each record and the line it ends on
    for row in reader:
        if row:
            records.append(row)
            ends.append(reader.line_num)
    header, rows = [name.strip() for name in records[0]], records[1:]
    if header and not header[0]:
        # A nameless first column is a saved pandas index (`to_csv()` writes one by
        # default); give it the name pandas reads it under, so the ID check can drop it.
        header[0] = PANDAS_INDEX_NAME
    if len(header) < 2:
        raise DataError(
            f"data file {path.name} has a single column",
            "a table needs feature columns and a label column separated by ',' or ';'",
        )
    if any(not name for name in header):
        raise DataError(
            f"data file {path.name} has a column with an empty name "
            f"(position {header.index('') + 1})",
            "give every column a name in the header row",
        )
    duplicates = [name for name, count in Counter(header).items() if count > 1]
    if duplicates:
        raise DataError(
            f"data file {path.name} repeats column {duplicates[0]!r}",
            "rename the duplicate columns so every header is unique",
        )
    if not rows:
        raise DataError(
            f"data file {path.name} has a header but no rows", "add data rows below the header"
        )
    for line, row in zip(ends[1:], rows, strict=True):
        if len(row) != len(header):
            start = delimiter.join(row)[:40]
            raise DataError(
                f"data file {path.name} line {line} ({start!r}...) has {len(row)} fields, "
                f"the header has {len(header)}",
                "fix that line (quote values that contain the separator or a line break)",
            )
    return CsvTable(path, header, rows, delimiter, encoding)


def decode_text(raw: bytes) -> tuple[str, str]:
    """The text of a data file and its encoding: UTF-8 (with or without BOM), else Latin-1."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def copy_as_utf8(source: Path, target: Path) -> None:
    """Copy a text data file so the project always reads UTF-8 (Excel exports often aren't)."""
    text, encoding = decode_text(source.read_bytes())
    if encoding == "utf-8":
        shutil.copyfile(source, target)
    else:
        target.write_text(text, encoding="utf-8")


def require_column(table: CsvTable, column: str, option: str) -> None:
    """Refuse a column name the table does not have, listing the ones it does."""
    if column not in table.columns:
        shown = ", ".join(table.columns[:12]) + (", ..." if len(table.columns) > 12 else "")
        raise DataError(
            f"column {column!r} ({option}) is not in {table.path.name}",
            f"pick one of: {shown}",
        )


def require_no_empty_columns(table: CsvTable) -> None:
    """Refuse a column that is null in every row: it carries no information."""
    for column in table.columns:
        if all(value is None for value in table.values(column)):
            raise DataError(
                f"column {column!r} in {table.path.name} is empty in every row",
                "delete that column from the CSV",
            )


def min_rows_per_class(cv_folds: int, test_size: float) -> int:
    """The fewest rows a class needs so a stratified test split and k-fold CV both work."""
    return math.ceil(cv_folds / (1 - test_size)) + 1


def class_balance(
    table: CsvTable,
    label: str,
    option: str,
    positive_class: str | None = None,
    cv_folds: int | None = None,
    test_size: float = TEST_SIZE,
) -> ClassBalance:
    """Check a label column can train a classifier; pick the positive class."""
    labels = table.values(label)
    missing = sum(value is None for value in labels)
    counts = Counter(value for value in labels if value is not None)
    if not counts:
        raise DataError(
            f"label column {label!r} ({option}) has no values", "pick the column to predict"
        )
    if len(counts) == 1:
        only = next(iter(counts))
        raise DataError(
            f"label column {label!r} has a single class {only!r}",
            "a classifier needs at least two classes: pick another column or add rows",
        )
    if len(counts) > MAX_CLASSES:
        raise DataError(
            f"label column {label!r} has {len(counts)} distinct values, too many for a classifier",
            f"pick a categorical column or bin it into at most {MAX_CLASSES} classes",
        )
    cv_folds = cv_folds or default_cv_folds()
    needed = min_rows_per_class(cv_folds, test_size)
    rare = [(name, n) for name, n in counts.items() if n < needed]
    if rare:
        name, n = min(rare, key=lambda item: item[1])
        continuous = len(counts) > 10 and _is_numeric(list(counts))
        raise DataError(
            f"class {name!r} of label column {label!r} has {n} rows; "
            f"a stratified test split and {cv_folds}-fold CV need at least {needed}",
            f"{label!r} looks like a quantity ({len(counts)} distinct numbers): bin it into "
            "a few classes or pick a categorical column"
            if continuous
            else "merge rare classes or add rows",
        )
    if positive_class is not None and positive_class not in counts:
        raise DataError(
            f"--positive-class {positive_class!r} is not a value of {label!r}",
            f"use one of: {', '.join(sorted(counts))}",
        )
    warnings = []
    if missing:
        warnings.append(f"{missing} rows have no {label!r} value and will be dropped")
    if positive_class is None:
        # The minority class is the one a business usually wants to find (fraud, churn,
        # default); for multiclass it is only used to name the task.
        positive_class = min(counts, key=lambda name: (counts[name], name))
    return ClassBalance(counts=dict(counts), positive_class=positive_class, warnings=warnings)


def id_like_columns(table: CsvTable, exclude: set[str]) -> list[str]:
    """Columns that identify rows rather than describe them (warn and drop them).

    An ID column memorises rows: it can only leak or overfit. A column counts as an ID
    when its name says so, when most of its values are distinct non-numeric strings
    (names, codes, free text: as categories they can only be memorised), or when it is
    a distinct integer counter (a range of consecutive numbers, or increasing with the
    row order).
    """
    found = []
    n_rows = len(table.rows)
    for column in table.columns:
        if column in exclude:
            continue
        values = [value for value in table.values(column) if value is not None]
        distinct = len(set(values))
        named_id = _ID_NAME.search(column) or _CAMEL_ID.search(column)
        if named_id and distinct > 0.5 * len(values):
            found.append(column)
            continue
        if len(values) >= 20 and distinct > 0.5 * len(values) and not _is_numeric(values):
            found.append(column)
            continue
        if n_rows < 20 or len(values) != n_rows or distinct != n_rows:
            continue
        if all(_is_int(value) for value in values):
            numbers = [int(value) for value in values]
            # a counter (1..n, or increasing with row order), not a measurement
            if max(numbers) - min(numbers) + 1 == n_rows or numbers == sorted(numbers):
                found.append(column)
    return found


def _is_numeric(values: list[str]) -> bool:
    """Whether a column reads as numbers, ``1234,5`` included (a few stray strings aside)."""
    numbers = sum(_is_float(value) or bool(_COMMA_NUMBER.match(value)) for value in values)
    return numbers >= 0.9 * len(values)


def decimal_separator(table: CsvTable) -> str:
    """``","`` when numbers are written ``1234,56`` (many European exports), else ``"."``.

    Only a ``;``- or tab-separated file can hold unquoted decimal commas, and only when no
    column writes fractions with a dot: a file never mixes the two conventions.
    """
    if table.delimiter == ",":
        return "."
    comma_columns, dot_fractions = 0, False
    for column in table.columns:
        values = [value for value in table.values(column) if value is not None]
        if not values:
            continue
        if all(_COMMA_NUMBER.match(value) for value in values) and any("," in v for v in values):
            comma_columns += 1
        dot_fractions = dot_fractions or any(_DOT_FRACTION.match(value) for value in values)
    return "," if comma_columns and not dot_fractions else "."


def date_like_columns(table: CsvTable, exclude: set[str]) -> list[str]:
    """Columns whose every value is a date or timestamp (a model sees them as categories)."""
    found = []
    for column in table.columns:
        values = [value for value in table.values(column) if value is not None]
        if column not in exclude and values and all(_DATE.match(value) for value in values):
            found.append(column)
    return found


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdigit()


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def check_corpus(corpus: Path) -> list[Path]:
    """Return the documents of a ``--corpus`` folder, refusing unusable folders."""
    if not corpus.exists():
        raise DataError(f"corpus folder {corpus} does not exist", "check the path to --corpus")
    if not corpus.is_dir():
        raise DataError(
            f"--corpus {corpus} is a file, not a folder",
            "pass the folder that holds your .md/.rst/.txt/.html/.pdf files",
        )
    documents = sorted(
        path
        for path in corpus.rglob("*")
        if path.is_file()
        and path.suffix.lower() in CORPUS_SUFFIXES
        and not any(
            part.startswith(".") or part in CORPUS_BUILD_EXTRAS
            for part in path.relative_to(corpus).parts
        )
    )
    if not documents:
        raise DataError(
            f"corpus folder {corpus} has no .md, .rst, .txt, .html or .pdf files outside "
            "hidden folders and docs-build extras (_sources/, genindex.html)",
            "add documents to it or point --corpus at the folder that has them",
        )
    for document in documents:
        size = document.stat().st_size
        if size > MAX_CORPUS_FILE_BYTES:
            raise DataError(
                f"corpus file {document.relative_to(corpus)} is {size // 2**20} MiB, "
                f"over the {MAX_CORPUS_FILE_BYTES // 2**20} MiB limit",
                "split it into smaller documents or leave it out",
            )
        try:
            head = document.read_bytes()[:8192]
        except OSError as error:
            raise DataError(
                f"cannot read corpus file {document.relative_to(corpus)}: {error.strerror}",
                "fix its permissions or remove it",
            ) from None
        if document.suffix.lower() != ".pdf" and b"\x00" in head:
            raise DataError(
                f"corpus file {document.relative_to(corpus)} is binary, not text",
                "remove it or convert it to .md/.txt",
            )
        if document.suffix.lower() == ".pdf" and not head.startswith(b"%PDF"):
            raise DataError(
                f"corpus file {document.relative_to(corpus)} is not a valid PDF",
                "re-export it or remove it",
            )
    return documents
