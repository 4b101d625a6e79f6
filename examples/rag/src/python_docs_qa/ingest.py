"""Stage 5, ingest (``make ingest``): corpus folder -> passages -> vectors -> index on disk.

The index is built in a temporary folder and swapped in only when complete (the old
folder renamed aside, the new one renamed into place, the old one deleted), so a
failure (a bad file, Ctrl-C) leaves the previous index untouched: nothing is ever half
ingested. A running service is not affected: it holds its index in memory and loads
the new one only when told to (SIGHUP, docs/DESIGN.md). Embeddings come from a
per-document cache (``ops/cache.py``), so re-ingesting after editing one file embeds
only that file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import documents
from .chunking import Passage, chunk_section
from .config import Settings
from .documents import CorpusError, Skipped
from .ops.cache import embed_passages, model_fingerprint
from .ops.subset import subset


@dataclass
class Corpus:
    """The passages of a corpus folder and the files that were left out."""

    passages: list[Passage]
    skipped: list[Skipped] = field(default_factory=list)
    documents: int = 0


def read_corpus(settings: Settings) -> Corpus:
    """Read and chunk every usable file below ``settings.corpus_dir``."""
    root = settings.path(settings.corpus_dir)
    corpus = Corpus(passages=[])
    for path in documents.corpus_files(root):
        source = path.relative_to(root).as_posix()
        problem = documents.check_file(path)
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
    if path.name.endswith(documents.PASSAGES_SUFFIX):
        return [Passage(**row) for row in documents.read_passage_file(path)]
    return [
        passage
        for section in documents.read_file(path, source)
        for passage in chunk_section(section, settings.chunk_words, settings.overlap_words)
    ]


def corpus_hash(passages: list[Passage]) -> str:
    """A hash of every passage id, in order: the corpus half of the index key."""
    digest = hashlib.sha256()
    for passage in passages:
        digest.update(passage.id.encode())
    return digest.hexdigest()[:16]


def ingest(settings: Settings) -> dict[str, Any]:
    """Build the index (or keep it when corpus and model are unchanged); return its manifest."""
    started = time.perf_counter()
    corpus = read_corpus(settings)
    for skipped in corpus.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    passages = subset(corpus.passages, settings)
    if not passages:
        raise CorpusError(f"include_sources {settings.include_sources} matches no passage")
    key = {"corpus": corpus_hash(passages), "model": model_fingerprint(settings)}
    version = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    index_dir = settings.path(settings.index_dir)
    current = _read_manifest(index_dir)
    if current is not None and current.get("key") == key:
        current["up_to_date"] = True
        return current
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


def _read_manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        manifest: dict[str, Any] = json.loads((index_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
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
    except (CorpusError, RuntimeError) as error:
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
