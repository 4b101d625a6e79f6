"""Write two public data sets no issue names, for trying the templates as a user would.

    .venv/bin/python scripts/public_datasets/build.py OUT_DIR

- ``diabetes.csv`` (classifier): scikit-learn's diabetes data (442 patients, ten baseline
  measurements, shipped inside scikit-learn), labelled ``high_progression = yes`` when the
  disease progression one year later is above its 75th percentile.
- ``debian_sections.csv`` (finetune): the one-line descriptions of Debian bookworm packages
  with their archive section as the label, 500 per section for six sections (admin, games,
  graphics, net, science, sound), read from the local apt lists (``apt-cache dumpavail``).
  Debug, data, doc, dev and common packages and repeated descriptions are left out.

Both are deterministic (seed 0) given the same scikit-learn and apt lists.
"""

from __future__ import annotations

import csv
import random
import re
import subprocess
import sys
from pathlib import Path

SECTIONS = ("admin", "games", "graphics", "net", "science", "sound")
PER_SECTION = 500
SKIPPED_SUFFIXES = ("-dbg", "-dbgsym", "-data", "-doc", "-dev", "-common")
FIELD = re.compile(r"^([A-Za-z-]+): (.*)$")


def write_diabetes(path: Path) -> int:
    """The diabetes table with a binary label; returns the number of rows."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    cut = frame["target"].quantile(0.75)
    frame["high_progression"] = (frame["target"] > cut).map({True: "yes", False: "no"})
    frame.drop(columns="target").to_csv(path, index=False)
    return len(frame)


def write_debian_sections(path: Path) -> int:
    """Package descriptions labelled by section; returns the number of rows."""
    listing = subprocess.run(
        ["apt-cache", "dumpavail"], capture_output=True, text=True, check=True
    ).stdout
    by_section: dict[str, list[str]] = {section: [] for section in SECTIONS}
    seen: set[str] = set()
    for stanza in listing.split("\n\n"):
        fields = dict(m.groups() for line in stanza.splitlines() if (m := FIELD.match(line)))
        section, description = fields.get("Section"), fields.get("Description", "").strip()
        if section not in by_section or len(description) < 15:
            continue
        if fields.get("Package", "").endswith(SKIPPED_SUFFIXES) or description.lower() in seen:
            continue
        seen.add(description.lower())
        by_section[section].append(description)
    rng = random.Random(0)
    rows: list[tuple[str, str]] = []
    for section, descriptions in by_section.items():
        rng.shuffle(descriptions)
        rows += [(text, section) for text in descriptions[:PER_SECTION]]
    rng.shuffle(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["description", "section"])
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    print(f"diabetes.csv: {write_diabetes(out / 'diabetes.csv')} rows")
    print(f"debian_sections.csv: {write_debian_sections(out / 'debian_sections.csv')} rows")


if __name__ == "__main__":
    main()
