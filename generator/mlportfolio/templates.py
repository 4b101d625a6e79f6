"""Find the copier template root, whether installed from a wheel or run from a checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mlportfolio.errors import RenderError

_PACKAGE_DIR = Path(__file__).resolve().parent


def template_root() -> Path:
    """The folder holding ``copier.yml``.

    A wheel carries the templates as package data in ``mlportfolio/templates``; an
    editable install of a checkout reads ``templates/`` at the repository root.
    """
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parents[1] / "templates"):
        if (candidate / "copier.yml").is_file():
            return candidate
    raise RenderError(
        "the project templates are missing from this installation",
        "reinstall mlportfolio (pip install --force-reinstall mlportfolio)",
    )


@cache
def questions() -> dict[str, dict[str, Any]]:
    """The questions of ``copier.yml`` (settings starting with ``_`` left out)."""
    config = yaml.safe_load((template_root() / "copier.yml").read_text(encoding="utf-8"))
    return {name: spec for name, spec in config.items() if not name.startswith("_")}
