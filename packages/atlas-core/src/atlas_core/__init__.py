"""Atlas core: domain types, native kernels, plugin registry and the ``atlas`` CLI."""

from __future__ import annotations

from atlas_core import errors
from atlas_core._version import __version__

__all__ = ["__version__", "errors"]
