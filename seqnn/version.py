"""The version of seqnn (one place: pyproject reads it, packages record it)."""

__version__ = "0.1.0"
