"""Atlas online learning: GEPA prompt evolution over production data"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("atlas-gepa")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
