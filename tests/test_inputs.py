"""What `--data` inspection infers from a CSV: separators and columns worth a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlportfolio import inputs
from mlportfolio.answers import UserInputs
from mlportfolio.render import NewProject, new_project


def _table(tmp_path: Path, text: str) -> inputs.CsvTable:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return inputs.read_csv(path)


@pytest.mark.parametrize(
    ("text", "decimal"),
    [
        ("a;b;y\n1,5;2;x\n3;4,25;z\n", ","),  # a European export
        ("age;balance;y\n58;2143.5;no\n44;29;no\n", "."),  # UCI bank marketing style
        ("a,b,y\n1.5,2,x\n3,4,z\n", "."),
        ("a;b;y\n1;2;x\n3;4;z\n", "."),  # integers only: nothing to convert
    ],
)
def test_decimal_separator_follows_how_numbers_are_written(
    tmp_path: Path, text: str, decimal: str
) -> None:
    assert inputs.decimal_separator(_table(tmp_path, text)) == decimal


def test_date_columns_are_found_but_not_the_target(tmp_path: Path) -> None:
    table = _table(
        tmp_path,
        "signup,seen,when,y\n2021-03-04,3/4/2021,2021-03-04 10:15,2021-01-01\n"
        "2022-11-30,11/30/2022,,2022-01-01\n",
    )
    assert inputs.date_like_columns(table, exclude={"y"}) == ["signup", "seen", "when"]


def test_a_latin1_csv_is_copied_in_as_utf8_with_a_warning(tmp_path: Path) -> None:
    rows = "".join(f"Montr\xe9al,{i},{'oui' if i % 2 else 'non'}\n" for i in range(40))
    source = tmp_path / "ventes.csv"
    source.write_bytes(("ville,montant,achat\n" + rows).encode("latin-1"))
    project = new_project(
        NewProject(
            kind="classifier",
            dest=tmp_path / "proj",
            git=False,
            inputs=UserInputs(data=source, target="achat", positive_class="oui"),
        )
    )
    copied = (project.path / "data/raw/ventes.csv").read_text(encoding="utf-8")
    assert copied.splitlines()[1].startswith("Montréal,0,")
    assert any("not UTF-8" in warning for warning in project.warnings)


def test_a_saved_pandas_index_column_is_named_as_pandas_reads_it_and_dropped(
    tmp_path: Path,
) -> None:
    rows = "".join(f"{i},{20 + i % 50},{'yes' if i % 3 else 'no'}\n" for i in range(60))
    source = tmp_path / "exported.csv"
    source.write_text(",age,bought\n" + rows)  # what DataFrame.to_csv() writes by default
    project = new_project(
        NewProject(
            kind="classifier",
            dest=tmp_path / "proj",
            git=False,
            inputs=UserInputs(data=source, target="bought"),
        )
    )
    answers = (project.path / ".copier-answers.yml").read_text()
    assert "Unnamed: 0" in answers
    assert any("'Unnamed: 0' looks like a row ID" in warning for warning in project.warnings)


def test_id_like_columns_are_found_by_name_or_by_mostly_distinct_text(tmp_path: Path) -> None:
    rows = "".join(
        f"N{i // 2}A{i % 2},C-{1000 + i},Passenger {i},{['Oslo', 'Lima'][i % 2]},{i % 7},"
        f"{30 + i % 40}.5,{'yes' if i % 3 else 'no'}\n"
        for i in range(60)
    )
    table = _table(tmp_path, "Individual ID,customerID,name,city,store_id,income,y\n" + rows)
    assert inputs.id_like_columns(table, exclude={"y"}) == ["Individual ID", "customerID", "name"]


def test_quoted_values_may_hold_line_breaks_and_unicode_separators(tmp_path: Path) -> None:
    table = _table(tmp_path, 'text,label\n"two\nlines",a\n"next\u2028line \x85here",b\n')
    assert table.rows == [["two\nlines", "a"], ["next\u2028line \x85here", "b"]]


def test_decimal_comma_measurements_are_not_mistaken_for_ids(tmp_path: Path) -> None:
    rows = "".join(f"{12 + i / 7:.2f};{i % 3}\n".replace(".", ",") for i in range(60))
    table = _table(tmp_path, "alcohol;target\n" + rows)
    assert inputs.id_like_columns(table, exclude={"target"}) == []
