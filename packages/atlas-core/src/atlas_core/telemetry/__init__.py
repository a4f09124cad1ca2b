"""OpenTelemetry export of interaction traces (needs the ``otel`` extra for export).

- :mod:`.spans`: an Interaction (and the runtime's ``metadata["trace"]``) as a span tree;
- :mod:`.ids`: trace and span ids derived from the interaction id (idempotent re-export);
- :mod:`.exporter`: the OTLP exporter (``http/protobuf`` or ``grpc``), raising on failure;
- :mod:`.live`: :class:`LiveTraceExport`, the opt-in recording hook exporting in the background;
- :mod:`.batch`: :func:`export_interactions`, a store's interactions exported after the fact
  (``atlas traces export``);
- :mod:`.hooks`: the hook the SDK's ``Recorder`` calls (imported by the SDK, so OTel-free).

Importing this package does not import OpenTelemetry; the names that need it load on first
use and raise MissingExtraError naming the extra when it is not installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from atlas_core.telemetry.errors import MissingExtraError, TelemetryError, TelemetryExportError
from atlas_core.telemetry.hooks import (
    InteractionHook,
    RecordedInteraction,
    default_hooks,
    reset_default_hooks,
)

if TYPE_CHECKING:
    from atlas_core.telemetry.batch import ExportReport, export_interactions
    from atlas_core.telemetry.exporter import TraceExporter, build_exporter
    from atlas_core.telemetry.live import LiveExportStats, LiveTraceExport
    from atlas_core.telemetry.spans import SpanOptions, interaction_spans

__all__ = [
    "ExportReport",
    "InteractionHook",
    "LiveExportStats",
    "LiveTraceExport",
    "MissingExtraError",
    "RecordedInteraction",
    "SpanOptions",
    "TelemetryError",
    "TelemetryExportError",
    "TraceExporter",
    "build_exporter",
    "default_hooks",
    "export_interactions",
    "interaction_spans",
    "reset_default_hooks",
]

_LAZY = {
    "ExportReport": "batch",
    "export_interactions": "batch",
    "TraceExporter": "exporter",
    "build_exporter": "exporter",
    "LiveExportStats": "live",
    "LiveTraceExport": "live",
    "SpanOptions": "spans",
    "interaction_spans": "spans",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from atlas_core.telemetry.errors import require

    return getattr(require(f"{__name__}.{module}", "otel", f"atlas_core.telemetry.{name}"), name)
