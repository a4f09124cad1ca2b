"""The errors of the telemetry and tracking integrations."""

from __future__ import annotations

import importlib
from types import ModuleType

from atlas_core.errors import AtlasError, ConfigError

__all__ = ["MissingExtraError", "TelemetryError", "TelemetryExportError", "require"]


class TelemetryError(AtlasError):
    """Base class of the errors of trace export and run tracking."""


class MissingExtraError(TelemetryError, ConfigError):
    """An optional integration was asked for but its library is not installed."""


class TelemetryExportError(TelemetryError):
    """A receiver (OTLP collector, tracking server) did not take what was sent."""


def require(module: str, extra: str, what: str) -> ModuleType:
    """Imports ``module``, or raises MissingExtraError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or module
        raise MissingExtraError(
            f"{what} needs {missing!r}, which is not installed: install the extra "
            f"`pip install 'atlas-core[{extra}]'` (or `uv add 'atlas-core[{extra}]'`)"
        ) from exc
