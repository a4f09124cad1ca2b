"""Atlas persistent memory: SQLite and PostgreSQL stores, migrations, queries, export."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("atlas-memory")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
