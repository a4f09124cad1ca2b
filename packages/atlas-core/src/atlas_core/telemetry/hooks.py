"""The recording hook: what the SDK's ``Recorder`` tells listeners about each interaction.

A ``Recorder`` keeps a list ``interaction_hooks`` (:func:`default_hooks` for one made by
``Recorder.embedded`` / ``Recorder.remote``; empty for a bare one) and, after
buffering an interaction, calls each hook with a :class:`RecordedInteraction`: the encoded,
immutable fields, so a hook can keep it and work on it later off the caller's thread. When
the list is empty, recording pays one truth test. A hook must return quickly and must not
raise; :func:`notify` logs and swallows what one raises anyway (recording never fails the
call it records). This module
does not import OpenTelemetry: the SDK imports it on every run.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from atlas_core.types import Interaction

__all__ = [
    "InteractionHook",
    "RecordedInteraction",
    "default_hooks",
    "notify",
    "reset_default_hooks",
]

log = logging.getLogger("atlas_core.telemetry")


@dataclass(frozen=True, slots=True)
class RecordedInteraction:
    """One interaction as the Recorder buffered it (text fields already encoded)."""

    id: uuid.UUID
    tenant_id: str
    learning_key: str
    input_json: str
    """The input messages as JSON text."""
    output: str
    metadata_json: str
    """The metadata as JSON object text."""
    model_version: str | None
    prompt_version: str | None
    latency_ms: float | None
    session_id: str | None
    user_id: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    ts_ns: int
    """When it was recorded (Unix ns): the interaction's ``created_at``."""

    def to_interaction(self) -> Interaction:
        """The domain object (validates; run it off the hot path)."""
        import json

        from atlas_core.types import Interaction, from_ns

        return Interaction(
            id=self.id,
            tenant_id=self.tenant_id,
            session_id=self.session_id,
            user_id=self.user_id,
            learning_key=self.learning_key,
            model_version=self.model_version,
            prompt_version=self.prompt_version,
            input=json.loads(self.input_json),
            output=self.output,
            latency_ms=self.latency_ms,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            metadata=json.loads(self.metadata_json),
            created_at=from_ns(self.ts_ns),
        )


InteractionHook = Callable[[RecordedInteraction], None]
"""Called with each interaction a Recorder buffers."""


def notify(hooks: Sequence[InteractionHook], recorded: RecordedInteraction) -> None:
    """Calls every hook; a hook that raises is logged, never propagated."""
    for hook in hooks:
        try:
            hook(recorded)
        except Exception:
            log.exception("atlas telemetry: interaction hook %r failed", hook)


_ENV_SWITCHES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "ATLAS_TELEMETRY__ENABLED",
)
_lock = threading.Lock()
_defaults: list[InteractionHook] | None = None


def default_hooks() -> list[InteractionHook]:
    """The hooks ``Recorder.embedded`` / ``Recorder.remote`` start with: the process-wide
    live trace export when the ``telemetry`` configuration turns it on, else none. The
    configuration is read once per process, and only when one of the environment variables
    that can turn it on is set (``OTEL_EXPORTER_OTLP_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``ATLAS_TELEMETRY__ENABLED``) or an
    ``atlas.yaml`` is in use; a problem (bad config, missing ``otel`` extra) is logged and
    recording goes on without export."""
    global _defaults
    with _lock:
        if _defaults is None:
            _defaults = _load_defaults()
        return list(_defaults)


def reset_default_hooks() -> None:
    """Forgets the process-wide hooks (shutting their export down); the next Recorder reads
    the configuration again (tests; re-configuration)."""
    global _defaults
    with _lock:
        previous, _defaults = _defaults, None
    for hook in previous or ():
        close = getattr(hook, "close", None)
        if callable(close):
            close()


def _load_defaults() -> list[InteractionHook]:
    from atlas_core.config.load import config_path

    if not any(os.environ.get(name) for name in _ENV_SWITCHES) and config_path() is None:
        return []  # nothing could turn export on: skip loading the configuration
    try:
        from atlas_core.config import load_config
        from atlas_core.telemetry.live import LiveTraceExport

        config = load_config().telemetry
        if not config.active():
            return []
        return [LiveTraceExport.from_config(config)]
    except Exception:
        log.exception("atlas telemetry: live trace export is off (could not set it up)")
        return []
