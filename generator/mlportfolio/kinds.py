"""The project kinds, each defined once: options, bundled data, input checks, next steps.

Adding a kind means adding one ``Kind`` here (and its tree under ``templates/``): the CLI,
rendering, ``check`` and ``update`` all read this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlportfolio.answers import (
    Prepared,
    UserInputs,
    prepare_classifier,
    prepare_finetune,
    prepare_rag,
)
from mlportfolio.errors import UsageError

OPTION_FLAGS: dict[str, str] = {
    name: "--" + name.replace("_", "-") for name in UserInputs.__dataclass_fields__
}


@dataclass(frozen=True)
class Kind:
    """One template: its name, summary, options, bundled data and what to run next."""

    name: str
    summary: str
    options: frozenset[str]
    prepare: Callable[[UserInputs], Prepared]  # checks the options, returns the answers
    bundled_data: tuple[str, str]  # (the answer naming the data, its value for bundled data)
    next_steps: tuple[str, str]
    example_name: str


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            name="classifier",
            summary="tabular classifier: LightGBM vs logistic baseline, MLflow registry, "
            "FastAPI service (credit-risk data by default)",
            options=frozenset({"data", "target", "positive_class"}),
            prepare=prepare_classifier,
            bundled_data=("data_file", "data/raw/credit_data.csv"),
            next_steps=("make train report", "make serve"),
            example_name="credit-risk",
        ),
        Kind(
            name="rag",
            summary="retrieval-augmented QA over documents: BM25 + MiniLM hybrid search, "
            "citations, retrieval eval, web page (Python docs by default)",
            options=frozenset({"corpus"}),
            prepare=prepare_rag,
            bundled_data=("corpus", "python-docs"),
            next_steps=("make train report", "make serve"),
            example_name="python-docs-qa",
        ),
        Kind(
            name="finetune",
            summary="fine-tune a small open-weight model (MiniLM) on a text task, "
            "before/after writeup, serving endpoint (movie reviews by default)",
            options=frozenset({"data", "text_col", "label_col", "base_model"}),
            prepare=prepare_finetune,
            bundled_data=("data_file", "data/raw/rotten_tomatoes.csv"),
            next_steps=("make train report", "make serve"),
            example_name="review-sentiment",
        ),
    )
}


def get_kind(name: str) -> Kind:
    """Return the kind called ``name`` or refuse with the list of valid kinds."""
    try:
        return KINDS[name]
    except KeyError:
        raise UsageError(
            f"unknown project kind {name!r}",
            f"choose one of: {', '.join(KINDS)} (see `mlportfolio list`)",
        ) from None


def check_options(kind: Kind, given: dict[str, object]) -> None:
    """Refuse options that belong to another kind, naming the kinds that take them."""
    for option, value in given.items():
        if value is None or option in kind.options:
            continue
        owners = [k.name for k in KINDS.values() if option in k.options]
        raise UsageError(
            f"{OPTION_FLAGS[option]} is not an option of `new {kind.name}`",
            f"it belongs to `new {' / '.join(owners)}`; drop it or change KIND",
        )
