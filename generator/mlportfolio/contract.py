"""Values the generator and the rendered projects must agree on, defined once here.

A rendered project runs without mlportfolio installed, so it cannot import these: each is
also written in the template, and ``tests/test_contract.py`` reads the rendered examples
and fails the moment a copy differs from the value here. The generator checks a user's
``--data``/``--corpus`` with exactly the rules the project will later apply.
"""

from __future__ import annotations

from mlportfolio import templates

# Spellings of "no value" in public CSVs (compared lower-case; the classifier's data.py).
NULL_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a"})
# Documents the rag template can read, and the largest file it accepts.
CORPUS_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".txt", ".html", ".htm", ".pdf"})
MAX_CORPUS_FILE_BYTES = 20 * 1024 * 1024
# What a documentation build writes beside its pages, never read as documents: Sphinx's
# second copy of every page's source (_sources/, as .txt), its highlighted code
# (_modules/) and its index pages, which list names rather than say anything; a 404 page.
CORPUS_BUILD_EXTRAS = frozenset(
    {"_sources", "_modules", "genindex.html", "py-modindex.html", "404.html"}
)
# Share of the classifier's rows kept back as the test split (its config.py).
TEST_SIZE = 0.2
# Where copier records what a project was rendered with (its answers file).
ANSWERS_FILE = ".copier-answers.yml"
# Written by every project's `make report`; read by `mlportfolio check`.
SUMMARY_FILE = "reports/walkthrough.json"


def default_cv_folds() -> int:
    """The classifier's cross-validation folds unless the user answers otherwise."""
    return int(templates.questions()["cv_folds"]["default"])
