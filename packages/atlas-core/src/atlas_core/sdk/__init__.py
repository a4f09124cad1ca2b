"""The Atlas SDK: record agent calls and user feedback, shipped in the background.

Quick use::

    import atlas_core as atlas

    atlas.configure(store="sqlite:///atlas.db")        # or rely on ATLAS_STORE_URL

    @atlas.wrap(learning_key="support", model_version="m1", prompt_version="p3")
    def agent(question: str) -> str: ...

    answer = agent("How do I reset my password?")
    atlas.rate(atlas.last_interaction_id(), 4)          # 1..5 by default
    atlas.signal(atlas.last_interaction_id(), "copy")

Recording only validates, encodes and pushes to a bounded native buffer; a transport ships
the events (:class:`EmbeddedTransport`: to a Store in this process; :class:`RemoteTransport`:
to ``atlas serve`` over gRPC, e.g. ``atlas.configure("grpc://host:50051", api_key=...)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from atlas_core.sdk.api import (
    acomment,
    aedit,
    aflush,
    alabel,
    arate,
    asignal,
    comment,
    edit,
    flush,
    label,
    rate,
    signal,
)
from atlas_core.sdk.embedded import EmbeddedTransport
from atlas_core.sdk.recorder import Recorder, configure, get_recorder, reset_default
from atlas_core.sdk.transport import Transport, TransportStats

if TYPE_CHECKING:
    from atlas_core.sdk.remote import RemoteTransport
from atlas_core.sdk.wrapping import (
    AsyncWrapped,
    Recorded,
    Wrapped,
    call_context,
    last_interaction_id,
    wrap,
)

__all__ = [
    "AsyncWrapped",
    "EmbeddedTransport",
    "Recorded",
    "Recorder",
    "RemoteTransport",
    "Transport",
    "TransportStats",
    "Wrapped",
    "acomment",
    "aedit",
    "aflush",
    "alabel",
    "arate",
    "asignal",
    "call_context",
    "comment",
    "configure",
    "edit",
    "flush",
    "get_recorder",
    "label",
    "last_interaction_id",
    "rate",
    "reset_default",
    "signal",
    "wrap",
]


def __getattr__(name: str) -> Any:
    # grpcio loads only when the remote transport is asked for.
    if name == "RemoteTransport":
        from atlas_core.sdk.remote import RemoteTransport

        return RemoteTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
