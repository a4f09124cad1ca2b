"""The ``Recorder``: turns interactions and feedback into buffered events, and the default one.

A recorder validates and encodes on the caller's thread (microseconds) and hands the event
to its :class:`~atlas_core.sdk.transport.Transport`, which ships it in the background.
``wrap`` and the module-level feedback functions use the process-wide default recorder
unless given one: :func:`configure` sets it; otherwise the first use opens an embedded
recorder on :func:`atlas_core.store.default_store_url`.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventKind
from atlas_core.sdk import feedback as fb
from atlas_core.sdk.events import (
    NO_INTERACTION,
    dumps,
    feedback_payload,
    interaction_payload,
    learning_key_id,
)
from atlas_core.sdk.transport import Transport
from atlas_core.store import Store
from atlas_core.telemetry.hooks import InteractionHook, RecordedInteraction, default_hooks, notify

__all__ = [
    "Recorder",
    "configure",
    "get_recorder",
    "input_json",
    "output_text",
    "parse_grpc_target",
    "reset_default",
]

_NAN = math.nan


def _text(name: str, value: object, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise InvalidArgumentError(
            f"invalid argument `{name}`: must be a non-empty str, got {value!r}"
        )
    return value


def input_json(value: Any) -> str:
    """Input as the JSON text of a message list: a str is one user message, a list of
    role/content dicts is kept, anything else becomes one user message holding its JSON."""
    if isinstance(value, str):
        messages: Any = [{"role": "user", "content": value}]
    elif isinstance(value, list) and all(isinstance(m, dict) for m in value):
        messages = value
    else:
        messages = [{"role": "user", "content": dumps(value).decode()}]
    return dumps(messages).decode()


def output_text(value: Any) -> str:
    """Output as text: a str as is, None as "", anything else as its JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return dumps(value).decode()


class Recorder:
    """Records interactions and feedback for one tenant through one transport.

    Every method validates first and raises InvalidArgumentError naming the argument
    before anything is buffered; buffer policy errors (BufferFullError, BufferTimeoutError,
    BufferClosedError) come from the transport. Ids are UUIDv7, returned as ``uuid.UUID``.
    """

    def __init__(self, transport: Transport, *, tenant_id: str = "default", source: str = "sdk"):
        self.transport = transport
        self.tenant_id = _text("tenant_id", tenant_id, required=True) or "default"
        self.source = _text("source", source, required=True) or "sdk"
        self.interaction_hooks: list[InteractionHook] = []
        """Called with each buffered interaction (atlas_core.telemetry.hooks). ``embedded``
        and ``remote`` (so ``wrap``, ``configure`` and the Runtime) start with the configured
        live trace export; a bare ``Recorder(transport)`` (evaluation, load tests) with none."""

    @classmethod
    def embedded(
        cls, store: Store | str | None = None, *, tenant_id: str = "default", **options: Any
    ) -> Recorder:
        """A recorder writing to ``store`` (a Store, or a URL opened and owned) in-process;
        ``options`` go to :class:`~atlas_core.sdk.embedded.EmbeddedTransport`."""
        from atlas_core.sdk.embedded import EmbeddedTransport
        from atlas_core.store import open_store

        if isinstance(store, Store):
            transport = EmbeddedTransport(store, **options)
        else:
            opened = open_store(store)
            try:
                transport = EmbeddedTransport(opened, owns_store=True, **options)
            except BaseException:
                opened.close()  # bad options: do not leak the connection we opened
                raise
        recorder = cls(transport, tenant_id=tenant_id)
        recorder.interaction_hooks = default_hooks()  # live trace export, when configured
        return recorder

    @classmethod
    def remote(
        cls,
        target: str,
        api_key: str | None = None,
        *,
        tenant_id: str = "default",
        **options: Any,
    ) -> Recorder:
        """A recorder shipping to ``atlas serve`` over gRPC. ``target``: ``host:port``,
        ``grpc://host:port`` (plaintext) or ``grpcs://host:port`` (TLS, system roots);
        ``api_key`` defaults to the ``ATLAS_API_KEY`` environment variable. The server
        takes the tenant from the key (``tenant_id`` only labels local payloads).
        ``options`` go to :class:`~atlas_core.sdk.remote.RemoteTransport`."""
        from atlas_core.sdk.remote import RemoteTransport

        address, secure = parse_grpc_target(target)
        key = api_key if api_key is not None else os.environ.get("ATLAS_API_KEY")
        if not key:
            raise InvalidArgumentError(
                "invalid argument `api_key`: give it or set ATLAS_API_KEY (an 'atlas_...' "
                "secret with the ingest scope)"
            )
        if secure and "credentials" not in options:
            import grpc

            options["credentials"] = grpc.ssl_channel_credentials()
        recorder = cls(RemoteTransport(address, key, **options), tenant_id=tenant_id)
        recorder.interaction_hooks = default_hooks()  # live trace export, when configured
        return recorder

    # -- interactions ------------------------------------------------------------------------
    def record_interaction(
        self,
        *,
        input: Any,
        output: Any,
        learning_key: str = "default",
        model_version: str | None = None,
        prompt_version: str | None = None,
        latency_ms: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        ts_ns: int | None = None,
        interaction_id: uuid.UUID | bytes | str | None = None,
    ) -> uuid.UUID:
        """Buffers one interaction and returns its id (see :func:`input_json` for ``input``).

        ``interaction_id``: an id the caller minted (a UUID; UUIDv7 keeps the store's
        time order): a retried call with the same id stores one interaction, and a replayed
        workload gets the same ids. Default: a fresh UUIDv7.
        """
        _text("learning_key", learning_key, required=True)
        chosen_id = (
            None if interaction_id is None else fb.check_id("interaction_id", interaction_id)
        )
        for name, value in (
            ("model_version", model_version),
            ("prompt_version", prompt_version),
            ("session_id", session_id),
            ("user_id", user_id),
        ):
            _text(name, value)
        for name, count in (
            ("prompt_tokens", prompt_tokens),
            ("completion_tokens", completion_tokens),
        ):
            if count is not None and (not isinstance(count, int) or count < 0):
                raise InvalidArgumentError(
                    f"invalid argument `{name}`: must be an int >= 0, got {count!r}"
                )
        if latency_ms is None:
            latency = _NAN
        else:
            latency = fb.check_number("latency_ms", latency_ms)
            if latency < 0:
                raise InvalidArgumentError(
                    f"invalid argument `latency_ms`: must be >= 0, got {latency}"
                )
        input_text = input_json(input)
        output_str = output_text(output)
        meta_json = fb.check_metadata(metadata)
        payload = interaction_payload(
            tenant_id=self.tenant_id,
            learning_key=learning_key,
            input_json=input_text,
            output=output_str,
            metadata_json=meta_json,
            model_version=model_version,
            prompt_version=prompt_version,
            session_id=session_id,
            user_id=user_id,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        # The transport mints the event id (natively, a few times cheaper than in Python)
        # unless the caller chose one; for an interaction it *is* the interaction id, so that
        # column carries no id here.
        ts = time.time_ns() if ts_ns is None else ts_ns
        event_id = self.transport.send(
            NO_INTERACTION,
            EventKind.INTERACTION,
            latency,
            learning_key_id(learning_key),
            payload,
            ts,
            chosen_id,
        )
        if self.interaction_hooks:  # opt-in (trace export); when off, this test is all it costs
            notify(
                self.interaction_hooks,
                RecordedInteraction(
                    uuid.UUID(bytes=event_id),
                    self.tenant_id,
                    learning_key,
                    input_text,
                    output_str,
                    meta_json,
                    model_version,
                    prompt_version,
                    latency_ms,
                    session_id,
                    user_id,
                    prompt_tokens,
                    completion_tokens,
                    ts,
                ),
            )
        return uuid.UUID(bytes=event_id)

    # -- feedback --------------------------------------------------------------------------------
    def record_feedback(
        self,
        interaction_id: uuid.UUID | bytes | str,
        kind: str,
        *,
        value: float | None = None,
        name: str | None = None,
        scale: tuple[float, float] | None = None,
        text: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> uuid.UUID:
        """Buffers one feedback event of ``kind`` (rating, signal, edit, comment, label) and
        returns its id. The kind's fields are required: a rating ``value`` and ``scale``, a
        signal ``name`` (``value`` defaults to 1), the ``text`` of an edit/comment/label."""
        event_kind = fb.feedback_kind(kind)
        target = fb.check_id("interaction_id", interaction_id)
        _text("user_id", user_id)
        scale_min = scale_max = None
        number = _NAN
        if event_kind is EventKind.RATING:
            number, scale_min, scale_max = fb.check_rating(
                value, scale if scale is not None else (1, 5)
            )
        elif event_kind is EventKind.SIGNAL:
            name, number = fb.check_signal(name, 1.0 if value is None else value)
        else:
            text = fb.check_text("corrected_text" if event_kind is EventKind.EDIT else "text", text)
        payload = feedback_payload(
            tenant_id=self.tenant_id,
            source=self.source,
            metadata_json=fb.check_metadata(metadata),
            name=name if event_kind is EventKind.SIGNAL else None,
            scale_min=scale_min,
            scale_max=scale_max,
            text=text if event_kind not in (EventKind.RATING, EventKind.SIGNAL) else None,
            user_id=user_id,
        )
        event_id = self.transport.send(target, event_kind, number, 0, payload, time.time_ns(), None)
        return uuid.UUID(bytes=event_id)

    def rate(
        self,
        interaction_id: uuid.UUID | bytes | str,
        value: float,
        scale: tuple[float, float] = (1, 5),
        **extra: Any,
    ) -> uuid.UUID:
        """An explicit rating ``value`` on ``scale`` (inclusive); NaN or off-scale raises."""
        return self.record_feedback(interaction_id, "rating", value=value, scale=scale, **extra)

    def signal(
        self, interaction_id: uuid.UUID | bytes | str, name: str, value: float = 1.0, **extra: Any
    ) -> uuid.UUID:
        """An implicit signal: ``copy``, ``share``, ``retry``, ``dismiss``, ``engage`` (value =
        dwell seconds), or any other non-empty name."""
        return self.record_feedback(interaction_id, "signal", name=name, value=value, **extra)

    def edit(
        self, interaction_id: uuid.UUID | bytes | str, corrected_text: str, **extra: Any
    ) -> uuid.UUID:
        """The user's corrected version of the output."""
        return self.record_feedback(interaction_id, "edit", text=corrected_text, **extra)

    def comment(
        self, interaction_id: uuid.UUID | bytes | str, text: str, **extra: Any
    ) -> uuid.UUID:
        """Free text about the output."""
        return self.record_feedback(interaction_id, "comment", text=text, **extra)

    def label(self, interaction_id: uuid.UUID | bytes | str, gold: str, **extra: Any) -> uuid.UUID:
        """A gold answer for the interaction's input."""
        return self.record_feedback(interaction_id, "label", text=gold, **extra)

    # -- async variants: same contract; they never stall the event loop on a full buffer --
    async def _offload(
        self, method: Callable[..., uuid.UUID], *args: Any, **kwargs: Any
    ) -> uuid.UUID:
        if self.transport.has_room():
            return method(*args, **kwargs)  # microseconds: no reason to leave the loop
        # A full buffer under the block policy would block the loop; wait on a thread.
        result: uuid.UUID = await asyncio.to_thread(method, *args, **kwargs)
        return result

    async def arecord_feedback(self, *args: Any, **kwargs: Any) -> uuid.UUID:
        """Async :meth:`record_feedback`."""
        return await self._offload(self.record_feedback, *args, **kwargs)

    async def arate(self, *args: Any, **kwargs: Any) -> uuid.UUID:
        """Async :meth:`rate`."""
        return await self._offload(self.rate, *args, **kwargs)

    async def asignal(self, *args: Any, **kwargs: Any) -> uuid.UUID:
        """Async :meth:`signal`."""
        return await self._offload(self.signal, *args, **kwargs)

    async def aedit(self, *args: Any, **kwargs: Any) -> uuid.UUID:
        """Async :meth:`edit`."""
        return await self._offload(self.edit, *args, **kwargs)

    async def acomment(self, *args: Any, **kwargs: Any) -> uuid.UUID:
        """Async :meth:`comment`."""
        return await self._offload(self.comment, *args, **kwargs)

    async def alabel(self, *args: Any, **kwargs: Any) -> uuid.UUID:
        """Async :meth:`label`."""
        return await self._offload(self.label, *args, **kwargs)

    # -- lifecycle -------------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Blocks until everything recorded before the call is stored; False on timeout."""
        return self.transport.flush(timeout)

    async def aflush(self, timeout: float | None = None) -> bool:
        """Async :meth:`flush` (waits on a worker thread, not on the loop)."""
        return await asyncio.to_thread(self.transport.flush, timeout)

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flushes and closes the transport; True when nothing was left unsettled."""
        return self.transport.close(timeout)


def parse_grpc_target(target: str) -> tuple[str, bool]:
    """``(host:port, tls)`` of ``host:port``, ``grpc://host:port`` or ``grpcs://host:port``."""
    if not isinstance(target, str):
        raise InvalidArgumentError(f"invalid argument `target`: expected str, got {target!r}")
    scheme, sep, rest = target.partition("://")
    if not sep:
        scheme, rest = "grpc", target
    if scheme not in _GRPC_SCHEMES:
        raise InvalidArgumentError(
            f"invalid argument `target`: scheme must be grpc:// or grpcs://, got {target!r}"
        )
    address = rest.rstrip("/")
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit():
        raise InvalidArgumentError(f"invalid argument `target`: expected host:port, got {target!r}")
    return address, scheme == "grpcs"


_GRPC_SCHEMES = ("grpc", "grpcs")

_default: Recorder | None = None
_default_lock = threading.Lock()


def configure(
    recorder: Recorder | Store | str | None = None, /, **embedded_options: Any
) -> Recorder:
    """Sets the process-wide default recorder: ``recorder``; a remote one built with
    ``Recorder.remote(url, **options)`` when given a ``grpc://`` or ``grpcs://`` URL
    (``api_key=`` or ``ATLAS_API_KEY``); else a new embedded one built with
    ``Recorder.embedded(store, **embedded_options)`` when given a Store or a store URL (or
    nothing: the default store). The previous default, if any, is flushed and closed."""
    global _default
    if isinstance(recorder, Recorder):
        if embedded_options:
            raise InvalidArgumentError(
                "invalid argument `embedded_options`: not used with a ready Recorder: "
                f"{sorted(embedded_options)}"
            )
        new = recorder
    elif isinstance(recorder, str) and recorder.startswith(("grpc://", "grpcs://")):
        new = Recorder.remote(recorder, **embedded_options)
    elif recorder is None:
        new = Recorder.embedded(**embedded_options)  # `store=` may be among the options
    elif isinstance(recorder, str | Store):
        if "store" in embedded_options:
            raise InvalidArgumentError(
                "invalid argument `store`: given twice (positionally and as store=)"
            )
        new = Recorder.embedded(recorder, **embedded_options)
    else:
        raise InvalidArgumentError(
            "invalid argument `recorder`: expected a Recorder, a Store or a store URL, "
            f"got {type(recorder).__name__}"
        )
    with _default_lock:
        previous, _default = _default, new
    if previous is not None and previous is not new:
        previous.close()
    return new


def get_recorder() -> Recorder:
    """The default recorder, created on first use on the default store URL."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Recorder.embedded()
        return _default


def reset_default() -> None:
    """Closes and forgets the default recorder (tests; re-configuration)."""
    global _default
    with _default_lock:
        previous, _default = _default, None
    if previous is not None:
        previous.close()
