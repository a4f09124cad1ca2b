"""The embedded SQLite store (the default back-end)."""

from atlas_memory.sqlite.store import SqliteStore, open_sqlite

__all__ = ["SqliteStore", "open_sqlite"]
