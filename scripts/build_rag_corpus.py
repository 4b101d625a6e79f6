"""Build the rag template's bundled corpus and eval set from Debian's python3.11-doc.

Run once at development time (the rendered project never needs apt or a download):

    apt-get install -y python3.11-doc
    .venv/bin/python scripts/build_rag_corpus.py

It copies a slice of the reST sources of the Python 3.11 documentation into the template,
as they are published, so the rendered project's own ``make ingest`` reads them through
``documents.py`` (reST through docutils) and cuts them with ``chunking.py``, like any
user's corpus:

- ``data/corpus/{faq,tutorial,library}/*.rst`` and ``glossary.rst``: the FAQ, the tutorial,
  the glossary and the library pages the rest of the documentation links to most, up to
  ``--max-passages`` at the default chunk size (sized so a first ``make ingest`` embeds it
  in about 2-3 minutes on 2 CPU cores).
- ``data/python-docs.LICENSE`` (the PSF licence page of the docs) and a SOURCE note.

``data/eval/questions.jsonl`` is written by hand, one question per FAQ entry, reworded the
way a user would ask it: the FAQ headings are indexed, so a verbatim heading would be found
by its own words. The script checks every question names a real section and none repeats
its heading.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "templates" / "rag"
PACKAGE_SRC = TEMPLATE / "src" / "{{package_name}}"
SOURCES = Path("/usr/share/doc/python3.11/html/_sources")
DOCS_URL = "https://docs.python.org/3.11/"
WHEN = "{% if corpus == 'python-docs' %}"
END = "{% endif %}"
CORPUS = TEMPLATE / "data" / "corpus"
EVAL_FILE = TEMPLATE / "data" / "eval" / f"{WHEN}questions.jsonl{END}"
LICENSE_FILE = TEMPLATE / "data" / f"{WHEN}python-docs.LICENSE{END}"
SOURCE_NOTE = TEMPLATE / "data" / f"{WHEN}python-docs.SOURCE.md{END}"
CHUNK_WORDS, OVERLAP_WORDS = 100, 20
ALWAYS = ("faq/", "tutorial/", "glossary.rst")
_REFERENCE = re.compile(r":(?:mod|func|class|meth|exc|data|attr):`[~!]?([a-z_][\w]*)")


def _template_modules() -> tuple[types.ModuleType, types.ModuleType]:
    """Import the template's documents and chunking modules from their source folder."""
    package = types.ModuleType("rag_template")
    package.__path__ = [str(PACKAGE_SRC)]
    sys.modules["rag_template"] = package
    from rag_template import chunking, documents  # type: ignore[import-not-found]

    return documents, chunking


def _read_sources() -> dict[str, str]:
    """Every page as ``{"library/shutil.rst": text}`` (the .txt suffix Sphinx adds dropped)."""
    if not SOURCES.is_dir():
        sys.exit(f"error: {SOURCES} not found: run `apt-get install -y python3.11-doc` first")
    return {
        path.relative_to(SOURCES).as_posix().removesuffix(".txt"): path.read_text("utf-8")
        for path in sorted(SOURCES.rglob("*.rst.txt"))
    }


def _library_ranking(pages: dict[str, str]) -> list[str]:
    """Library pages, most referenced (by the rest of the docs) first."""
    counts: collections.Counter[str] = collections.Counter()
    for text in pages.values():
        counts.update(_REFERENCE.findall(text))
    library = [page for page in pages if page.startswith("library/")]
    return sorted(library, key=lambda page: (-counts[page[8:-4]], page))


def _passage_count(
    source: str, text: str, documents: types.ModuleType, chunking: types.ModuleType
) -> int:
    """How many passages the project's own ingest will cut this page into (default settings)."""
    return sum(
        len(chunking.chunk_section(section, CHUNK_WORDS, OVERLAP_WORDS))
        for section in documents.rst_sections(text, source, source)
    )


def _faq_sections(pages: dict[str, str], documents: types.ModuleType) -> dict[tuple[str, str], str]:
    """{(source, anchor): heading} of every FAQ section, as the project's reader sees it."""
    return {
        (page, section.anchor): section.title.partition(" \u203a ")[2]
        for page, text in pages.items()
        if page.startswith("faq/")
        for section in documents.rst_sections(text, page, page)
    }


def check_questions(pages: dict[str, str], documents: types.ModuleType) -> int:
    """Every eval question names an FAQ section that exists and does not repeat its heading
    (a verbatim heading would be found by its own words); return how many there are."""
    sections = _faq_sections(pages, documents)
    rows = [json.loads(line) for line in EVAL_FILE.read_text("utf-8").splitlines() if line]
    for row in rows:
        heading = sections.get((row["source"], row["anchor"]))
        if heading is None:
            sys.exit(
                f"error: {row['source']}#{row['anchor']} is not a section: fix {EVAL_FILE.name}"
            )
        if _words(heading) == _words(row["question"]):
            sys.exit(f"error: {row['question']!r} repeats its heading: reword it")
    return len(rows)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def build(max_passages: int) -> dict[str, int]:
    """Copy the slice of reST sources into the template; return its sizes."""
    documents, chunking = _template_modules()
    pages = _read_sources()
    order = [page for page in pages if page.startswith(ALWAYS)] + _library_ranking(pages)
    used: list[str] = []
    passages = 0
    for page in order:
        count = _passage_count(page, pages[page], documents, chunking)
        if count > 0 and passages + count <= max_passages:  # a bare table of contents has none
            used.append(page)
            passages += count
    for old in CORPUS.glob(f"{WHEN}*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    for page in used:
        top, _, rest = page.partition("/")
        target = CORPUS / f"{WHEN}{top}{END}" / rest if rest else CORPUS / f"{WHEN}{top}{END}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(pages[page], "utf-8")
    questions = check_questions(pages, documents)
    shutil.copyfile(SOURCES / "license.rst.txt", LICENSE_FILE)
    library = sum(page.startswith("library/") for page in used)
    SOURCE_NOTE.write_text(
        "# Python 3.11 documentation (bundled corpus)\n\n"
        "Source: the reStructuredText sources of the Python 3.11 documentation, as packaged by "
        "Debian (`python3.11-doc`, `/usr/share/doc/python3.11/html/_sources`). "
        f"Online: {DOCS_URL}\n\n"
        "Licence: PSF License Agreement; code examples under the Zero-Clause BSD licence "
        "(see `python-docs.LICENSE`). Copyright © 2001-2023 Python Software Foundation.\n\n"
        f"Slice: `corpus/`, {len(used)} pages as they are published (the FAQ, the tutorial, the "
        f"glossary and the {library} library pages the docs link to most). `make ingest` reads "
        f"and chunks them like any corpus: {passages:,} passages at the default "
        f"{CHUNK_WORDS} words, overlapping by whole sentences of up to {OVERLAP_WORDS} words.\n\n"
        f"Evaluation set: `eval/questions.jsonl`, {questions} questions, one per FAQ entry, "
        "each reworded by hand the way a user would ask it (none repeats its FAQ heading, "
        "which is indexed), with the source and anchor of its answer. Add your own lines in "
        "the same shape.\n\n"
        "Built by `scripts/build_rag_corpus.py` in the mlportfolio repository.\n"
    )
    return {"pages": len(used), "passages": passages, "questions": questions}


def main() -> None:
    """Build with the default budget and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-passages", type=int, default=6000)
    sizes = build(parser.parse_args().max_passages)
    print(
        f"{sizes['pages']} pages, {sizes['passages']:,} passages, "
        f"{sizes['questions']} eval questions checked"
    )


if __name__ == "__main__":
    main()
