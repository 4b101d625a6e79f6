"""Stage 2, read: turn corpus files into titled sections that keep where they came from.

Every section carries its source path, a title and an anchor, so a passage cut from it
can be cited. reStructuredText goes through docutils (``rst.py``), PDF through pypdf;
Markdown, plain text and HTML get small readers here, because a section needs only its
headings and its text: Markdown headings are the lines that start with ``#`` (a regex),
and HTML goes through the standard library's ``HTMLParser``, keeping only ``<main>`` or
``<article>`` when a page has one, so no extra dependency is needed for either. A file
that cannot be used is skipped with one line saying why; a folder with nothing usable is
an error.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from . import rst

# The corpus contract (the generator checks a user's folder against the same values).
DOCUMENT_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".txt", ".html", ".htm", ".pdf"})
PASSAGES_SUFFIX = ".passages.jsonl.gz"  # pre-chunked passages, e.g. the bundled Python docs
MAX_FILE_BYTES = 20 * 1024 * 1024


class CorpusError(RuntimeError):
    """The corpus folder has no usable document (the message says what to do)."""


@dataclass(frozen=True)
class Section:
    """A titled span of one document: the unit that chunking splits into passages."""

    source: str  # path relative to the corpus folder
    title: str
    anchor: str
    text: str
    url: str = ""


@dataclass(frozen=True)
class Skipped:
    """A file left out of the corpus, and why (shown as one line)."""

    path: str
    reason: str


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every candidate file below ``corpus_dir`` (hidden files and folders left out)."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist: put documents there")
    files = sorted(
        path
        for path in corpus_dir.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(corpus_dir).parts)
        and (path.suffix.lower() in DOCUMENT_SUFFIXES or path.name.endswith(PASSAGES_SUFFIX))
    )
    if not files:
        raise CorpusError(
            f"corpus folder {corpus_dir} has no .md, .rst, .txt, .html or .pdf files: add some"
        )
    return files


def check_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a document, or ``None`` when it can."""
    try:
        size = path.stat().st_size
        head = path.read_bytes()[:8192] if size else b""
    except OSError as error:
        return f"unreadable ({error.strerror}): fix its permissions or remove it"
    if size == 0:
        return "empty: add text or remove it"
    if size > MAX_FILE_BYTES:
        return f"{size // 2**20} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit: split it"
    if path.name.endswith(PASSAGES_SUFFIX):
        return None if head.startswith(b"\x1f\x8b") else "not a gzip file: rebuild it"
    if path.suffix.lower() == ".pdf":
        return None if head.startswith(b"%PDF") else "not a valid PDF: re-export it"
    return "binary, not text: convert it to .md or .txt" if b"\x00" in head else None


def read_file(path: Path, source: str) -> list[Section]:
    """The sections of one document, by its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _pdf_sections(path, source)
    text = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
    title = path.stem.replace("_", " ").replace("-", " ").strip().capitalize() or path.name
    if suffix in (".md", ".markdown"):
        return list(_markdown_sections(text, source, title))
    if suffix == ".rst":
        return list(rst_sections(text, source, title))
    if suffix in (".html", ".htm"):
        return list(_html_sections(text, source, title))
    return [Section(source, title, "", text.strip())] if text.strip() else []


def read_passage_file(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a pre-chunked ``*.passages.jsonl.gz`` file (id, source, title, anchor, url, text)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        yield from (json.loads(line) for line in handle if line.strip())


def slugify(text: str) -> str:
    """An anchor like Sphinx and GitHub make from a heading."""
    return re.sub(r"[\s_]+", "-", re.sub(r"[^\w\s-]", "", text.lower()).strip())


def _section(source: str, doc_title: str, heading: str, anchor: str, text: str) -> list[Section]:
    """One section titled ``Document › Heading`` (none when it holds no text)."""
    text = re.sub(r"\n[ \t]*\n\s*", "\n\n", text).strip()
    title = f"{doc_title} › {heading}" if heading else doc_title
    return [Section(source, title, anchor, text)] if text else []


# Markdown: split at headings; the first `# heading` names the document ----------------


_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _markdown_sections(text: str, source: str, title: str) -> Iterator[Section]:
    doc_title, heading, body, fenced = title, "", [], False
    for line in text.splitlines():
        fenced ^= line.lstrip().startswith(("```", "~~~"))
        match = None if fenced else re.match(r"^(#{1,6})\s+(.+?)\s*#*\s*$", line)
        if match is None:
            body.append(_MARKDOWN_LINK.sub(r"\1", line))  # links: their text
            continue
        yield from _section(source, doc_title, heading, slugify(heading), "\n".join(body))
        heading, body = _MARKDOWN_LINK.sub(r"\1", match.group(2)).replace("`", ""), []
        if len(match.group(1)) == 1 and doc_title == title:
            doc_title, heading = heading, ""
    yield from _section(source, doc_title, heading, slugify(heading), "\n".join(body))


def rst_sections(text: str, source: str, title: str) -> Iterator[Section]:
    """reST sections, split at headings and top-level Sphinx objects (``rst.py``)."""
    doc_title, parts = rst.parse(text)
    for heading, anchor, body in parts:
        anchor = slugify(heading) if anchor is None else anchor
        yield from _section(source, doc_title or title, heading, anchor, body)


# HTML: the visible text of the main content, split at h1-h3 ----------------------------

_HIDDEN = frozenset(
    {"script", "style", "noscript", "template", "svg", "nav", "aside", "footer", "form",
     "button", "dialog"}
)  # fmt: skip


class _HtmlText(HTMLParser):
    """Headings and text; text inside ``<main>``/``<article>`` is marked, and when a page has
    one only that is kept, so menus, sidebars and pop-ups are never passages or titles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title, self.has_main, self.heading = "", False, ""
        self.parts: list[tuple[str, str, bool, list[tuple[str, bool]]]] = [("", "", False, [])]
        self._open: list[str] = []  # the hidden, main, title and heading tags now open

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        main = tag in ("main", "article") or dict(attrs).get("role") == "main"
        self.has_main |= main
        if tag in _HIDDEN or (tag == "header" and "main" not in self._open):
            self._open.append("hidden")
        elif main or tag == "title" or tag in ("h1", "h2", "h3"):
            self._open.append("main" if main else tag)
            self.heading, self._id = "", dict(attrs).get("id") or ""
        if tag in ("p", "br", "li", "div", "tr", "pre"):
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        kinds = {"main": "main", "article": "main", "header": "hidden", "title": "title"}
        kind = "hidden" if tag in _HIDDEN else kinds.get(tag, tag)
        if kind not in self._open:
            return
        self._open.remove(kind)  # the innermost of that kind
        if kind in ("h1", "h2", "h3") and "hidden" not in self._open:
            name = " ".join(self.heading.split())
            self.parts.append((name, self._id or slugify(name), "main" in self._open, []))

    def handle_data(self, data: str) -> None:
        if "hidden" in self._open:
            return
        if "title" in self._open:
            self.title += data
        elif any(h in self._open for h in ("h1", "h2", "h3")):
            self.heading += data
        else:
            self.parts[-1][3].append((data, "main" in self._open))


def _html_sections(text: str, source: str, title: str) -> Iterator[Section]:
    """Sections of the page's main content, titled by its first heading or ``<title>``."""
    page = _HtmlText()
    page.feed(text)
    page.close()
    parts = [part for part in page.parts if part[2] or not page.has_main or not part[0]]
    headings = [name for name, _, _, _ in parts if name]
    doc_title = headings[0] if headings else re.split(r"\s+[-|–—]\s+", page.title.strip())[0]
    for name, anchor, _, body in parts:
        heading = "" if name == doc_title else name
        text = "".join(t for t, in_main in body if in_main or not page.has_main)
        yield from _section(source, doc_title or title, heading, anchor if heading else "",
                            re.sub(r"[ \t]+", " ", text))  # fmt: skip


def _pdf_sections(path: Path, source: str) -> list[Section]:
    """One section per page, anchored ``page=N`` (what PDF viewers understand)."""
    from pypdf import PdfReader  # imported here: only PDF corpora pay for it
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        meta_title = reader.metadata.title if reader.metadata else None
        title = (meta_title or path.stem.replace("_", " ").capitalize()).strip()
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except PyPdfError as error:  # truncated, damaged or encrypted
        raise ValueError(f"not a readable PDF: {error}") from None
    return [
        section
        for number, text in enumerate(pages, start=1)
        for section in _section(source, title, f"page {number}", f"page={number}", text)
    ]
