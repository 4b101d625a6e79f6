"""The three project kinds: what each renders, which options it takes, what to run next."""

from __future__ import annotations

from dataclasses import dataclass

from mlportfolio.errors import UsageError


@dataclass(frozen=True)
class Kind:
    """One template: its name, a one-line summary and the options only it accepts."""

    name: str
    summary: str
    options: frozenset[str]
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
            next_steps=("make train report", "make serve"),
            example_name="credit-risk",
        ),
        Kind(
            name="rag",
            summary="retrieval-augmented QA over documents: BM25 + MiniLM hybrid search, "
            "citations, retrieval eval, web page (Python docs by default)",
            options=frozenset({"corpus"}),
            next_steps=("make ingest evaluate report", "make serve"),
            example_name="python-docs-qa",
        ),
        Kind(
            name="finetune",
            summary="fine-tune a small open-weight model (MiniLM) on a text task, "
            "before/after writeup, serving endpoint (movie reviews by default)",
            options=frozenset({"data", "text_col", "label_col", "base_model"}),
            next_steps=("make train report", "make serve"),
            example_name="review-sentiment",
        ),
    )
}

OPTION_FLAGS: dict[str, str] = {
    "data": "--data",
    "target": "--target",
    "positive_class": "--positive-class",
    "corpus": "--corpus",
    "text_col": "--text-col",
    "label_col": "--label-col",
    "base_model": "--base-model",
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
        flag = OPTION_FLAGS[option]
        raise UsageError(
            f"{flag} is not an option of `new {kind.name}`",
            f"it belongs to `new {' / '.join(owners)}`; drop it or change KIND",
        )
