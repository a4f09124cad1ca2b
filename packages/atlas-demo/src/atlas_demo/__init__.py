"""Atlas main job: ``atlas demo``, the continual-learning loop end to end on a tiny local model."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("atlas-demo")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
