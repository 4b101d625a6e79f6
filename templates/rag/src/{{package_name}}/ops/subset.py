"""A smaller index for CI and smoke runs: ``include_sources`` globs, then ``max_passages``.

Embedding the whole corpus takes minutes on a laptop CPU; a test that only needs to see
ingest, evaluation and serving work end to end does not need all of it. The subset keeps
the eval set's gold passages first (so recall is still measurable), then a stable sample
ordered by passage id (so the same settings always give the same index).
"""

from __future__ import annotations

import json
from fnmatch import fnmatch

from ..chunking import Passage
from ..config import Settings


def subset(passages: list[Passage], settings: Settings) -> list[Passage]:
    """Passages of the ``include_sources`` globs (all when empty), then at most
    ``max_passages`` of them: the eval set's gold passages first, then a stable sample."""
    if settings.include_sources:
        globs = settings.include_sources
        passages = [p for p in passages if any(fnmatch(p.source, glob) for glob in globs)]
    limit = settings.max_passages
    if limit is None or len(passages) <= limit:
        return passages
    gold = _gold(settings)
    is_gold = {p.id: (p.source, p.anchor) in gold or (p.source, None) in gold for p in passages}
    first = [p for p in passages if is_gold[p.id]]
    rest = sorted((p for p in passages if not is_gold[p.id]), key=lambda p: p.id)
    chosen = {p.id for p in (first + rest)[:limit]}
    return [p for p in passages if p.id in chosen]


def _gold(settings: Settings) -> set[tuple[str, str | None]]:
    """(source, anchor) of the questions evaluated, anchor None for a whole file (none
    without an eval file)."""
    path = settings.path(settings.eval_file)
    if not path.is_file():
        return set()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    rows = rows[: settings.eval_limit] if settings.eval_limit else rows
    return {(str(row.get("source")), row.get("anchor") and str(row["anchor"])) for row in rows}
