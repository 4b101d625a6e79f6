"""Build the rag template's bundled corpus and eval set from Debian's python3.11-doc.

Run once at development time (the rendered project never needs apt or a download):

    apt-get install -y python3.11-doc
    .venv/bin/python scripts/build_rag_corpus.py

It reads the reST sources of the Python 3.11 documentation with the template's own
reader and chunker (``templates/rag/src/{{package_name}}/documents.py`` (reST through docutils) and
``chunking.py``, so bundled passages and user documents are cut the same way) and writes:

- ``data/corpus/python-docs.passages.jsonl.gz``: a slice of the docs, pre-chunked. The
  slice is the FAQ, the tutorial, the glossary and the library pages the rest of the
  documentation links to most, up to ``--max-passages`` (sized so a first ``make ingest``
  embeds it in about 2-3 minutes on 2 CPU cores).
- ``data/eval/questions.jsonl``: every FAQ question whose heading ends in "?", with its
  gold passage named by (source, anchor). The FAQ answer passages are indexed *without*
  their question heading, so a question is not trivially found by its own words.
- ``data/python-docs.LICENSE`` (the PSF licence page of the docs) and a SOURCE note.
"""

from __future__ import annotations

import argparse
import collections
import gzip
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
PASSAGES_FILE = TEMPLATE / "data" / "corpus" / f"{WHEN}python-docs.passages.jsonl.gz{END}"
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


def _url(source: str, anchor: str) -> str:
    return DOCS_URL + source.removesuffix(".rst") + ".html" + (f"#{anchor}" if anchor else "")


def _page_passages(
    source: str, text: str, documents: types.ModuleType, chunking: types.ModuleType
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Passages of one page, and its eval questions when it is an FAQ page."""
    sections = list(documents.rst_sections(text, source, source))
    questions = []
    passages = []
    for section in sections:
        doc_title, _, heading = section.title.partition(" \u203a ")  # "Page > Section"
        title = section.title
        if source.startswith("faq/") and heading.endswith("?"):
            # the gold passage is the answer alone: drop the question from what is indexed
            title = doc_title
            questions.append({"question": heading, "source": source, "anchor": section.anchor})
        section = documents.Section(
            source, title, section.anchor, section.text, _url(source, section.anchor)
        )
        passages += [
            passage.to_dict()
            for passage in chunking.chunk_section(section, CHUNK_WORDS, OVERLAP_WORDS)
        ]
    return passages, questions


def build(max_passages: int) -> dict[str, int]:
    """Write the bundled files; return their sizes."""
    documents, chunking = _template_modules()
    pages = _read_sources()
    order = [page for page in pages if page.startswith(ALWAYS)] + _library_ranking(pages)
    passages: list[dict[str, str]] = []
    questions: list[dict[str, str]] = []
    used = []
    for page in order:
        page_passages, page_questions = _page_passages(page, pages[page], documents, chunking)
        if len(passages) + len(page_passages) > max_passages:
            continue
        passages += page_passages
        questions += page_questions
        used.append(page)
    seen: set[str] = set()  # identical text at the same place: keep one copy
    passages = [p for p in passages if not (p["id"] in seen or seen.add(p["id"]))]
    for path in (PASSAGES_FILE, EVAL_FILE, LICENSE_FILE):
        path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(PASSAGES_FILE, "wb", mtime=0) as handle:  # mtime 0: same bytes each build
        for passage in passages:
            handle.write((json.dumps(passage, ensure_ascii=False) + "\n").encode())
    EVAL_FILE.write_text(
        "".join(json.dumps(question, ensure_ascii=False) + "\n" for question in questions)
    )
    shutil.copyfile(SOURCES / "license.rst.txt", LICENSE_FILE)
    library = sum(page.startswith("library/") for page in used)
    SOURCE_NOTE.write_text(
        "# Python 3.11 documentation (bundled corpus)\n\n"
        "Source: the reStructuredText sources of the Python 3.11 documentation, as packaged by "
        "Debian (`python3.11-doc`, `/usr/share/doc/python3.11/html/_sources`). "
        f"Online: {DOCS_URL}\n\n"
        "Licence: PSF License Agreement; code examples under the Zero-Clause BSD licence "
        "(see `python-docs.LICENSE`). Copyright © 2001-2023 Python Software Foundation.\n\n"
        f"Slice: {len(used)} pages (the FAQ, the tutorial, the glossary and the {library} "
        f"library pages the docs link to most), {len(passages):,} passages of about "
        f"{CHUNK_WORDS} words with {OVERLAP_WORDS} words of overlap. FAQ answers are indexed "
        "without their question heading.\n\n"
        f"Evaluation set: `eval/questions.jsonl`, {len(questions)} FAQ questions, each with "
        "the source and anchor of its answer. Add your own lines in the same shape.\n\n"
        "Built by `scripts/build_rag_corpus.py` in the mlportfolio repository.\n"
    )
    return {
        "pages": len(used),
        "passages": len(passages),
        "questions": len(questions),
        "bytes": PASSAGES_FILE.stat().st_size,
    }


def main() -> None:
    """Build with the default budget and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-passages", type=int, default=6000)
    sizes = build(parser.parse_args().max_passages)
    print(
        f"{sizes['pages']} pages, {sizes['passages']:,} passages "
        f"({sizes['bytes'] / 2**20:.1f} MiB gzip), {sizes['questions']} eval questions"
    )


if __name__ == "__main__":
    main()
