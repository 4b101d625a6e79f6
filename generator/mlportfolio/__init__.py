"""mlportfolio: render a finished, explainable ML portfolio project in one command."""

from __future__ import annotations

__version__ = "0.2.0"

__all__ = ["__version__"]
