"""Stage 1, read: turn corpus files into titled sections that keep where they came from.

Every section carries its source path, a title and an anchor, so a passage cut from it
can be cited. Readers exist for Markdown, reStructuredText (Sphinx-aware: a
``.. function::`` becomes its own section anchored at the qualified name, as in the
Python docs), plain text, HTML and PDF. A file that cannot be used is skipped with one
line saying why; a folder with nothing usable is an error.
"""

from __future__ import annotations

import gzip
import json
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

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
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist: put .md/.rst/.txt/.html/.pdf files there"
        )
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
    if b"\x00" in head:
        return "binary, not text: convert it to .md or .txt"
    return None


def read_file(path: Path, source: str) -> list[Section]:
    """The sections of one document, by its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _read_pdf(path, source)
    text = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
    title = _title_from_name(path)
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
        for line in handle:
            if line.strip():
                yield json.loads(line)


def slugify(text: str) -> str:
    """An anchor like Sphinx and GitHub make from a heading."""
    text = re.sub(r"[^\w\s-]", "", text.lower()).strip()
    return re.sub(r"[\s_]+", "-", text)


def _title_from_name(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize() or path.name


# Markdown ----------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _markdown_sections(text: str, source: str, title: str) -> Iterator[Section]:
    """Split at headings; the first ``# heading`` names the document."""
    doc_title, heading, body, fenced = title, "", [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else _MD_HEADING.match(line)
        if match is None:
            body.append(_MD_LINK.sub(r"\1", line))
            continue
        yield from _section(source, doc_title, heading, body)
        heading, body = match.group(2).strip(), []
        if len(match.group(1)) == 1 and doc_title == title:
            doc_title, heading = heading, ""
    yield from _section(source, doc_title, heading, body)


def _section(source: str, doc_title: str, heading: str, body: list[str]) -> Iterator[Section]:
    text = "\n".join(body).strip()
    if text:
        title = f"{doc_title} › {heading}" if heading else doc_title
        yield Section(source, title, slugify(heading), text)


# reStructuredText ------------------------------------------------------------------

_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+<>:._])\1{2,}\s*$")
_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+)::\s*(.*)$")
_ROLE = re.compile(r":[\w:+-]+:`([^`]*)`")
_LINK_REF = re.compile(r"`([^`<]*?)\s*<[^>]*>`__?")
_OBJECTS = frozenset(
    {"function", "method", "class", "exception", "attribute", "data", "decorator",
     "classmethod", "staticmethod", "coroutinefunction", "coroutinemethod", "opcode",
     "envvar", "cmdoption", "option", "describe", "pdbcommand", "decoratormethod"}
)  # fmt: skip
_DROP = frozenset(
    {"index", "toctree", "contents", "sectionauthor", "moduleauthor", "highlight",
     "testsetup", "testcleanup", "raw", "image", "figure", "include", "literalinclude",
     "audit-event", "tabularcolumns", "only", "rubric", "program", "c:function",
     "c:macro", "c:type", "c:member", "c:var", "c:struct", "c:data", "productionlist",
     "impl-detail", "sectnum", "centered", "availability", "opcode"}
)  # fmt: skip
_ADMONITIONS = frozenset(
    {"note", "warning", "seealso", "tip", "important", "caution", "attention", "hint", "danger"}
)
_LABELS = {
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
    "deprecated-removed": "Deprecated since version",
}


def rst_sections(text: str, source: str, title: str) -> Iterator[Section]:
    """Split reST at headings and at Sphinx object directives (functions, classes...)."""
    lines = text.splitlines()
    doc_title, heading, anchor, body = title, "", "", []
    module, i = "", 0
    seen_heading = False
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not line[0].isspace() and _is_underline(nxt, line):
            yield from _rst_section(source, doc_title, heading, anchor, body)
            name = clean_inline(line.strip()).replace(" --- ", " — ")
            if not seen_heading:
                doc_title, heading, anchor, seen_heading = name, "", "", True
            else:
                heading, anchor = name, slugify(name)
            body, i = [], i + 2
            continue
        overlined = i + 2 < len(lines) and _is_underline(lines[i + 2], nxt)
        if _UNDERLINE.match(line) and nxt.strip() and overlined:
            i += 1  # the overline of a title: the title is found on the next line
            continue
        directive = _DIRECTIVE.match(line)
        if directive is None:
            if line.strip().startswith(".. ") or line.strip() == "..":
                i = _skip_block(lines, i)  # comment or link target
                continue
            body.append(line)
            i += 1
            continue
        indent, name, argument, content, i = _directive(directive, lines, i)
        if name in ("module", "currentmodule"):
            module = argument.strip()
        elif name in _OBJECTS and not indent:
            yield from _rst_section(source, doc_title, heading, anchor, body)
            heading = _qualify(argument, module)
            anchor, body = heading.split("(")[0].strip(), _render_block(content, module)
        else:
            body += _render_directive(name, argument, content, module)
    yield from _rst_section(source, doc_title, heading, anchor, body)


def _render_block(lines: list[str], module: str) -> list[str]:
    """Body lines with nested directives rendered (or dropped) the same way."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        directive = _DIRECTIVE.match(lines[i])
        if directive is None:
            stripped = lines[i].strip()
            if stripped.startswith(".. ") or stripped == "..":
                i = _skip_block(lines, i)
                continue
            out.append(lines[i])
            i += 1
            continue
        _, name, argument, content, i = _directive(directive, lines, i)
        out += _render_directive(name, argument, content, module)
    return out


def _directive(
    match: re.Match[str], lines: list[str], start: int
) -> tuple[str, str, str, list[str], int]:
    """Indent, name, argument (continuation lines joined), content and the next index."""
    indent, name, argument = match.groups()
    end = _skip_block(lines, start)
    content = _block_content(lines[start + 1 : end])
    while argument.rstrip().endswith("\\") and content:
        argument = argument.rstrip()[:-1] + " " + content.pop(0).strip()
    return indent, name, " ".join(argument.split()), content, end


def _render_directive(name: str, argument: str, content: list[str], module: str) -> list[str]:
    """The text a directive shows in a page, as body lines (nothing for index entries)."""
    if name in _DROP or name.startswith("c:") or name in ("module", "currentmodule"):
        return []
    inner = _render_block(content, module)
    if name in _OBJECTS:  # a method inside a class: keep it in the class section
        return ["", _qualify(argument, module), *inner]
    if name in _LABELS:
        return ["", f"{_LABELS[name]} {argument}:", *inner]
    if name in _ADMONITIONS:
        return ["", f"{name.capitalize()} {argument}".strip() + ":", *inner]
    if argument and name not in ("code-block", "sourcecode", "code", "highlight"):
        return ["", argument, *inner]
    return ["", *inner]


def _is_underline(candidate: str, title: str) -> bool:
    return bool(_UNDERLINE.match(candidate)) and len(candidate.rstrip()) >= len(title.rstrip())


def _skip_block(lines: list[str], start: int) -> int:
    """The index after an indented block that starts at ``start``."""
    base = len(lines[start]) - len(lines[start].lstrip())
    i = start + 1
    while i < len(lines) and (
        not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > base
    ):
        i += 1
    return i


def _block_content(block: list[str]) -> list[str]:
    """A directive's content without its option lines (``:synopsis: ...``)."""
    text = textwrap.dedent("\n".join(block))
    kept = [line for line in text.splitlines() if not re.match(r"^:[\w-]+:( |$)", line)]
    return kept


def _qualify(argument: str, module: str) -> str:
    name = argument.strip()
    bare = name.split("(")[0].strip()
    if module and "." not in bare.split("[")[0]:
        return f"{module}.{name}"
    return name


def _rst_section(
    source: str, doc_title: str, heading: str, anchor: str, body: list[str]
) -> Iterator[Section]:
    text = clean_rst_text("\n".join(body))
    if text:
        title = f"{doc_title} › {heading}" if heading else doc_title
        yield Section(source, title, anchor, text)


def clean_inline(text: str) -> str:
    """reST inline markup to plain text: roles, links, emphasis, literals."""
    text = _LINK_REF.sub(r"\1", text)
    text = _ROLE.sub(lambda m: _role_text(m.group(1)), text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`]+)`_{0,2}", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\1", text)
    text = re.sub(r"\|(\w[\w -]*)\|", r"\1", text)
    return text


def _role_text(inner: str) -> str:
    match = re.match(r"^(.*?)\s*<([^>]*)>$", inner, flags=re.DOTALL)
    if match and match.group(1):
        return match.group(1)
    return inner.lstrip("~!")


def clean_rst_text(text: str) -> str:
    """A section body as readable text: markup gone, tables flattened, blank runs squeezed."""
    text = _LINK_REF.sub(r"\1", text)  # links and roles may span lines
    text = _ROLE.sub(lambda m: _role_text(m.group(1)), text)
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if re.fullmatch(r"[+=\-| ]{3,}", stripped) and set(stripped) & set("=-+"):
            continue  # table border or transition
        if stripped == "::":
            continue
        line = re.sub(r"\s*::$", ":", line)
        if stripped.startswith("|") and stripped.endswith("|"):
            line = " ".join(cell.strip() for cell in stripped.strip("|").split("|"))
        lines.append(clean_inline(line.rstrip()))
    text = textwrap.dedent("\n".join(lines))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# HTML and PDF ----------------------------------------------------------------------


_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg"})
# Page chrome (menus, sidebars, footers, pop-ups): never an answer, often a false title.
_CHROME = frozenset({"nav", "aside", "footer", "form", "button", "dialog"})
_HEADINGS = frozenset({"h1", "h2", "h3"})


@dataclass
class _HtmlSection:
    heading: str
    anchor: str
    in_main: bool = False
    text: list[str] = field(default_factory=list)
    main_text: list[str] = field(default_factory=list)


class _HtmlText(HTMLParser):
    """Visible text split at each h1-h3, with the page's ``<title>``.

    Text inside ``<main>``/``<article>`` is kept apart: when a page has one, only that is
    indexed, so navigation menus, sidebars and pop-ups never become passages or titles.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections = [_HtmlSection("", "")]
        self.title = ""
        self.has_main = False
        self._skip = 0
        self._main = 0
        self._in_title = False
        self._heading: _HtmlSection | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED or tag in _CHROME or (tag == "header" and not self._main):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in ("main", "article") or dict(attrs).get("role") == "main":
            self._main += 1
            self.has_main = True
        elif tag in _HEADINGS and not self._skip:
            self._heading = _HtmlSection("", dict(attrs).get("id") or "", self._main > 0)
        elif tag in ("p", "br", "li", "div", "tr", "pre"):
            self._append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED or tag in _CHROME or (tag == "header" and not self._main):
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in ("main", "article"):
            self._main = max(0, self._main - 1)
        elif tag in _HEADINGS and self._heading is not None:
            heading = " ".join(self._heading.heading.split())
            anchor = self._heading.anchor or slugify(heading)
            self.sections.append(_HtmlSection(heading, anchor, self._heading.in_main))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._skip:
            return
        elif self._heading is not None:
            self._heading.heading += data
        else:
            self._append(data)

    def _append(self, data: str) -> None:
        if self._skip:
            return
        self.sections[-1].text.append(data)
        if self._main:
            self.sections[-1].main_text.append(data)


def _html_sections(text: str, source: str, title: str) -> Iterator[Section]:
    """Sections of the page's main content, titled by its first heading or ``<title>``."""
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    page_title = re.split(r"\s+[-|–—]\s+", " ".join(parser.title.split()))[0]
    headings = [
        section.heading
        for section in parser.sections
        if section.heading and (section.in_main or not parser.has_main)
    ]
    doc_title = headings[0] if headings else page_title or title
    for section in parser.sections:
        parts = section.main_text if parser.has_main else section.text
        body = re.sub(r"[ \t]+", " ", "".join(parts))
        body = re.sub(r"\n\s*\n+", "\n\n", body).strip()
        if not body:
            continue
        heading = "" if section.heading == doc_title else section.heading
        name = f"{doc_title} › {heading}" if heading else doc_title
        yield Section(source, name, section.anchor if heading else "", body)


def _read_pdf(path: Path, source: str) -> list[Section]:
    """One section per page, anchored ``page=N`` (what PDF viewers understand)."""
    from pypdf import PdfReader  # imported here: only PDF corpora pay for it
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        meta_title = reader.metadata.title if reader.metadata else None
        title = (meta_title or _title_from_name(path)).strip()
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except PyPdfError as error:  # truncated, damaged or encrypted
        raise ValueError(f"not a readable PDF: {error}") from None
    return [
        Section(source, f"{title} › page {number}", f"page={number}", text)
        for number, text in enumerate(pages, start=1)
        if text
    ]
