"""Turn a project name into the Python package name the rendered project imports."""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from pathlib import Path

from mlportfolio.contract import ANSWERS_FILE
from mlportfolio.errors import ProjectNameError

NAME_RULE = "use 1-40 characters: letters, digits, '-', '_' or spaces, starting with a letter"

# Packages the rendered projects import: a project named like one of them would
# shadow it (``import mlflow`` would import the user's own package).
_SHADOWED = frozenset(
    {
        "app",
        "bm25s",
        "copier",
        "data",
        "fastapi",
        "lightgbm",
        "matplotlib",
        "mlflow",
        "mlportfolio",
        "numpy",
        "pandas",
        "peft",
        "pydantic",
        "pytest",
        "sentence_transformers",
        "sklearn",
        "src",
        "test",
        "tests",
        "torch",
        "transformers",
        "typer",
        "uvicorn",
    }
)
_ALLOWED = re.compile(r"^[A-Za-z][A-Za-z0-9 _-]{0,39}$")


def package_name(project_name: str) -> str:
    """Return the importable package name for ``project_name`` or refuse it.

    >>> package_name("Credit Risk-v2")
    'credit_risk_v2'
    """
    name = project_name.strip()
    if not _ALLOWED.match(name):
        raise ProjectNameError(f"invalid project name {project_name!r}", NAME_RULE)
    package = re.sub(r"[ _-]+", "_", name).strip("_").lower()
    if keyword.iskeyword(package) or package in sys.stdlib_module_names:
        raise ProjectNameError(
            f"project name {project_name!r} becomes package {package!r}, "
            "which shadows a Python built-in module",
            "choose another name, e.g. add a suffix like '-project'",
        )
    if package in _SHADOWED:
        raise ProjectNameError(
            f"project name {project_name!r} becomes package {package!r}, "
            "which shadows a library the project imports",
            "choose another name, e.g. add a suffix like '-project'",
        )
    installed = _installed_module(package)
    if installed is not None:
        raise ProjectNameError(
            f"project name {project_name!r} becomes package {package!r}, "
            f"which shadows the installed package at {installed}",
            "choose another name, e.g. add a suffix like '-project'",
        )
    return package


def _installed_module(package: str) -> Path | None:
    """Where ``package`` is installed, unless it is a project mlportfolio rendered (whose
    folder holds an answers file): a dependency of a dependency (``attrs``, ``yaml``) is
    shadowed as surely as one the project imports, and `make install` would replace it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:  # not importable, or a bare folder on the path
        return None
    location = Path(spec.origin).parent
    if any((folder / ANSWERS_FILE).is_file() for folder in location.parents):
        return None
    return location
