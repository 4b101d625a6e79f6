"""Stage 1, read: turn corpus files into titled sections that keep where they came from.

Every section carries its source path, a title and an anchor, so a passage cut from it
can be cited. reStructuredText is parsed by docutils, the reference implementation; the
Sphinx roles and directives it does not know (``:func:``, ``.. function::``,
``.. versionadded::``) are registered as generic ones that keep their text, and a
top-level ``.. function::`` becomes its own section anchored at the qualified name, as
in the Python docs. Markdown, plain text, HTML and PDF get small readers of their own.
A file that cannot be used is skipped with one line saying why.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles
from docutils.parsers.rst.languages import en

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


def _markdown_sections(text: str, source: str, title: str) -> Iterator[Section]:
    doc_title, heading, body, fenced = title, "", [], False
    for line in text.splitlines():
        fenced ^= line.lstrip().startswith(("```", "~~~"))
        match = None if fenced else re.match(r"^(#{1,6})\s+(.+?)\s*#*\s*$", line)
        if match is None:
            body.append(re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", line))  # links: their text
            continue
        yield from _section(source, doc_title, heading, slugify(heading), "\n".join(body))
        heading, body = match.group(2), []
        if len(match.group(1)) == 1 and doc_title == title:
            doc_title, heading = heading, ""
    yield from _section(source, doc_title, heading, slugify(heading), "\n".join(body))


# reStructuredText: docutils, taught just enough Sphinx to keep its text ----------------

_OBJECTS = frozenset(
    {"function", "method", "class", "exception", "attribute", "data", "decorator",
     "classmethod", "staticmethod", "coroutinefunction", "coroutinemethod", "envvar",
     "cmdoption", "option", "describe", "pdbcommand", "decoratormethod", "abstractmethod"}
)  # fmt: skip
_DROPPED = frozenset(
    {"index", "toctree", "contents", "sectionauthor", "moduleauthor", "highlight", "include",
     "literalinclude", "testsetup", "testcleanup", "raw", "image", "figure", "audit-event",
     "tabularcolumns", "only", "program", "productionlist", "sectnum", "availability"}
)  # fmt: skip
_LABELS = {
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
    "deprecated-removed": "Deprecated since version",
}
_CODE = frozenset({"code", "code-block", "sourcecode", "doctest", "testcode", "testoutput"})
_SKIPPED_NODES = (nodes.title, nodes.target, nodes.substitution_definition, nodes.docinfo)
_SETTINGS = {"report_level": 5, "halt_level": 5, "warning_stream": False, "doctitle_xform": False,
             "file_insertion_enabled": False, "raw_enabled": False}  # fmt: skip


class _AnyOption(dict[str, object]):
    """An option spec that accepts every option (``:synopsis:``, ``:noindex:``...)."""

    def __getitem__(self, key: str) -> object:
        return directives.unchanged


class _SphinxDirective(Directive):
    """Any directive docutils does not know: its argument and content kept as text."""

    optional_arguments, final_argument_whitespace, has_content = 1, True, True
    option_spec = _AnyOption(any=directives.unchanged)

    def run(self) -> list[nodes.Node]:
        name, argument = self.name, " ".join(" ".join(self.arguments).split())
        if name in _DROPPED or name.startswith("c:"):
            return []
        if name in ("module", "currentmodule"):
            self.state.document["module"] = argument
            return []
        if name in _CODE:
            return [nodes.literal_block(text="\n".join(self.content))]
        container = _Object() if name in _OBJECTS else nodes.container()
        if name in _OBJECTS:
            module = self.state.document.get("module", "")
            bare = argument.split("(")[0].split("[")[0]
            container["name"] = f"{module}.{argument}" if module and "." not in bare else argument
        elif name in _LABELS or argument:  # `.. versionadded:: 3.2 text`: version, then text
            version, _, rest = argument.partition(" ") if name in _LABELS else ("", "", argument)
            inline, _ = self.state.inline_text(rest, self.lineno)
            label = [nodes.Text(f"{_LABELS[name]} {version}: ")] if name in _LABELS else []
            container += nodes.paragraph("", "", *label, *inline)
        self.state.nested_parse(self.content, self.content_offset, container)
        return [container]


class _Object(nodes.General, nodes.Element):
    """A ``.. function::``-like object: a section of its own when it is not nested."""

    def astext(self) -> str:
        return f"{self['name']}\n\n{super().astext()}"


def _role(name, rawtext, text, lineno, inliner, options=None, content=None):  # type: ignore[no-untyped-def]
    """Any role (``:func:`~shutil.copy```): its text, or its title when it has one."""
    title = re.match(r"^(.+?)\s*<[^>]*>$", text, flags=re.DOTALL)
    return [nodes.literal(rawtext, title.group(1) if title else text.lstrip("~!"))], []


def rst_sections(text: str, source: str, title: str) -> Iterator[Section]:
    """Split reST at headings and at top-level Sphinx object directives."""
    for name in set(re.findall(r"^\s*\.\.\s+([\w:.-]+)::", text, flags=re.MULTILINE)):
        if name not in en.directives or name in _OBJECTS | _DROPPED | _CODE:
            directives.register_directive(name, _SphinxDirective)
    for name in set(re.findall(r":([A-Za-z][\w.+-]*(?::[\w.+-]+)?):`", text)):
        roles.register_local_role(name, _role)
    tree = publish_doctree(text, settings_overrides=_SETTINGS)
    for node in [*tree.findall(nodes.system_message), *tree.findall(nodes.comment)]:
        node.parent.remove(node)
    parts: list[tuple[str, str, list[str]]] = [("", "", [])]
    doc_title = _walk(tree, parts, [])
    for heading, anchor, body in parts:
        yield from _section(source, doc_title[0] if doc_title else title, heading, anchor,
                            "\n\n".join(body))  # fmt: skip


def _walk(
    node: nodes.Element, parts: list[tuple[str, str, list[str]]], doc_title: list[str]
) -> list[str]:
    """Append ``(heading, anchor, texts)`` per section in document order; the first
    heading names the document (returned as a one-item list, empty when there is none)."""
    for child in node.children:
        if isinstance(child, nodes.section):
            name = child[0].astext().replace(" --- ", " — ")
            parts.append(("", "", []) if not doc_title else (name, slugify(name), []))
            doc_title = doc_title or [name]
            _walk(child, parts, doc_title)
        elif isinstance(child, _Object) and isinstance(node, (nodes.section, nodes.document)):
            name = child["name"]
            parts.append((name, name.split("(")[0].strip(), [nodes.Element.astext(child)]))
        elif not isinstance(child, _SKIPPED_NODES):
            parts[-1][2].append(child.astext())
    return doc_title


# HTML: visible text of the main content, split at h1-h3 --------------------------------

_INVISIBLE = frozenset({"script", "style", "noscript", "template", "svg"})
_CHROME = frozenset({"nav", "aside", "footer", "form", "button", "dialog", "header"})


class _HtmlText(HTMLParser):
    """Text and headings, inside ``<main>``/``<article>`` kept apart: when a page has one,
    only that is indexed, so menus, sidebars and pop-ups are never passages or titles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title, self.has_main, self.heading = "", False, None
        self.parts: list[tuple[str, str, bool, list[tuple[str, bool]]]] = [("", "", False, [])]
        self._skip = self._main = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE or tag in _CHROME and not (tag == "header" and self._main):
            self._skip += 1
        elif tag in ("main", "article") or dict(attrs).get("role") == "main":
            self._main, self.has_main = self._main + 1, True
        elif tag in ("h1", "h2", "h3") and not self._skip:
            self.heading = ["", dict(attrs).get("id") or ""]
        self._in_title |= tag == "title"
        if tag in ("p", "br", "li", "div", "tr", "pre"):
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE or tag in _CHROME and not (tag == "header" and self._main):
            self._skip = max(0, self._skip - 1)
        elif tag in ("main", "article"):
            self._main = max(0, self._main - 1)
        elif tag in ("h1", "h2", "h3") and self.heading is not None:
            name = " ".join(self.heading[0].split())
            self.parts.append((name, self.heading[1] or slugify(name), self._main > 0, []))
            self.heading = None
        self._in_title &= tag != "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self.heading is not None and not self._skip:
            self.heading[0] += data
        elif not self._skip:
            self.parts[-1][3].append((data, self._main > 0))


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
        text = re.sub(r"[ \t]+", " ", "".join(t for t, main in body if main or not page.has_main))
        yield from _section(source, doc_title or title, heading, anchor if heading else "", text)


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
