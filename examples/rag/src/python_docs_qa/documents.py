"""Stage 1, read: one corpus file in, its sections out, each titled and anchored to be cited.

Each format goes through a parser made for it: reST through docutils (as Sphinx reads it),
HTML through the standard library's ``HTMLParser``, PDF through pypdf; Markdown needs only
its ``#`` headings and its front matter, so regexes do. Which files are read at all is
``ingest.py``'s job.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles
from docutils.parsers.rst.languages import en

# The corpus contract: which files ingest reads, and how large one may be.
DOCUMENT_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".txt", ".html", ".htm", ".pdf"})
MAX_FILE_BYTES = 20 * 1024 * 1024
# What a documentation build writes beside its pages, never read as documents: Sphinx's
# second copy of every page's source (_sources/, as .txt), its highlighted code
# (_modules/) and its index pages, which list names rather than say anything; a 404 page.
BUILD_EXTRAS = frozenset({"_sources", "_modules", "genindex.html", "py-modindex.html", "404.html"})


@dataclass(frozen=True)
class Section:
    """A titled span of one document: the unit that chunking splits into passages."""

    source: str  # path relative to the corpus folder
    title: str
    anchor: str
    text: str
    url: str = ""


def read_file(path: Path, source: str) -> list[Section]:
    """The sections of one document, by its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return list(_pdf_sections(path, source))
    text = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
    title = path.stem.replace("_", " ").replace("-", " ").strip().capitalize() or path.name
    readers = {".md": _markdown_sections, ".markdown": _markdown_sections, ".rst": rst_sections,
               ".html": _html_sections, ".htm": _html_sections}  # fmt: skip
    if suffix in readers:
        return list(readers[suffix](text, source, title))
    return [Section(source, title, "", text.strip())] if text.strip() else []


def slugify(text: str) -> str:
    """An anchor like Sphinx and GitHub make from a heading."""
    return re.sub(r"[\s_]+", "-", re.sub(r"[^\w\s-]", "", text.lower()).strip())


def _section(source: str, doc_title: str, heading: str, anchor: str, text: str) -> list[Section]:
    """One section titled ``Document › Heading`` (none when it holds no text)."""
    text = re.sub(r"\n[ \t]*\n\s*", "\n\n", text).strip()
    title = f"{doc_title} › {heading}" if heading else doc_title
    return [Section(source, title, anchor, text)] if text else []


# Markdown: split at headings; the first `# heading` (else front matter) names the document
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# HTML that docs embed in Markdown (`<a id="x"></a>` anchors, `<br>`, `<details>`): the
# tag goes, its text stays. Named tags only, so `Promise<Reply>` in prose is kept.
_HTML_TAG = re.compile(
    r"</?(?:a|br|img|p|div|span|details|summary|sup|sub|kbd|b|i|em|strong|hr|center|"
    r"picture|source|table|thead|tbody|tr|td|th|ul|ol|li|h[1-6])\b[^<>]*>",
    flags=re.IGNORECASE,
)


def _markdown_text(line: str) -> str:
    """A line of prose: links as their text, embedded HTML tags as a space."""
    return _HTML_TAG.sub(" ", _MARKDOWN_LINK.sub(r"\1", line))


# Front matter (Jekyll, Hugo, Docusaurus, MkDocs): a `---` (YAML) or `+++` (TOML) block
# that opens the file. It is metadata, not text; its `title` names the document.
_FRONT_MATTER = re.compile(r"\A(---|\+\+\+)[ \t]*\n(.*?)\n\1[ \t]*(\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title\s*[:=]\s*(.+?)\s*$", re.MULTILINE)
# Underlined headings ("Title" over "=====" or "-----"): rewritten as `#` headings first.
_UNDERLINE = re.compile(r"^(=+|-+)[ \t]*$")
_NOT_A_TITLE = re.compile(r"[#>|]|[-*+] |\d+[.)] ")  # a heading, quote, table row, list item


def _underlined_as_hashes(lines: list[str]) -> list[str]:
    """A text line over a line of ``===`` (``---``) is a level-1 (level-2) heading, as
    ``#`` (``##``) writes it; after a blank line, a list item or a heading, ``---`` is a
    rule, not an underline."""
    out: list[str] = []
    fenced = False
    for line in lines:
        fenced ^= line.lstrip().startswith(("```", "~~~"))
        under = None if fenced else _UNDERLINE.match(line)
        above = out[-1].strip() if out else ""
        if under and above and not _NOT_A_TITLE.match(above):
            out[-1] = ("#" if under.group(1)[0] == "=" else "##") + " " + above
            continue
        out.append(line)
    return out


def _markdown_sections(text: str, source: str, title: str) -> Iterator[Section]:
    front = _FRONT_MATTER.match(text)
    if front:
        text = text[front.end() :]
        named = _FRONT_TITLE.search(front.group(2))
        title = named.group(1).strip("'\"") if named else title
    doc_title, heading, body, fenced = title, "", [], False
    for line in _underlined_as_hashes(text.splitlines()):
        fenced ^= line.lstrip().startswith(("```", "~~~"))
        match = None if fenced else re.match(r"^(#{1,6})\s+(.+?)\s*#*\s*$", line)
        if match is None:
            body.append(line if fenced else _markdown_text(line))  # code stays as written
            continue
        yield from _section(source, doc_title, heading, slugify(heading), "\n".join(body))
        heading, body = _markdown_text(match.group(2)).replace("`", "").strip(), []
        if len(match.group(1)) == 1 and doc_title == title:
            doc_title, heading = heading, ""
    yield from _section(source, doc_title, heading, slugify(heading), "\n".join(body))


# reST: docutils, taught just enough Sphinx (roles like ``:func:``, directives like
# ``.. function::``, registered before parsing) not to print errors into the text ----------
_OBJECTS = frozenset(  # Python objects: a section of their own, anchored at the name
    {"function", "method", "class", "exception", "attribute", "data", "decorator", "envvar",
     "classmethod", "staticmethod", "abstractmethod", "coroutinefunction", "coroutinemethod",
     "decoratormethod", "option", "cmdoption", "describe", "pdbcommand"}
)  # fmt: skip
_DROPPED = frozenset(  # no text a reader would look for
    {"index", "toctree", "contents", "sectionauthor", "moduleauthor", "module", "currentmodule",
     "highlight", "include", "literalinclude", "testsetup", "testcleanup", "raw", "image", "only",
     "figure", "audit-event", "tabularcolumns", "program", "productionlist", "sectnum",
     "availability"}
)  # fmt: skip
_CODE = frozenset({"code", "code-block", "sourcecode", "doctest", "testcode", "testoutput"})
_LABELS = {"versionadded": "New in", "versionchanged": "Changed in",
           "deprecated": "Deprecated since", "deprecated-removed": "Deprecated since"}  # fmt: skip
_NO_TEXT = (nodes.title, nodes.target, nodes.substitution_definition, nodes.docinfo)
_QUIET = {"report_level": 5, "halt_level": 5, "warning_stream": False, "doctitle_xform": False,
          "file_insertion_enabled": False, "raw_enabled": False}  # fmt: skip


class _Object(nodes.General, nodes.Element):
    """A ``.. function::``-like object; its text starts with its qualified name."""

    def astext(self) -> str:
        return f"{self['name']}\n\n{super().astext()}"


class _SphinxDirective(Directive):
    """Any directive docutils does not know: its argument and content kept as text."""

    optional_arguments, final_argument_whitespace, has_content = 1, True, True
    option_spec = defaultdict(lambda: directives.unchanged, any=directives.unchanged)  # all

    def run(self) -> list[nodes.Node]:
        name, argument = self.name, " ".join(" ".join(self.arguments).split())
        if name in ("module", "currentmodule"):
            self.state.document["module"] = argument  # qualifies the objects that follow
        if name in _DROPPED or name.startswith("c:"):
            return []
        if name in _CODE:
            return [nodes.literal_block(text="\n".join(self.content))]
        container = _Object() if name in _OBJECTS else nodes.container()
        if name in _OBJECTS:  # `copyfile(src, dst)` under `.. module:: shutil`
            module = self.state.document.get("module", "")
            qualified = not module or "." in argument.split("(")[0]
            container["name"] = argument if qualified else f"{module}.{argument}"
        elif argument:  # `.. versionadded:: 3.2 text` reads "New in version 3.2: text"
            version, _, rest = argument.partition(" ") if name in _LABELS else ("", "", argument)
            label = [nodes.Text(f"{_LABELS[name]} version {version}: ")] if name in _LABELS else []
            container += nodes.paragraph("", "", *label, *self.state.inline_text(rest, 0)[0])
        self.state.nested_parse(self.content, self.content_offset, container)
        return [container]


def _role(name, rawtext, text, lineno, inliner, options=None, content=None):  # type: ignore[no-untyped-def]
    """Any role (``:func:`~shutil.copy```): its text, or its title when it has one."""
    title = re.match(r"^(.+?)\s*<[^>]*>$", text, flags=re.DOTALL)
    return [nodes.literal(rawtext, title.group(1) if title else text.lstrip("~!"))], []


def rst_sections(text: str, source: str, title: str) -> Iterator[Section]:
    """reST sections, split at headings and at top-level Python objects, which are
    anchored at their qualified name (``shutil.copyfile``), as the Python docs do."""
    for name in set(re.findall(r"^\s*\.\.\s+([\w:.-]+)::", text, flags=re.MULTILINE)):
        if name not in en.directives or name in _OBJECTS | _DROPPED | _CODE:
            directives.register_directive(name, _SphinxDirective)
    for name in set(re.findall(r":([A-Za-z][\w.+-]*(?::[\w.+-]+)?):`", text)):
        roles.register_local_role(name, _role)
    tree = publish_doctree(text, settings_overrides=_QUIET)
    for node in [*tree.findall(nodes.system_message), *tree.findall(nodes.comment)]:
        node.parent.remove(node)
    parts: list[tuple[str, str, list[str]]] = [("", "", [])]  # heading, anchor, texts
    headings: list[str] = []  # the first names the document and opens no section of its own
    for node in tree.findall(lambda node: isinstance(node.parent, (nodes.section, nodes.document))):
        if isinstance(node, nodes.section):
            heading = node[0].astext().replace(" --- ", " — ")
            parts.append((heading, slugify(heading), []) if headings else ("", "", []))
            headings.append(heading)
        elif isinstance(node, _Object):  # at the top level: a section of its own
            parts.append((node["name"], node["name"].split("(")[0], [nodes.Element.astext(node)]))
        elif not isinstance(node, _NO_TEXT):
            parts[-1][2].append(node.astext())  # the text of everything inside it
    doc_title = headings[0] if headings else title
    for heading, anchor, body in parts:
        yield from _section(source, doc_title, heading, anchor, "\n\n".join(body))


# HTML: the visible text of the main content, split at h1-h3 and at terms with an id ---
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "nav", "aside",
                     "footer", "form", "button", "dialog"})  # fmt: skip
# Headings open sections; a <dt> only when it has an id, which is how Sphinx marks each
# documented function, class or glossary term (so each is a section, cited at its id).
_HEADINGS = ("h1", "h2", "h3", "dt")


class _Page(HTMLParser):
    """The page's headings and text in reading order, each marked as inside the main
    content or not (``<main>``, ``<article>``, or any tag with ``role="main"``, as Sphinx
    writes ``<div class="body" role="main">``); text in a hidden tag (script, menu,
    footer...) is never kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = self._text = self._id = ""
        self.items: list[tuple[str | None, str, str, bool]] = []  # heading, text, id, in main
        self._open: list[str] = []  # the hidden, main, title and heading tags now open
        self._main_tag: str | None = None  # the tag with role="main" now open (a <div>)
        self._main_depth = 0  # how many tags of its name are open inside it

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == self._main_tag:
            self._main_depth += 1
        if tag in _HIDDEN or (tag == "header" and "main" not in self._open):
            self._open.append("hidden")  # a page's header is chrome, an article's is not
        elif tag in ("main", "article") or dict(attrs).get("role") == "main":
            self._open.append("main")
            if tag not in ("main", "article"):  # closed by its own end tag, not by </main>
                self._main_tag, self._main_depth = tag, 0
        elif tag == "title" or (tag in _HEADINGS and (tag != "dt" or dict(attrs).get("id"))):
            self._open.append(tag)
            self._text, self._id = "", dict(attrs).get("id") or ""
        if tag in ("p", "br", "li", "div", "tr", "pre", "dt", "dd"):
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._main_tag:
            self._main_depth -= 1
            if self._main_depth < 0:  # the tag that opened the main content closes
                self._main_tag = None
                self._open.remove("main")
            return
        kind = "hidden" if tag in _HIDDEN or tag == "header" else {"article": "main"}.get(tag, tag)
        if kind not in self._open:
            return
        self._open.remove(kind)
        if kind == "title":
            self.title = self._text
        elif kind in _HEADINGS and "hidden" not in self._open:
            name = " ".join(self._text.replace("¶", "").split())  # Sphinx's permalink sign
            self.items.append((name, "", self._id or slugify(name), "main" in self._open))

    def handle_data(self, data: str) -> None:
        if "hidden" in self._open:
            return
        if "title" in self._open or any(h in self._open for h in _HEADINGS):
            self._text += data
        else:
            self.items.append((None, data, "", "main" in self._open))


def _html_sections(text: str, source: str, title: str) -> Iterator[Section]:
    """Sections of the page's main content, titled by the page's ``<title>`` (without a
    site name after `` | ``, `` - ``, `` – `` or `` — ``), else by its first heading."""
    page = _Page()
    page.feed(text)
    page.close()
    items = [item for item in page.items if item[3]] or page.items  # menus sit outside <main>
    headings = [heading for heading, *_ in items if heading]
    page_title = re.split(r"\s+[-|–—]\s+", " ".join(page.title.split()))[0]
    doc_title = page_title or (headings[0] if headings else "")
    parts: list[tuple[str, str, list[str]]] = [("", "", [])]  # heading, anchor, texts
    for heading, data, anchor, _ in items:
        if heading is None:
            parts[-1][2].append(data)
        else:  # the heading that titles the page opens an untitled section
            parts.append(("", "", []) if heading == doc_title else (heading, anchor, []))
    for heading, anchor, body in parts:
        text = re.sub(r"[ \t]+", " ", "".join(body))
        yield from _section(source, doc_title or title, heading, anchor, text)


def _pdf_sections(path: Path, source: str) -> Iterator[Section]:
    """One section per page, anchored ``page=N`` (what PDF viewers understand)."""
    from pypdf import PdfReader, errors  # imported here: only PDF corpora pay for it

    try:
        reader = PdfReader(path)
        meta_title = reader.metadata.title if reader.metadata else None
        title = (meta_title or path.stem.replace("_", " ").capitalize()).strip()
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except errors.PyPdfError as error:  # truncated, damaged or encrypted
        raise ValueError(f"not a readable PDF: {error}") from None
    for number, text in enumerate(pages, start=1):
        yield from _section(source, title, f"page {number}", f"page={number}", text)
