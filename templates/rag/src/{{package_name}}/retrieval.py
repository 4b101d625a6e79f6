"""Stage 4, retrieve: what an index is, how text becomes vectors, and how it is searched.

An index is the three ``INDEX_FILES`` that ``ingest.py`` writes and ``Index.load`` reads.
Dense search compares vectors made by ``encode``, the one function that embeds both the
passages (at ingest) and the questions, so both land in one vector space. BM25 finds
passages that share the question's words; the dense model finds passages that mean the
same in other words (FAQ answers rarely repeat their question). Hybrid adds the two
scores, ``(1 - w) * bm25 / best_bm25 + w * cosine``: BM25 divided by the question's
best BM25 score runs from 0 to 1, so it has a top like the cosine's and one weight
mixes them (why w sits above 0.5: ``ops/fusion.py``). ``w`` is chosen on the dev
questions by ``make train`` and read from beside the index; 0 ranks as BM25 alone, 1 as
dense alone.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import bm25s
import numpy as np
import torch

from .chunking import Passage
from .config import Mode, Settings
from .ops.fusion import UNFITTED

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

T = TypeVar("T")
INDEX_FILES = ("passages.jsonl", "embeddings.npy", "manifest.json")
EVALUATION_FILE = "evaluation.json"  # written by `make train` beside the index it scored
_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    {"a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does",
     "for", "from", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on",
     "or", "so", "than", "that", "the", "their", "then", "there", "these", "this", "to",
     "was", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you",
     "your"}
)  # fmt: skip


class IndexMissingError(RuntimeError):
    """No usable index on disk (the message says to run `make train`)."""


def tokenize(text: str) -> list[str]:
    """Lower-case word pieces (``shutil.copyfile`` gives ``shutil``, ``copyfile``),
    stopwords dropped, plural and ``-ing`` endings folded (a tiny stemmer). Both live in
    this file because NLTK's stopword list is a separate download, and ingest runs offline."""
    return [_stem(token) for token in _TOKEN.findall(text.lower()) if token not in STOPWORDS]


def _stem(token: str) -> str:
    if len(token) > 5 and token.endswith("ing"):
        return token[:-3]
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def encode(model: SentenceTransformer, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length float32 vectors, so a dot product is the cosine similarity: passages
    at ingest and questions at search time both go through here, on the model threads."""
    vectors = on_model_threads(
        model.encode,
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


def on_model_threads(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` run on the process's model threads, where every torch
    call of this project runs. Torch gives each thread that calls it a team of OpenMP
    threads, and once two threads of a process had called it, every call on a 2-core
    machine took twice as long (docs/DESIGN.md, "How fast is an answer"); each thread
    that has run the model also keeps megabytes of freed buffers. Never call it from a
    function it runs: with one model thread, that call would wait on itself forever."""
    return _model_threads().submit(function, *args, **kwargs).result()


@cache
def _model_threads() -> ThreadPoolExecutor:
    """As many threads as the cores hold calls (made at first use, after the server has
    set torch's thread count): more calls at once would only contend."""
    calls = max(1, (os.cpu_count() or 1) // torch.get_num_threads())
    return ThreadPoolExecutor(max_workers=calls, thread_name_prefix="model")


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with its score under the retriever that found it."""

    passage: Passage
    score: float
    index: int


@dataclass
class Index:
    """Passages, their unit-length embeddings and a BM25 index over the same passages."""

    passages: list[Passage]
    embeddings: np.ndarray
    manifest: dict[str, Any]
    bm25: bm25s.BM25
    evaluation: dict[str, Any] = field(default_factory=dict)  # run id, metrics, fusion weight

    @property
    def version(self) -> str:
        """The index's id: a hash of its corpus and embedding-model keys."""
        return str(self.manifest.get("version", ""))

    @classmethod
    def load(cls, folder: Path) -> Index:
        """Read what ingest wrote and ``make train``'s record; BM25 is rebuilt in memory."""
        missing = [name for name in INDEX_FILES if not (folder / name).is_file()]
        if missing:
            raise IndexMissingError(
                f"no index in {folder} ({missing[0]} missing): run `make train`"
            )
        # The manifest is read first and last: if ingest swapped a new index in meanwhile,
        # the passages and the vectors may come from two different indexes.
        manifest_file = folder / "manifest.json"
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        with (folder / "passages.jsonl").open(encoding="utf-8") as handle:
            passages = [Passage(**json.loads(line)) for line in handle if line.strip()]
        embeddings = np.load(folder / "embeddings.npy", allow_pickle=False)
        if json.loads(manifest_file.read_text(encoding="utf-8")) != manifest:
            raise IndexMissingError(f"index in {folder} changed while loading: load it again")
        if len(passages) != len(embeddings):
            raise IndexMissingError(f"index in {folder} is inconsistent: run `make train` again")
        try:
            evaluation = json.loads((folder / EVALUATION_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            evaluation = {}  # not evaluated yet
        if evaluation.get("model_version") != manifest.get("version"):
            evaluation = {}  # the record of another index
        return cls(passages, embeddings, manifest, build_bm25(passages), evaluation)


def build_bm25(passages: list[Passage]) -> bm25s.BM25:
    """A BM25 index over title + text: Lucene's variant with the usual k1 and b, untuned."""
    bm25 = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    bm25.index([tokenize(p.indexed_text()) or [""] for p in passages], show_progress=False)
    return bm25


class Retriever:
    """Search one index with BM25, dense or hybrid ranking."""

    def __init__(
        self,
        index: Index,
        settings: Settings,
        encode: Callable[..., np.ndarray],
        dense_weight: float | None = None,
    ) -> None:
        self.index = index
        self.settings = settings
        self.encode = encode  # texts -> unit vectors (the model the index was built with)
        if dense_weight is None:  # the setting, else the weight `make train` chose
            dense_weight = settings.dense_weight
        if dense_weight is None:
            fusion = index.evaluation.get("fusion", {})
            dense_weight = float(fusion.get("dense_weight", UNFITTED))
        self.dense_weight = dense_weight
        # Scored with torch, not numpy: numpy's BLAS threads and torch's OpenMP threads spin
        # against each other on a small CPU (numbers: docs/DESIGN.md, "How fast is an answer").
        self._matrix = torch.from_numpy(index.embeddings)

    def embed(self, question: str) -> np.ndarray:
        """The question's unit vector."""
        return self.encode([question])[0]

    def with_dense_weight(self, dense_weight: float) -> Retriever:
        """The same index and model, fused with another weight (evaluation tries several)."""
        return Retriever(self.index, self.settings, self.encode, dense_weight)

    def search(
        self, question: str, k: int, mode: Mode | None = None, vector: np.ndarray | None = None
    ) -> list[Hit]:
        """The top ``k`` passages for ``question`` (``vector``: its embedding, if known)."""
        mode = mode or self.settings.retriever
        if mode == "bm25":
            return self._top(self.bm25_scores(question), k, positive_only=True)
        if vector is None:
            vector = self.embed(question)
        if mode == "dense":
            return self._top(self.dense_scores(vector), k)
        return self.hybrid(question, k, vector)

    def dense_scores(self, vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every passage to the question (vectors are unit length)."""
        return on_model_threads(self._cosines, torch.from_numpy(vector))

    def _cosines(self, vector: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return (self._matrix @ vector).numpy()

    def bm25_scores(self, question: str) -> np.ndarray:
        """BM25 score of every passage (zeros when no word of the question is indexed)."""
        tokens = tokenize(question)
        if not tokens:
            return np.zeros(len(self.index.passages), dtype=np.float32)
        return np.asarray(self.index.bm25.get_scores(tokens), dtype=np.float32)

    def hybrid(self, question: str, k: int, vector: np.ndarray) -> list[Hit]:
        """The convex combination of both scores (Bruch et al., "An Analysis of Fusion
        Functions for Hybrid Retrieval", 2023): ``w = 0`` ranks exactly as BM25 and
        ``w = 1`` exactly as dense."""
        bm25, w = self.bm25_scores(question), self.dense_weight
        best = bm25.max(initial=0.0)
        scaled = bm25 / best if best > 0 else bm25
        scores = (1 - w) * scaled + w * self.dense_scores(vector)
        return self._top(scores, k, positive_only=w == 0)  # w = 0: BM25's own cut

    def confidence(self, question_vector: np.ndarray, hits: list[Hit]) -> float:
        """Cosine similarity of the question to the best retrieved passage."""
        if not hits:
            return -1.0
        # numpy is fine here: k rows times one vector is element-wise, with no BLAS threads.
        rows = self.index.embeddings[np.array([hit.index for hit in hits])]
        return float((rows * question_vector).sum(axis=1).max())

    def _top(self, scores: np.ndarray, k: int, positive_only: bool = False) -> list[Hit]:
        """The ``k`` best-scoring passages, ties broken by position (deterministic), with
        at most ``passages_per_source`` of one document ahead of the rest: a document's
        further passages move below every other document's, so with the cap at 2, five
        results span three documents whenever the best ``20 * k`` (the ones ordered) hold
        three, not five neighbouring passages of one wrong page. Scores are then no longer
        in descending order. A corpus of one document still returns ``k``."""
        pool = min(20 * k, len(scores))
        if pool == 0:
            return []
        top = np.argpartition(-scores, pool - 1)[:pool]
        top = top[np.lexsort((top, -scores[top]))]
        if positive_only:  # a BM25 score of 0 means no shared word: not a match
            top = top[scores[top] > 0]
        cap, listed = self.settings.passages_per_source, Counter[str]()
        ahead: list[int] = []
        behind: list[int] = []
        for i in top.tolist():
            source = self.index.passages[i].source
            listed[source] += 1
            (ahead if listed[source] <= cap else behind).append(i)
        return [Hit(self.index.passages[i], float(scores[i]), i) for i in (ahead + behind)[:k]]
