"""Predict which credit applicants will default, and serve the model over REST."""

from .config import Settings

__all__ = ["Settings"]
__version__ = "0.1.0"
