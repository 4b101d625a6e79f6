"""Why re-ingesting does not re-embed everything: a cache of vectors per document.

Embedding is the slow part of ingest (tens of passages per second on a laptop CPU), so
every document's vectors are stored under a key made of the model's fingerprint and the
document's passages: re-ingesting after editing one file embeds only that file, putting
a document back to an earlier version finds its old vectors, and changing the model or
the chunking invalidates exactly what it must. A damaged cache file counts as missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..chunking import Passage
from ..config import Settings
from ..embeddings import load_model, model_location
from ..retrieval import encode


def model_fingerprint(settings: Settings) -> str:
    """A hash of the model's files and of how it is used: the cache key's model half."""
    digest = hashlib.sha256()
    digest.update(json.dumps([settings.embedding_model, settings.max_seq_length]).encode())
    folder = Path(model_location(settings.embedding_model))
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(folder).as_posix().encode())
                digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]


def embed_passages(passages: list[Passage], settings: Settings) -> tuple[np.ndarray, int]:
    """Vectors for ``passages`` in order, from the cache where possible; also the number
    of passages that had to be embedded now."""
    from tqdm import tqdm

    model_key = model_fingerprint(settings)
    cache = EmbeddingCache(settings.path(settings.cache_dir), model_key)
    by_source: dict[str, list[int]] = defaultdict(list)
    for position, passage in enumerate(passages):
        by_source[passage.source].append(position)
    vectors: dict[int, np.ndarray] = {}
    todo: list[tuple[str, list[int]]] = []
    for positions in by_source.values():
        key = cache.key([passages[i].indexed_text() for i in positions])
        cached = cache.get(key)
        if cached is not None and len(cached) == len(positions):
            vectors.update(zip(positions, cached, strict=True))
        else:
            todo.append((key, positions))
    to_embed = sum(len(positions) for _, positions in todo)
    if to_embed:
        model = load_model(settings)
        with tqdm(total=to_embed, unit="passage", desc="embedding", file=sys.stderr) as bar:
            for key, positions in todo:
                texts = [passages[i].indexed_text() for i in positions]
                batch = encode(model, texts, settings.embed_batch_size)
                cache.put(key, batch)
                vectors.update(zip(positions, batch, strict=True))
                bar.update(len(positions))
    matrix = np.stack([vectors[i] for i in range(len(passages))]).astype(np.float32)
    return matrix, to_embed


class EmbeddingCache:
    """One ``.npy`` file per (model, document content) key under ``folder``."""

    def __init__(self, folder: Path, model_key: str) -> None:
        self.folder = folder / model_key
        self.model_key = model_key

    def key(self, texts: Sequence[str]) -> str:
        """The cache key of one document's passages."""
        digest = hashlib.sha256()
        for text in texts:
            digest.update(text.encode())
            digest.update(b"\x00")
        return digest.hexdigest()[:24]

    def get(self, key: str) -> np.ndarray | None:
        """Cached vectors, or ``None`` (a damaged file counts as missing)."""
        path = self.folder / f"{key}.npy"
        try:
            return np.load(path, allow_pickle=False) if path.is_file() else None
        except (OSError, ValueError):
            return None

    def put(self, key: str, vectors: np.ndarray) -> None:
        """Store vectors atomically (write a temp file, then rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{key}.{os.getpid()}.npy"
        np.save(temporary, vectors, allow_pickle=False)
        temporary.replace(self.folder / f"{key}.npy")
