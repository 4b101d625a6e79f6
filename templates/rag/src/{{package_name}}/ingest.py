"""Stage 5, ingest (``make ingest``): corpus folder -> passages -> vectors -> index on disk.

A file that cannot be used is skipped with one line saying why; a folder with nothing
usable is an error. The index is written to a temporary folder and renamed into place
only when complete, so a failure (a bad file, Ctrl-C) leaves the previous index as it
was. Vectors come from a per-document cache (``ops/cache.py``): editing one file
re-embeds only that file. A running service keeps its index until told to reload.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from . import documents
from .chunking import Passage, chunk_section
from .config import Settings
from .documents import BUILD_EXTRAS, DOCUMENT_SUFFIXES
from .ops.cache import embed_passages, model_fingerprint
from .ops.subset import subset

_FORMATS = {".md": "Markdown", ".markdown": "Markdown", ".rst": "reST", ".txt": "text",
            ".html": "HTML", ".htm": "HTML", ".pdf": "PDF"}  # fmt: skip


class CorpusError(RuntimeError):
    """The corpus folder has no usable document (the message says what to do)."""


@dataclass(frozen=True)
class Skipped:
    """A file left out of the corpus, and why (shown as one line)."""

    path: str
    reason: str


@dataclass
class Corpus:
    """The passages of a corpus folder and the files that were left out."""

    passages: list[Passage]
    skipped: list[Skipped] = field(default_factory=list)
    documents: int = 0


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every candidate file below ``corpus_dir``: hidden files and folders, and what a docs
    build writes beside its pages (``BUILD_EXTRAS``), left out."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist: put documents there")
    files = sorted(
        path
        for path in corpus_dir.rglob("*")
        if path.is_file()
        and path.suffix.lower() in DOCUMENT_SUFFIXES
        and not any(
            part.startswith(".") or part in BUILD_EXTRAS
            for part in path.relative_to(corpus_dir).parts
        )
    )
    if not files:
        raise CorpusError(
            f"corpus folder {corpus_dir} has no .md, .rst, .txt, .html or .pdf files outside "
            "hidden folders and docs-build extras (_sources/, genindex.html): add some"
        )
    return files


def check_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a document, or ``None`` when it can."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(8192)  # the first bytes only: enough to tell the format
    except OSError as error:
        return f"unreadable ({error.strerror}): fix its permissions or remove it"
    if size == 0:
        return "empty: add text or remove it"
    if size > documents.MAX_FILE_BYTES:
        limit = documents.MAX_FILE_BYTES // 2**20
        return f"{size // 2**20} MiB, over the {limit} MiB limit: split it"
    if path.suffix.lower() == ".pdf":
        return None if head.startswith(b"%PDF") else "not a valid PDF: re-export it"
    return "binary, not text: convert it to .md or .txt" if b"\x00" in head else None


def read_corpus(settings: Settings) -> Corpus:
    """Read and chunk every usable file below ``settings.corpus_dir``."""
    root = settings.path(settings.corpus_dir)
    corpus = Corpus(passages=[])
    for path in corpus_files(root):
        source = path.relative_to(root).as_posix()
        problem = check_file(path)
        if problem is None:
            try:
                passages = _file_passages(path, source, settings)
            except (OSError, ValueError) as error:  # documents raise ValueError for bad files
                problem = f"cannot be parsed ({type(error).__name__}: {error}): fix or remove it"
        if problem is not None:
            corpus.skipped.append(Skipped(source, problem))
            continue
        if not passages:
            corpus.skipped.append(Skipped(source, "no text found: add text or remove it"))
            continue
        corpus.passages += passages
        corpus.documents += 1
    if not corpus.passages:
        raise CorpusError(f"no usable text in {root}: every file was skipped (see above)")
    return corpus


def _file_passages(path: Path, source: str, settings: Settings) -> list[Passage]:
    return [
        passage
        for section in documents.read_file(path, source)
        for passage in chunk_section(
            replace(section, url=citation_url(settings.docs_url, source, section.anchor)),
            settings.chunk_words,
            settings.overlap_words,
        )
    ]


def citation_url(docs_url: str, source: str, anchor: str) -> str:
    """Where a passage is published: ``docs_url`` + its path as .html + ``#anchor``
    (``faq/design.rst`` -> ``https://docs.python.org/3.11/faq/design.html#...``); none
    when ``docs_url`` is unset."""
    if not docs_url:
        return ""
    page = PurePosixPath(source).with_suffix(".html").as_posix()
    return f"{docs_url.rstrip('/')}/{page}" + (f"#{anchor}" if anchor else "")


def source_counts(passages: list[Passage]) -> dict[str, float]:
    """``n_sources`` and one ``n_sources_<format>`` per format read (``n_sources_reST``),
    counted from the passages' own source paths: what README's docutils row reports."""
    sources = {p.source for p in passages}
    formats = Counter(_FORMATS.get(PurePosixPath(s).suffix.lower(), "other") for s in sources)
    return {"n_sources": len(sources)} | {f"n_sources_{name}": n for name, n in formats.items()}


def ingest(settings: Settings) -> dict[str, Any]:
    """Build the index (or keep it when corpus and model are unchanged); return its manifest."""
    started = time.perf_counter()
    corpus = read_corpus(settings)
    for skipped in corpus.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    passages = subset(corpus.passages, settings)
    if not passages:
        raise CorpusError(f"include_sources {settings.include_sources} matches no passage")
    # every field of every passage: a new title or link is a new index, not "up to date"
    rows = json.dumps([p.to_dict() for p in passages], ensure_ascii=False).encode()
    corpus_key = hashlib.sha256(rows).hexdigest()[:16]
    key = {"corpus": corpus_key, "model": model_fingerprint(settings)}  # the index's identity
    version = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    index_dir = settings.path(settings.index_dir)
    try:
        current: dict[str, Any] = json.loads((index_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        current = {}
    if current.get("key") == key:
        return {**current, "up_to_date": True}
    embeddings, embedded = embed_passages(passages, settings)
    manifest: dict[str, Any] = {
        "version": version,  # the index's id: /ready, /metadata and the MLflow run name it
        "key": key,
        "documents": corpus.documents,
        "sources": len({p.source for p in passages}),
        "passages": len(passages),
        "passages_in_corpus": len(corpus.passages),
        "embedded_now": embedded,
        "skipped": [f"{s.path}: {s.reason}" for s in corpus.skipped],
        "embedding_model": settings.embedding_model,
        "max_seq_length": settings.max_seq_length,
        "chunk_words": settings.chunk_words,
        "overlap_words": settings.overlap_words,
        "ingest_seconds": round(time.perf_counter() - started, 1),
    }
    _write_index(index_dir, passages, embeddings, manifest)
    return manifest


def _write_index(
    index_dir: Path, passages: list[Passage], embeddings: np.ndarray, manifest: dict[str, Any]
) -> None:
    """Write into a temporary folder beside the index, then swap it in with renames."""
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".index-", dir=index_dir.parent))
    try:
        with (staging / "passages.jsonl").open("w", encoding="utf-8") as handle:
            for passage in passages:
                handle.write(json.dumps(passage.to_dict(), ensure_ascii=False) + "\n")
        np.save(staging / "embeddings.npy", embeddings, allow_pickle=False)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        old = index_dir.with_name(f".{index_dir.name}-old")
        if old.exists():
            shutil.rmtree(old)
        if index_dir.exists():
            index_dir.rename(old)
        staging.rename(index_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def main() -> None:
    """``make ingest``: one line of result, or one line of error."""
    try:
        manifest = ingest(Settings())
    except RuntimeError as error:  # CorpusError, ModelError: the message says what to do
        sys.exit(f"error: {error}")
    if manifest.get("up_to_date"):
        print(f"index up to date: {manifest['passages']:,} passages (nothing to embed)")
        return
    print(
        f"indexed {manifest['passages']:,} passages from {manifest['sources']:,} sources "
        f"in {manifest['ingest_seconds']} s ({manifest['embedded_now']:,} embedded now, "
        f"the rest from the cache)"
    )


if __name__ == "__main__":
    main()
