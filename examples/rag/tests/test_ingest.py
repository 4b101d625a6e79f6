"""Reading, chunking and ingesting: citations keep their place, bad files are skipped with
one line each, nothing is half ingested, and re-ingest embeds only what changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from python_docs_qa import documents, ingest
from python_docs_qa.chunking import chunk_section
from python_docs_qa.config import Settings
from python_docs_qa.documents import Section, rst_sections
from python_docs_qa.ingest import CorpusError

MakeSettings = Callable[..., Settings]


def test_markdown_sections_keep_title_and_anchor(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(
        "# Guide\n\nIntro.\n\n## Copying files\n\nUse [shutil](https://x.y).\n\n"
        "## [`decorate(name)`](#decorate)\n\nAdds a property.\n"
    )
    sections = documents.read_file(path, "notes.md")
    assert [(s.title, s.anchor) for s in sections] == [
        ("Guide", ""),
        ("Guide › Copying files", "copying-files"),
        ("Guide › decorate(name)", "decoratename"),  # a heading's link and code marks go
    ]
    assert sections[1].text == "Use shutil."


def test_rst_function_becomes_its_own_cited_section() -> None:
    text = (
        "shutil\n======\n\n.. module:: shutil\n\n.. index:: single: copy\n\n"
        ".. function:: copyfile(src, dst)\n\n   Copy *src* to :func:`~shutil.copy`.\n\n"
        "   .. versionchanged:: 3.3\n      Returns *dst*.\n"
    )
    sections = list(rst_sections(text, "library/shutil.rst", "shutil"))
    assert sections[-1].anchor == "shutil.copyfile"
    assert sections[-1].text.startswith("Copy src to shutil.copy.")
    assert "Changed in version 3.3:" in sections[-1].text
    assert "index" not in sections[-1].text


def test_rst_sphinx_markup_docutils_does_not_know_is_kept_as_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (
        "Guide\n=====\n\nRead :ref:`the tutorial <tut>` and :pep:`8`.\n\n"
        ".. seealso:: Module :mod:`os.path`\n\n"
        ".. deprecated:: 3.4\n   Use :class:`pathlib.Path`.\n\n"
        ".. code-block:: pycon\n\n   >>> 1 + 1\n\n"
        ".. toctree::\n   :maxdepth: 2\n\n   intro\n\n"
        ".. some-unknown-directive:: its argument\n   :an-option: x\n\n   Its content.\n"
    )
    (section,) = rst_sections(text, "guide.rst", "guide")
    assert section.title == "Guide"
    for kept in ("the tutorial", "Module os.path", "Deprecated since version 3.4:",
                 "pathlib.Path", ">>> 1 + 1", "its argument", "Its content."):  # fmt: skip
        assert kept in section.text
    for dropped in ("maxdepth", "intro", "an-option", "Unknown", "ERROR"):
        assert dropped not in section.text
    assert capsys.readouterr() == ("", "")  # docutils' reporter stays quiet


def test_markdown_front_matter_is_metadata_and_names_the_document(tmp_path: Path) -> None:
    path = tmp_path / "install.md"
    path.write_text(
        '---\ntitle: "Installing the CLI"\nsidebar_position: 2\n---\n\n'
        "Run the installer.\n\n## On Windows\n\nUse the MSI package.\n"
    )
    sections = documents.read_file(path, "install.md")
    assert [(s.title, s.text) for s in sections] == [
        ("Installing the CLI", "Run the installer."),
        ("Installing the CLI › On Windows", "Use the MSI package."),
    ]


def test_markdown_underlined_headings_split_like_hash_headings(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(
        "User guide\n==========\n\nStart here.\n\nInstalling\n----------\n\n"
        "Run pip.\n\n---\n\n- a list item\n---\n"
    )
    sections = documents.read_file(path, "guide.md")
    assert [(s.title, s.anchor) for s in sections] == [
        ("User guide", ""),
        ("User guide › Installing", "installing"),
    ]
    assert "- a list item" in sections[1].text  # a rule under a list item stays a rule


def test_markdown_drops_embedded_html_tags_but_not_code(tmp_path: Path) -> None:
    path = tmp_path / "server.md"
    path.write_text(
        '# Server\n\n## <a id="close"></a> Closing\n\n<a id="x"></a> `close()` returns a '
        'Promise<void>.<br>It waits for requests.\n\n```html\n<div id="app"></div>\n```\n'
    )
    (section,) = documents.read_file(path, "server.md")
    assert section.title == "Server › Closing"
    words = " ".join(section.text.split())
    assert words.startswith("`close()` returns a Promise<void>. It waits for requests.")
    assert '<div id="app"></div>' in section.text  # code is kept as written


def test_html_drops_scripts(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<h1>Title</h1><p>Visible.</p><script>alert(1)</script><h2>Next</h2><p>More</p>"
    )
    sections = documents.read_file(path, "page.html")
    assert [s.title for s in sections] == ["Title", "Title › Next"]
    assert "alert" not in " ".join(s.text for s in sections)


def test_html_keeps_the_main_content_and_its_heading_ids(tmp_path: Path) -> None:
    """Menus, sidebars and pop-ups (here mdBook's) are neither passages nor titles."""
    path = tmp_path / "ch01.html"
    path.write_text(
        "<html><head><title>Reading a File - The Book</title></head><body>"
        '<div class="popup"><h2>Keyboard shortcuts</h2><p>Press ? for help</p></div>'
        '<nav><a href="ch02.html">Next chapter</a></nav>'
        '<h1 class="menu-title">The Book</h1>'
        '<main><h2 id="reading-a-file">Reading a File</h2><p>Use fs::read_to_string.</p>'
        '<h3 id="errors">Handling errors</h3><p>It returns a Result.</p></main>'
        "<footer>Copyright</footer></body></html>"
    )
    sections = documents.read_file(path, "ch01.html")
    assert [(s.title, s.anchor) for s in sections] == [
        ("Reading a File", ""),
        ("Reading a File › Handling errors", "errors"),
    ]
    text = " ".join(s.text for s in sections)
    for chrome in ("Keyboard", "Press ?", "Next chapter", "Copyright"):
        assert chrome not in text


def test_html_main_content_ends_where_its_role_main_tag_ends(tmp_path: Path) -> None:
    """Sphinx's classic themes mark the content ``<div role="main">``, the sidebar after it."""
    path = tmp_path / "guide.html"
    path.write_text(
        '<title>Guide</title><div class="body" role="main"><h1>Guide</h1>'
        "<div><p>Retention is seven years.</p></div></div>"
        '<div class="sphinxsidebar"><h3>Navigation</h3><p>Quick search</p></div>'
    )
    sections = documents.read_file(path, "guide.html")
    assert [(s.title, s.text) for s in sections] == [("Guide", "Retention is seven years.")]


def test_html_api_entries_are_sections_linked_at_their_ids(tmp_path: Path) -> None:
    """Sphinx writes each documented function as a ``<dt id>`` (and a ¶ permalink)."""
    path = tmp_path / "api.html"
    path.write_text(
        '<title>API</title><main><h1>API<a class="headerlink" href="#api">¶</a></h1>'
        '<p>Helpers.</p><dl class="py function"><dt class="sig sig-object py" id="pkg.keep">'
        'pkg.keep(x)<a class="headerlink" href="#pkg.keep">¶</a></dt><dd><p>Keep x.</p></dd>'
        "<dt>not an entry</dt><dd>Plain term.</dd></dl></main>"
    )
    sections = documents.read_file(path, "api.html")
    assert [(s.title, s.anchor) for s in sections] == [
        ("API", ""),
        ("API › pkg.keep(x)", "pkg.keep"),
    ]
    assert sections[1].text.split("\n") == ["Keep x.", "not an entry", "Plain term."]


def test_html_without_headings_is_titled_by_its_title_tag(tmp_path: Path) -> None:
    path = tmp_path / "faq.html"
    path.write_text("<title>Billing FAQ | Acme</title><p>Invoices go out monthly.</p>")
    sections = documents.read_file(path, "faq.html")
    assert [s.title for s in sections] == ["Billing FAQ"]


def test_html_is_titled_by_its_title_tag_not_its_first_heading(tmp_path: Path) -> None:
    """A page's first heading is often a chapter number ("1. Overview"): the page's name
    is in its ``<title>``, and every passage of the page carries it."""
    path = tmp_path / "foreignkeys.html"
    path.write_text(
        "<title>SQLite Foreign Key Support</title><h1>1. Overview</h1><p>Off by default.</p>"
        "<h2>2. Enabling</h2><p>Run PRAGMA foreign_keys = ON.</p>"
    )
    sections = documents.read_file(path, "foreignkeys.html")
    assert [s.title for s in sections] == [
        "SQLite Foreign Key Support › 1. Overview",
        "SQLite Foreign Key Support › 2. Enabling",
    ]


def _pdf(pages: list[str]) -> bytes:
    """A minimal PDF with one line of Helvetica text per page (byte offsets computed)."""
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    table = "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{len(out)}"
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n{table}{trailer}\n%%EOF\n".encode()
    return out


def test_pdf_pages_become_sections_anchored_by_page(tmp_path: Path) -> None:
    path = tmp_path / "policy.pdf"
    path.write_bytes(_pdf(["Retention is seven years.", "", "Backups run nightly."]))
    sections = documents.read_file(path, "policy.pdf")
    assert [(s.title, s.anchor, s.text) for s in sections] == [
        ("Policy › page 1", "page=1", "Retention is seven years."),
        ("Policy › page 3", "page=3", "Backups run nightly."),
    ]


def test_chunks_overlap_and_stay_under_the_limit() -> None:
    words = " ".join(f"W{i}." for i in range(250))  # 250 one-word sentences
    passages = chunk_section(Section("a.md", "A", "a", words), chunk_words=100, overlap_words=20)
    assert all(len(p.text.split()) <= 100 for p in passages)
    assert passages[1].text.split()[:20] == passages[0].text.split()[-20:]
    assert len({p.id for p in passages}) == len(passages)


def test_citations_link_to_where_the_corpus_is_published() -> None:
    site = "https://example.org/docs/"
    assert ingest.citation_url(site, "guide/install.md", "proxy") == (
        "https://example.org/docs/guide/install.html#proxy"
    )
    assert ingest.citation_url(site, "faq.rst", "") == "https://example.org/docs/faq.html"
    assert ingest.citation_url("", "guide/install.md", "proxy") == ""  # unset: no link


def test_the_overlap_is_whole_sentences_never_half_of_one() -> None:
    text = " ".join(f"Sentence {i} has exactly seven words here." for i in range(40))
    passages = chunk_section(Section("a.md", "A", "a", text), chunk_words=100, overlap_words=20)
    assert len(passages) > 2
    for before, after in zip(passages, passages[1:], strict=False):
        assert after.text.startswith("Sentence ")  # a sentence's start, not its middle
        overlap = after.text.split()[:14]  # two whole 7-word sentences fit in 20 words
        assert before.text.split()[-14:] == overlap


def test_source_counts_say_what_each_source_was_read_as() -> None:
    sections = [Section(s, "T", "a", "Text.") for s in ("a.md", "b.MD", "c.rst", "d.htm", "e")]
    passages = [p for section in sections for p in chunk_section(section, 100, 20)]
    assert ingest.source_counts(passages + passages[:1]) == {
        "n_sources": 5, "n_sources_Markdown": 2, "n_sources_reST": 1, "n_sources_HTML": 1,
        "n_sources_other": 1,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("blob.txt", b"\x00\x01\x02binary", "binary"),
        ("fake.pdf", b"not a pdf", "not a valid PDF"),
        ("cut.pdf", _pdf(["Retention is seven years."])[:60], "not a readable PDF"),
    ],
)
def test_bad_file_is_skipped_with_one_line(
    fresh_root: Path, make_settings: MakeSettings, name: str, content: bytes, reason: str
) -> None:
    (fresh_root / "corpus" / name).write_bytes(content)
    corpus = ingest.read_corpus(make_settings(fresh_root))
    assert [(s.path, reason in s.reason) for s in corpus.skipped] == [(name, True)]
    assert all(p.source != name for p in corpus.passages)


def test_a_docs_build_folder_is_read_for_its_pages_only(
    fresh_root: Path, make_settings: MakeSettings
) -> None:
    site = fresh_root / "corpus" / "site"
    pages = {"guide.html": "<h1>Guide</h1><p>Retention is seven years.</p>",
             "_sources/guide.rst.txt": "Guide\n=====\n\nRetention is seven years.\n",
             "_modules/pkg/core.html": "<h1>Source code</h1><p>def keep(): ...</p>",
             "genindex.html": "<h1>Index</h1><p>keep() (in module pkg)</p>",
             "404.html": "<h1>Page not found</h1>"}  # fmt: skip
    for name, text in pages.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text, encoding="utf-8")
    corpus = ingest.read_corpus(make_settings(fresh_root))
    built = {p.source for p in corpus.passages if p.source.startswith("site/")}
    assert built == {"site/guide.html"}
    assert not corpus.skipped  # left out as not documents, not skipped as broken


def test_huge_file_is_skipped(
    fresh_root: Path, make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fresh_root / "corpus" / "huge.txt").write_text("word " * 1000)
    monkeypatch.setattr(documents, "MAX_FILE_BYTES", 1000)  # read at each check
    corpus = ingest.read_corpus(make_settings(fresh_root))
    assert [s.path for s in corpus.skipped] == ["huge.txt"]
    assert "limit" in corpus.skipped[0].reason


def test_empty_folder_or_only_bad_files_is_one_clear_error(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    (tmp_path / "corpus").mkdir()
    with pytest.raises(CorpusError, match="has no .md"):
        ingest.ingest(make_settings(tmp_path))
    (tmp_path / "corpus" / "blob.md").write_bytes(b"\x00\x00")
    with pytest.raises(CorpusError, match="no usable text"):
        ingest.ingest(make_settings(tmp_path))
    assert not (tmp_path / "index").exists()  # nothing half ingested


def test_failed_ingest_keeps_the_previous_index(
    fresh_root: Path, make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path, settings = fresh_root, make_settings(fresh_root)
    ingest.ingest(settings)
    before = (tmp_path / "index" / "manifest.json").read_bytes()
    (tmp_path / "corpus" / "new.md").write_text("# New\n\nA new page about kites.\n")

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest.np, "save", broken)
    with pytest.raises(KeyboardInterrupt):
        ingest.ingest(settings)
    assert (tmp_path / "index" / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".index")) == []


def test_reingest_embeds_only_changed_files(fresh_root: Path, make_settings: MakeSettings) -> None:
    tmp_path, settings = fresh_root, make_settings(fresh_root)
    first = ingest.ingest(settings)
    assert first["embedded_now"] == first["passages"]
    assert ingest.ingest(settings)["up_to_date"] is True
    network = tmp_path / "corpus" / "guide" / "network.md"
    network.write_text(network.read_text() + "\nUDP sockets need no connection.\n")
    again = ingest.ingest(settings)
    changed = [p for p in _passages(tmp_path) if p["source"] == "guide/network.md"]
    assert again["embedded_now"] == len(changed)
    assert again["embedded_now"] < again["passages"]


def test_a_new_title_or_link_rebuilds_the_index_without_re_embedding(
    fresh_root: Path, make_settings: MakeSettings
) -> None:
    ingest.ingest(make_settings(fresh_root, docs_url=""))
    relinked = ingest.ingest(make_settings(fresh_root, docs_url="https://example.org/docs/"))
    assert "up_to_date" not in relinked  # the citations' links changed: a new index
    assert relinked["embedded_now"] == 0  # the indexed text did not: no vector recomputed
    urls = {p["url"] for p in _passages(fresh_root)}
    assert all(url.startswith("https://example.org/docs/") for url in urls)


def test_subset_keeps_the_gold_passages(fresh_root: Path, make_settings: MakeSettings) -> None:
    tmp_path = fresh_root
    manifest = ingest.ingest(make_settings(tmp_path, max_passages=3))
    assert manifest["passages"] == 3 < manifest["passages_in_corpus"]
    anchors = {(p["source"], p["anchor"]) for p in _passages(tmp_path)}
    assert {("guide/files.md", "copying-files"), ("guide/network.md", "timeouts")} <= anchors


def _passages(root: Path) -> list[dict[str, str]]:
    lines = (root / "index" / "passages.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]
