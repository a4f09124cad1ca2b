"""Atlas offline learning: SFT warm-up and GRPO (TRL) with the adaptive-teaching reward"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("atlas-grpo")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
