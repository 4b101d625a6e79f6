"""Predict which credit applicants will default, and serve the model over REST."""

__version__ = "0.1.0"
