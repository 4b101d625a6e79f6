"""Stage 1, parse reStructuredText: docutils, taught just enough Sphinx to keep its text.

docutils is the reference reST parser; Sphinx adds roles (``:func:``) and directives
(``.. function::``, ``.. versionadded::``) it does not know, which would otherwise come
out as error messages in the text. Each one found in a document is registered as a
generic role (its text, or the title of ``Title <target>``) or directive (its argument
and content; nothing for index-only ones such as ``toctree``), docutils' reporter is
silenced, and a top-level ``.. function::`` becomes a section of its own named by the
qualified name (``shutil.copyfile``), as the Python docs anchor it. ``documents.py``
turns what ``parse`` returns into cited sections.
"""

from __future__ import annotations

import re

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles
from docutils.parsers.rst.languages import en

_OBJECTS = frozenset(  # Python objects: a section of their own, anchored at the name
    {"function", "method", "class", "exception", "attribute", "data", "decorator", "envvar",
     "classmethod", "staticmethod", "abstractmethod", "coroutinefunction", "coroutinemethod",
     "decoratormethod", "option", "cmdoption", "describe", "pdbcommand"}
)  # fmt: skip
_DROPPED = frozenset(  # no text a reader would look for
    {"index", "toctree", "contents", "sectionauthor", "moduleauthor", "highlight", "include",
     "literalinclude", "testsetup", "testcleanup", "raw", "image", "figure", "audit-event",
     "tabularcolumns", "only", "program", "productionlist", "sectnum", "availability"}
)  # fmt: skip
_CODE = frozenset({"code", "code-block", "sourcecode", "doctest", "testcode", "testoutput"})
_LABELS = {"versionadded": "New in version", "versionchanged": "Changed in version",
           "deprecated": "Deprecated since version",
           "deprecated-removed": "Deprecated since version"}  # fmt: skip
_QUIET = {"report_level": 5, "halt_level": 5, "warning_stream": False, "doctitle_xform": False,
          "file_insertion_enabled": False, "raw_enabled": False}  # fmt: skip


class _AnyOption(dict[str, object]):
    """An option spec that accepts every option (``:synopsis:``, ``:noindex:``...)."""

    def __getitem__(self, key: str) -> object:
        return directives.unchanged


class _Object(nodes.General, nodes.Element):
    """A ``.. function::``-like object; its text starts with its qualified name."""

    def astext(self) -> str:
        return f"{self['name']}\n\n{super().astext()}"


class _SphinxDirective(Directive):
    """Any directive docutils does not know: its argument and content kept as text."""

    optional_arguments, final_argument_whitespace, has_content = 1, True, True
    option_spec = _AnyOption(any=directives.unchanged)

    def run(self) -> list[nodes.Node]:
        name, argument = self.name, " ".join(" ".join(self.arguments).split())
        if name in ("module", "currentmodule"):
            self.state.document["module"] = argument
        if name in _DROPPED or name.startswith("c:") or name in ("module", "currentmodule"):
            return []
        if name in _CODE:
            return [nodes.literal_block(text="\n".join(self.content))]
        container = _Object() if name in _OBJECTS else nodes.container()
        if name in _OBJECTS:
            module, bare = self.state.document.get("module", ""), argument.split("(")[0]
            container["name"] = f"{module}.{argument}" if module and "." not in bare else argument
        elif argument:  # `.. versionadded:: 3.2 text`: the version, then the text
            version, _, rest = argument.partition(" ") if name in _LABELS else ("", "", argument)
            label = [nodes.Text(f"{_LABELS[name]} {version}: ")] if name in _LABELS else []
            container += nodes.paragraph("", "", *label, *self.state.inline_text(rest, 0)[0])
        self.state.nested_parse(self.content, self.content_offset, container)
        return [container]


def _role(name, rawtext, text, lineno, inliner, options=None, content=None):  # type: ignore[no-untyped-def]
    """Any role (``:func:`~shutil.copy```): its text, or its title when it has one."""
    title = re.match(r"^(.+?)\s*<[^>]*>$", text, flags=re.DOTALL)
    return [nodes.literal(rawtext, title.group(1) if title else text.lstrip("~!"))], []


def parse(text: str) -> tuple[str | None, list[tuple[str, str | None, str]]]:
    """The document's title (its first heading) and ``(heading, anchor, text)`` per
    section in reading order; ``anchor`` is None where the heading's slug should be."""
    for name in set(re.findall(r"^\s*\.\.\s+([\w:.-]+)::", text, flags=re.MULTILINE)):
        if name not in en.directives or name in _OBJECTS | _DROPPED | _CODE:
            directives.register_directive(name, _SphinxDirective)
    for name in set(re.findall(r":([A-Za-z][\w.+-]*(?::[\w.+-]+)?):`", text)):
        roles.register_local_role(name, _role)
    tree = publish_doctree(text, settings_overrides=_QUIET)
    for node in [*tree.findall(nodes.system_message), *tree.findall(nodes.comment)]:
        node.parent.remove(node)
    parts: list[tuple[str, str | None, list[str]]] = [("", "", [])]
    names = _walk(tree, parts, [])
    return (names[0] if names else None), [(h, a, "\n\n".join(b)) for h, a, b in parts]


def _walk(
    node: nodes.Element, parts: list[tuple[str, str | None, list[str]]], names: list[str]
) -> list[str]:
    """Append ``(heading, anchor, texts)`` per section in document order; the first
    heading names the document (``names``: the headings seen so far)."""
    for child in node.children:
        if isinstance(child, nodes.section):
            heading = child[0].astext().replace(" --- ", " — ")
            parts.append((heading, None, []) if names else ("", "", []))
            names.append(heading)
            _walk(child, parts, names)
        elif isinstance(child, _Object) and isinstance(node, (nodes.section, nodes.document)):
            parts.append(
                (child["name"], child["name"].split("(")[0], [nodes.Element.astext(child)])
            )
        elif not isinstance(
            child, (nodes.title, nodes.target, nodes.substitution_definition, nodes.docinfo)
        ):
            parts[-1][2].append(child.astext())
    return names
