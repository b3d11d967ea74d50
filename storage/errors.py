"""Storage's errors; ``bot.errors`` re-exports them inside the project-wide tree."""

from __future__ import annotations


class CitewatchError(Exception):
    """Base of every error we report to the user as one line."""


class StorageError(CitewatchError):
    """The database cannot be used (not ours, too new, unwritable, corrupt)."""


class QueryError(CitewatchError):
    """A search query that cannot be turned into a valid full-text query."""
