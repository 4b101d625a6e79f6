"""Answer questions about the Python documentation, with citations."""

__version__ = "0.1.0"
