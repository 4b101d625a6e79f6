"""Shared fixtures: a small corpus written here, its index, and the assistant over it.

The corpus is a few Markdown and reST files plus a "canary" file full of HTML that must
never run in the page. Ingesting it uses the real bundled MiniLM, offline, in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from python_docs_qa.answer import Assistant, build_assistant
from python_docs_qa.config import Settings
from python_docs_qa.ingest import ingest

CANARY = (
    "# Canary page\n\n"
    "## Marmalade recipe\n\n"
    "Seville oranges make the best marmalade. "
    '<script>window.canaryRan = true;</script> <img src="x" onerror="window.canaryRan = true"> '
    "Boil the peel with sugar until it sets.\n"
)
DOCS = {
    "guide/files.md": (
        "# Working with files\n\n"
        "## Copying files\n\n"
        "Use shutil.copyfile(src, dst) to copy the contents of a file. "
        "shutil.copy2 also preserves metadata such as modification times.\n\n"
        "## Deleting folders\n\n"
        "shutil.rmtree removes a whole directory tree. Be careful: there is no undo.\n"
    ),
    "guide/network.md": (
        "# Networking\n\n"
        "## Opening a socket\n\n"
        "Create a TCP connection with socket.create_connection((host, port)). "
        "Always close sockets or use them as context managers.\n\n"
        "## Timeouts\n\n"
        "Set a timeout in seconds with sock.settimeout so a dead server cannot hang the "
        "program forever.\n"
    ),
    "reference/dates.rst": (
        "Dates and times\n"
        "===============\n\n"
        "Parsing dates\n"
        "-------------\n\n"
        ".. function:: parse_date(text)\n\n"
        "   Turn an ISO 8601 string such as ``2024-05-01`` into a :class:`datetime.date`.\n\n"
        "Time zones\n"
        "----------\n\n"
        "Use :mod:`zoneinfo` to attach a time zone such as Europe/Paris to a datetime.\n"
    ),
    "kitchen/canary.md": CANARY,
}
QUESTIONS = (
    '{"question": "How can I duplicate a file?", "source": "guide/files.md", '
    '"anchor": "copying-files"}\n'
    '{"question": "How do I stop a connection from hanging?", "source": "guide/network.md", '
    '"anchor": "timeouts"}\n'
)


def write_corpus(root: Path) -> Path:
    """The fixture corpus and its eval file under ``root``; returns the corpus folder."""
    corpus = root / "corpus"
    for relative, text in DOCS.items():
        path = corpus / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "questions.jsonl").write_text(QUESTIONS, encoding="utf-8")
    return corpus


def settings_for(root: Path, **overrides: object) -> Settings:
    """Settings that keep every file of a test run under ``root``."""
    values: dict[str, object] = {
        "corpus_dir": root / "corpus",
        "eval_file": root / "questions.jsonl",
        "index_dir": root / "index",
        "cache_dir": root / "cache",
        "reports_dir": root / "reports",
        "unanswerable_file": root / "unanswerable.jsonl",  # absent: other-domain questions
        "chunk_words": 40,
        "overlap_words": 8,
        "min_confidence": 0.3,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def make_settings() -> Callable[..., Settings]:
    """``settings_for(root, **overrides)``, for tests that need their own settings."""
    return settings_for


@pytest.fixture
def fresh_root(tmp_path: Path) -> Path:
    """A freshly written (not yet ingested) fixture corpus under ``tmp_path``."""
    write_corpus(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def corpus_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder, ingested once for the whole session."""
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root)
    ingest(settings_for(root))
    return root


@pytest.fixture(scope="session")
def settings(corpus_root: Path) -> Settings:
    return settings_for(corpus_root)


@pytest.fixture(scope="session")
def assistant(settings: Settings) -> Iterator[Assistant]:
    yield build_assistant(settings)
