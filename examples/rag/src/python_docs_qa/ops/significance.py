"""Is the served retriever's lead real? An exact McNemar test on the test questions.

Two retrievers answer the same questions, so their recall@5 values are paired: only the
questions one finds and the other misses carry information. Under "no difference" each
such question is a coin flip, so the p-value is a two-sided binomial test at 1/2 on
those questions alone. ``evaluate.py`` logs it for the served retriever against each
other one (``test_recall_at_5_mcnemar_p_vs_<mode>``), and ``make report`` claims a lead
in the resume line only when p < 0.05.
"""

from __future__ import annotations

import math


def mcnemar_p(ours: list[int | None], theirs: list[int | None], cutoff: int = 5) -> float:
    """Exact two-sided McNemar p-value of recall@``cutoff`` from each question's gold rank
    under two retrievers (None: not in the top 10)."""
    hit = [(a is not None and a <= cutoff, b is not None and b <= cutoff)
           for a, b in zip(ours, theirs, strict=True)]  # fmt: skip
    wins, losses = hit.count((True, False)), hit.count((False, True))
    n = wins + losses
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n)
