"""How much should hybrid trust the dense score? One weight, chosen on dev questions.

Hybrid (``retrieval.py``) scores ``(1 - w) * bm25 / best_bm25 + w * cosine``.
``choose_weight`` gets, for each weight tried, every dev question's reciprocal rank
(1/rank of its first gold passage, 0 past rank 10) and keeps the fused weight (0.6, 0.7,
0.8 or 0.9) with the best mean, MRR@10. Ties go to the one nearer 0.8, the weight served
before any fit, then to the larger. Then one guard: if the better single retriever
(w = 0 is BM25 alone, w = 1 dense alone) beats that weight by more than noise, hybrid
serves that retriever's ranking and the reason says so. Noise is ``NOISE_SE`` standard
errors of the per-question difference, a paired measure: both rankings answer the same
questions.

Why these weights: between a question's first and tenth passage, BM25 divided by its
best score falls by a median 0.34 to 0.44, the cosine by 0.12 to 0.20 (three corpora,
docs/DESIGN.md, "Hybrid retrieval"), so at w = 0.5 BM25's spread would outweigh the
cosine's by about 2.5 to 1. The weights chosen there were 0.6 to 0.9.
MRR@10 rather than recall@5 because it uses every rank of the top 10, so on a few dozen
dev questions it moves less by chance, and the answer is built from the top passages.
Six weights, not a search: a coarse grid chosen on few questions overfits less.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

FUSED_WEIGHTS = (0.6, 0.7, 0.8, 0.9)
UNFITTED = 0.8  # the weight served before `make train` fits one (retrieval.py)
SINGLE = {0.0: "BM25", 1.0: "dense"}  # the two ends: one retriever's ranking alone
NOISE_SE = 2.0  # about a 95% band: a smaller gap could be chance


@dataclass(frozen=True)
class Fusion:
    """The dense weight hybrid fusion serves, the dev MRR@10 of each weight, and why."""

    dense_weight: float
    dev_mrr: dict[float, float]
    reason: str


def choose_weight(reciprocal: dict[float, list[float]], fixed: float | None = None) -> Fusion:
    """The weight to serve, from each weight's per-question reciprocal ranks on dev
    (keys: 0, the fused weights, 1). ``fixed`` (the ``dense_weight`` setting) wins."""
    n = len(reciprocal[0.0])
    if n == 0:
        weight = UNFITTED if fixed is None else fixed
        return Fusion(weight, {}, f"w={weight:g}, not fitted: no dev questions")
    mrr = {weight: statistics.fmean(values) for weight, values in reciprocal.items()}
    scores = ", ".join(f"w={weight:g} {value:.3f}" for weight, value in mrr.items())
    if fixed is not None:
        return Fusion(fixed, mrr, f"w={fixed:g}, set in the settings (dev MRR@10: {scores})")
    fused = max(FUSED_WEIGHTS, key=lambda w: (mrr[w], -round(abs(w - UNFITTED), 6), w))
    single = max(SINGLE, key=lambda weight: (mrr[weight], weight))  # a tie goes to dense
    gaps = [a - b for a, b in zip(reciprocal[fused], reciprocal[single], strict=True)]
    noise = NOISE_SE * statistics.stdev(gaps) / math.sqrt(n) if n > 1 else math.inf
    lead = mrr[single] - mrr[fused]
    if lead > noise:
        return Fusion(single, mrr, (
            f"w={single:g}: fused (best w={fused:g}) trailed {SINGLE[single]} alone by {lead:.3f} "
            f"MRR@10 on {n} dev questions, more than noise ({noise:.3f}), so hybrid serves "
            f"{SINGLE[single]}'s ranking (dev MRR@10: {scores})"
        ))  # fmt: skip
    return Fusion(fused, mrr, (
        f"w={fused:g}: the best fused weight on {n} dev questions, within noise ({noise:.3f}) "
        f"of the better single retriever or ahead of it (dev MRR@10: {scores})"
    ))  # fmt: skip
