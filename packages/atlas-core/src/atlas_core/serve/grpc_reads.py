"""``atlas.v1.Reads``: the caller's tenant's interactions, feedback and rewards.

The tenant is always the API key's; every store read takes it, so no filter a client
sends can reach another tenant's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import grpc

from atlas_core.errors import InvalidArgumentError
from atlas_core.ids import parse_id
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.grpc_calls import Calls, EndCallError, Undecodable, parsed
from atlas_core.store import Query

if TYPE_CHECKING:
    import polars as pl

    from atlas_core.store import Store

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "MAX_LIST_LIMIT",
    "ReadsServicer",
    "feedback_messages",
    "interaction_messages",
    "reward_messages",
]

DEFAULT_LIST_LIMIT = 1_000
MAX_LIST_LIMIT = 10_000
_INTERACTION_OPTIONALS = (
    "model_version",
    "prompt_version",
    "session_id",
    "user_id",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
)
_FEEDBACK_OPTIONALS = ("name", "value", "scale_min", "scale_max", "text", "user_id", "source")


class ReadsServicer:
    """``atlas.v1.Reads``: the caller's tenant's rows, never another's."""

    def __init__(self, store: Store, calls: Calls) -> None:
        self._store = store
        self._calls = calls

    def _list(
        self,
        method: str,
        request: pb.ListRequest | Undecodable,
        context: grpc.ServicerContext,
        read: Callable[[str, Query], Any],
    ) -> Any:
        def body() -> Any:
            principal = self._calls.principal(context, "read")
            return read(principal.tenant_id, _query(parsed(request)))

        return self._calls.run(method, context, body)

    def ListInteractions(  # noqa: N802
        self, request: pb.ListRequest | Undecodable, context: grpc.ServicerContext
    ) -> pb.InteractionList:
        def read(tenant: str, query: Query) -> pb.InteractionList:
            rows = interaction_messages(self._store.interactions(tenant, query))
            return pb.InteractionList(interactions=rows)

        result: pb.InteractionList = self._list("ListInteractions", request, context, read)
        return result

    def ListFeedback(  # noqa: N802
        self, request: pb.ListRequest | Undecodable, context: grpc.ServicerContext
    ) -> pb.FeedbackList:
        def read(tenant: str, query: Query) -> pb.FeedbackList:
            return pb.FeedbackList(feedback=feedback_messages(self._store.feedback(tenant, query)))

        result: pb.FeedbackList = self._list("ListFeedback", request, context, read)
        return result

    def ListRewards(  # noqa: N802
        self, request: pb.ListRequest | Undecodable, context: grpc.ServicerContext
    ) -> pb.RewardList:
        def read(tenant: str, query: Query) -> pb.RewardList:
            return pb.RewardList(rewards=reward_messages(self._store.rewards(tenant, query)))

        result: pb.RewardList = self._list("ListRewards", request, context, read)
        return result

    def GetInteraction(  # noqa: N802
        self, request: pb.GetInteractionRequest | Undecodable, context: grpc.ServicerContext
    ) -> pb.Interaction:
        def body() -> pb.Interaction:
            principal = self._calls.principal(context, "read")
            wanted = _interaction_id(parsed(request).id)
            found = _find_interaction(self._store, principal.tenant_id, wanted)
            if found is None:
                missing = uuid.UUID(bytes=wanted)
                raise EndCallError(grpc.StatusCode.NOT_FOUND, f"id: no interaction {missing}")
            return found

        return self._calls.run("GetInteraction", context, body)


def _interaction_id(text: str) -> bytes:
    try:
        return parse_id(text)
    except (InvalidArgumentError, ValueError) as err:
        raise InvalidArgumentError(f"id: not a UUID ({err})") from None


def _find_interaction(store: Store, tenant: str, wanted: bytes) -> pb.Interaction | None:
    """The tenant's interaction ``wanted``, or None (another tenant's is None)."""
    frame = store.interactions(tenant, Query(ids=[wanted], limit=1))
    return interaction_messages(frame)[0] if frame.height else None


def _datetime_ns(field: str, ns: int) -> datetime:
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1_000)
    except OverflowError:
        raise InvalidArgumentError(f"{field}: out of range ({ns})") from None


def _query(request: pb.ListRequest) -> Query:
    limit = request.limit if request.HasField("limit") else DEFAULT_LIST_LIMIT
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidArgumentError(f"limit: must be in [1, {MAX_LIST_LIMIT}], got {limit}")
    return Query(
        learning_key=request.learning_key if request.HasField("learning_key") else None,
        since=_datetime_ns("since_ns", request.since_ns) if request.HasField("since_ns") else None,
        until=_datetime_ns("until_ns", request.until_ns) if request.HasField("until_ns") else None,
        user_id=request.user_id if request.HasField("user_id") else None,
        session_id=request.session_id if request.HasField("session_id") else None,
        limit=limit,
    )


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    import polars as pl

    # Datetimes as Unix ns and ids as bytes, in one columnar pass before the row loop.
    times = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    return frame.with_columns(pl.col(c).dt.epoch("ns") for c in times).to_dicts()


def _id_text(value: bytes | None) -> str:
    return "" if value is None else str(uuid.UUID(bytes=value))


def _set_optional(message: Any, row: dict[str, Any], names: Iterable[str]) -> None:
    for name in names:
        value = row.get(name)
        if value is not None:
            setattr(message, name, value)


def interaction_messages(frame: pl.DataFrame) -> list[pb.Interaction]:
    """Stored interaction rows as messages (``input_json``, ``created_at_ns`` set)."""
    out = []
    for row in _rows(frame):
        message = pb.Interaction(
            id=_id_text(row["id"]),
            learning_key=row["learning_key"],
            input_json=row["input"],
            output=row["output"],
            metadata_json=row["metadata"] or "{}",
            created_at_ns=row["created_at"],
        )
        _set_optional(message, row, _INTERACTION_OPTIONALS)
        out.append(message)
    return out


def feedback_messages(frame: pl.DataFrame) -> list[pb.Feedback]:
    """Stored feedback rows as messages."""
    out = []
    for row in _rows(frame):
        message = pb.Feedback(
            id=_id_text(row["id"]),
            interaction_id=_id_text(row["interaction_id"]),
            kind=row["kind"],
            metadata_json=row["metadata"] or "{}",
            created_at_ns=row["created_at"],
        )
        _set_optional(message, row, _FEEDBACK_OPTIONALS)
        out.append(message)
    return out


def reward_messages(frame: pl.DataFrame) -> list[pb.Reward]:
    """Stored reward rows as messages."""
    out = []
    for row in _rows(frame):
        message = pb.Reward(
            id=_id_text(row["id"]),
            interaction_id=_id_text(row["interaction_id"]),
            score=row["score"],
            components_json=row["components"] or "{}",
            escalated=bool(row["escalated"]),
            created_at_ns=row["created_at"],
        )
        _set_optional(message, row, ("rationale", "uncertainty", "reward_model"))
        out.append(message)
    return out
