"""Fine-tune a small open-weight model to classify movie-review sentiment."""

__version__ = "0.1.0"
