"""Atlas reward system (RIM): feedback signals and an LLM judge ensemble with escalation"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("atlas-rim")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
