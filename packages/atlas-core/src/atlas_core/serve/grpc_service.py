"""The gRPC service of ``atlas serve``: ingest (unary, columnar, client-streaming), reads and
the standard ``grpc.health.v1`` health service, on a sync grpcio server with a thread pool.

Every call authenticates from the ``authorization`` metadata; the tenant is the key's.
Ingest hands events to the shared :class:`IngestPipeline` and answers only once they are
committed. Errors are mapped with :func:`grpc_status_name`; an overload carries its retry
hint in the trailing metadata ``retry-after-ms`` and ``grpc-retry-pushback-ms``.

Requests are deserialized by this module (not by grpcio), so bytes that are not a valid
message answer INVALID_ARGUMENT instead of grpcio's generic INTERNAL, which clients would
retry forever.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from atlas_core.auth import KeyVerifier, Principal, bearer_secret
from atlas_core.errors import AtlasError, InvalidArgumentError
from atlas_core.ids import parse_id
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.errors import OverloadedError, grpc_status_name
from atlas_core.serve.grpc_codec import (
    DecodedEvents,
    columns_from_batch,
    decode_events,
    feedback_messages,
    interaction_messages,
    response_from_result,
    reward_messages,
)
from atlas_core.serve.pipeline import IngestResult
from atlas_core.store import Query

if TYPE_CHECKING:
    from datetime import datetime

    from atlas_core.config import ServeConfig
    from atlas_core.serve.metrics import ServeMetrics
    from atlas_core.serve.pipeline import IngestPipeline
    from atlas_core.store import Store

__all__ = ["RESULT_METADATA", "SERVICE_NAMES", "create_grpc_server"]

log = logging.getLogger("atlas_core.serve")

RESULT_METADATA = "atlas-ingest-response-bin"
"""Trailing metadata holding the serialized IngestResponse when every event was rejected."""
SERVICE_NAMES = ("atlas.v1.Ingest", "atlas.v1.Reads")
DEFAULT_LIST_LIMIT = 1_000
MAX_LIST_LIMIT = 10_000
_HEALTH_PERIOD_S = 1.0
_COMMIT_TIMEOUT_S = 60.0  # when the client set no deadline: never hold a worker forever

M = TypeVar("M")


class _Undecodable:
    """What the deserializer returns for bytes that are not the expected message."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _deserializer(message: type[M]) -> Callable[[bytes], M | _Undecodable]:
    name = message.__name__

    def parse(data: bytes) -> M | _Undecodable:
        try:
            return message.FromString(data)  # type: ignore[attr-defined,no-any-return]
        except (DecodeError, ValueError, RuntimeError) as err:  # upb raises DecodeError
            return _Undecodable(f"request: not a valid {name} message ({err})")

    return parse


def _parsed(request: M | _Undecodable) -> M:
    if isinstance(request, _Undecodable):
        raise InvalidArgumentError(request.reason)
    return request


class _EndCallError(Exception):
    """Ends a call with ``code`` and ``message`` (and binary trailing metadata)."""

    def __init__(
        self, code: grpc.StatusCode, message: str, trailing: tuple[tuple[str, bytes], ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.trailing = trailing


class _Calls:
    """What every call does around its body: authenticate, time, count, map errors."""

    def __init__(self, verifier: KeyVerifier, metrics: ServeMetrics | None) -> None:
        self._verifier = verifier
        self._metrics = metrics

    def principal(self, context: grpc.ServicerContext, scope: str) -> Principal:
        authorization = None
        for key, value in context.invocation_metadata():
            if key == "authorization":
                authorization = value if isinstance(value, str) else value.decode("latin-1")
                break
        return self._verifier.authenticate(bearer_secret(authorization), scope)

    def run(
        self,
        method: str,
        context: grpc.ServicerContext,
        body: Callable[[], M],
    ) -> M:
        start = time.perf_counter()
        status = "OK"
        try:
            return body()
        except _EndCallError as ended:
            status = ended.code.name
            if ended.trailing:
                context.set_trailing_metadata(ended.trailing)
            _abort(context, ended.code, ended.message)
        except AtlasError as err:
            status = grpc_status_name(err)
            if isinstance(err, OverloadedError):
                ms = str(max(1, math.ceil(err.retry_after_s * 1000)))
                context.set_trailing_metadata(
                    (("retry-after-ms", ms), ("grpc-retry-pushback-ms", ms))
                )
            _abort(context, grpc.StatusCode[status], str(err))
        except FutureTimeoutError:
            status = "DEADLINE_EXCEEDED"
            _abort(context, grpc.StatusCode.DEADLINE_EXCEEDED, "commit: not confirmed in time")
        except Exception as err:
            status = "INTERNAL"
            log.exception("grpc %s failed", method)
            _abort(context, grpc.StatusCode.INTERNAL, f"internal error ({type(err).__name__})")
        finally:
            if self._metrics is not None:
                self._metrics.requests.labels("grpc", method, status).inc()
                self._metrics.request_seconds.labels("grpc", method).observe(
                    time.perf_counter() - start
                )


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


def _rejected_summary(response: pb.IngestResponse) -> str:
    shown = [f"{e.kind}[{e.index}].{e.field}: {e.reason}" for e in response.rejected[:5]]
    more = len(response.rejected) - len(shown)
    tail = f"; and {more} more (see trailing metadata {RESULT_METADATA})" if more > 0 else ""
    return f"every event was rejected: {'; '.join(shown)}{tail}"


def _wait(future: Future[IngestResult], context: grpc.ServicerContext) -> IngestResult:
    # Without a client deadline grpcio reports a huge time remaining: cap it.
    remaining = context.time_remaining()
    timeout = _COMMIT_TIMEOUT_S if remaining is None else min(_COMMIT_TIMEOUT_S, remaining)
    return future.result(timeout=max(0.0, timeout))


def _checked(response: pb.IngestResponse) -> pb.IngestResponse:
    if response.rejected and response.accepted == 0:
        raise _EndCallError(
            grpc.StatusCode.INVALID_ARGUMENT,
            _rejected_summary(response),
            ((RESULT_METADATA, response.SerializeToString()),),
        )
    return response


class IngestServicer:
    """``atlas.v1.Ingest``: hands events to the pipeline, answers once committed."""

    def __init__(self, pipeline: IngestPipeline, calls: _Calls) -> None:
        self._pipeline = pipeline
        self._calls = calls

    def _submit_events(
        self, principal: Principal, decoded: DecodedEvents
    ) -> Future[IngestResult] | None:
        if not decoded.interactions and not decoded.feedback:
            return None  # nothing reached the pipeline (empty, or every event undecodable)
        return self._pipeline.submit(
            principal.tenant_id,
            rate_key=str(principal.key_id),
            interactions=decoded.interactions,
            feedback=decoded.feedback,
        )

    def Ingest(  # noqa: N802 - gRPC method names are CamelCase
        self, request: pb.IngestRequest | _Undecodable, context: grpc.ServicerContext
    ) -> pb.IngestResponse:
        def body() -> pb.IngestResponse:
            principal = self._calls.principal(context, "ingest")
            decoded = decode_events(_parsed(request))
            future = self._submit_events(principal, decoded)
            result = _EMPTY if future is None else _wait(future, context)
            return _checked(response_from_result(result, decoded))

        return self._calls.run("Ingest", context, body)

    def IngestColumns(  # noqa: N802
        self, request: pb.ColumnBatch | _Undecodable, context: grpc.ServicerContext
    ) -> pb.IngestResponse:
        def body() -> pb.IngestResponse:
            principal = self._calls.principal(context, "ingest")
            columns = columns_from_batch(_parsed(request))
            if not len(columns):
                return pb.IngestResponse()
            future = self._pipeline.submit_columns(
                principal.tenant_id, rate_key=str(principal.key_id), columns=columns
            )
            return _checked(response_from_result(_wait(future, context), with_ids=False))

        return self._calls.run("IngestColumns", context, body)

    def IngestStream(  # noqa: N802
        self,
        requests: Iterator[pb.IngestStreamMessage | _Undecodable],
        context: grpc.ServicerContext,
    ) -> pb.IngestResponse:
        def body() -> pb.IngestResponse:
            principal = self._calls.principal(context, "ingest")
            pending: deque[tuple[int, Future[IngestResult] | None, DecodedEvents | None]]
            pending = deque()
            total = pb.IngestResponse()

            def fold(number: int, future: Future[IngestResult] | None, decoded: Any) -> None:
                result = _EMPTY if future is None else _wait(future, context)
                part = response_from_result(
                    result, decoded, message=number, with_ids=decoded is not None
                )
                total.accepted += part.accepted
                total.duplicates += part.duplicates
                total.rejected.extend(part.rejected)
                total.interaction_ids.extend(part.interaction_ids)
                total.feedback_ids.extend(part.feedback_ids)

            for number, request in enumerate(requests):
                message = _parsed(request)
                if message.WhichOneof("batch") == "columns":
                    columns = columns_from_batch(message.columns)
                    future = (
                        self._pipeline.submit_columns(
                            principal.tenant_id, rate_key=str(principal.key_id), columns=columns
                        )
                        if len(columns)
                        else None
                    )
                    pending.append((number, future, None))
                else:
                    events = decode_events(message.events)
                    pending.append((number, self._submit_events(principal, events), events))
                # Fold what is committed already, so a long stream holds only its
                # uncommitted messages, not all of them.
                while pending and (pending[0][1] is None or pending[0][1].done()):
                    fold(*pending.popleft())
            while pending:
                fold(*pending.popleft())
            return _checked(total)

        return self._calls.run("IngestStream", context, body)


_EMPTY = IngestResult(0, 0, (), (), ())


class ReadsServicer:
    """``atlas.v1.Reads``: the caller's tenant's rows, never another's."""

    def __init__(self, store: Store, calls: _Calls) -> None:
        self._store = store
        self._calls = calls

    def _list(
        self,
        method: str,
        request: pb.ListRequest | _Undecodable,
        context: grpc.ServicerContext,
        read: Callable[[str, Query], Any],
    ) -> Any:
        def body() -> Any:
            principal = self._calls.principal(context, "read")
            return read(principal.tenant_id, _query(_parsed(request)))

        return self._calls.run(method, context, body)

    def ListInteractions(  # noqa: N802
        self, request: pb.ListRequest | _Undecodable, context: grpc.ServicerContext
    ) -> pb.InteractionList:
        def read(tenant: str, query: Query) -> pb.InteractionList:
            rows = interaction_messages(self._store.interactions(tenant, query))
            return pb.InteractionList(interactions=rows)

        result: pb.InteractionList = self._list("ListInteractions", request, context, read)
        return result

    def ListFeedback(  # noqa: N802
        self, request: pb.ListRequest | _Undecodable, context: grpc.ServicerContext
    ) -> pb.FeedbackList:
        def read(tenant: str, query: Query) -> pb.FeedbackList:
            return pb.FeedbackList(feedback=feedback_messages(self._store.feedback(tenant, query)))

        result: pb.FeedbackList = self._list("ListFeedback", request, context, read)
        return result

    def ListRewards(  # noqa: N802
        self, request: pb.ListRequest | _Undecodable, context: grpc.ServicerContext
    ) -> pb.RewardList:
        def read(tenant: str, query: Query) -> pb.RewardList:
            return pb.RewardList(rewards=reward_messages(self._store.rewards(tenant, query)))

        result: pb.RewardList = self._list("ListRewards", request, context, read)
        return result

    def GetInteraction(  # noqa: N802
        self, request: pb.GetInteractionRequest | _Undecodable, context: grpc.ServicerContext
    ) -> pb.Interaction:
        def body() -> pb.Interaction:
            principal = self._calls.principal(context, "read")
            wanted = _interaction_id(_parsed(request).id)
            found = _find_interaction(self._store, principal.tenant_id, wanted)
            if found is None:
                missing = uuid.UUID(bytes=wanted)
                raise _EndCallError(grpc.StatusCode.NOT_FOUND, f"id: no interaction {missing}")
            return found

        return self._calls.run("GetInteraction", context, body)


def _interaction_id(text: str) -> bytes:
    try:
        return parse_id(text)
    except (InvalidArgumentError, ValueError) as err:
        raise InvalidArgumentError(f"id: not a UUID ({err})") from None


def _find_interaction(store: Store, tenant: str, wanted: bytes) -> pb.Interaction | None:
    import polars as pl

    # The Store protocol has no lookup by id; the read is tenant-scoped, then filtered.
    frame = store.interactions(tenant, Query()).filter(pl.col("id") == wanted)
    rows = interaction_messages(frame.head(1))
    return rows[0] if rows else None


def _datetime_ns(field: str, ns: int) -> datetime:
    from datetime import UTC, datetime, timedelta

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


class _Health(health.HealthServicer):
    """``grpc.health.v1``: SERVING while the pipeline is ready. Re-checked on every Check
    and every ``_HEALTH_PERIOD_S`` (so Watch streams see changes) until the server stops."""

    def __init__(self, pipeline: IngestPipeline) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._status: int | None = None
        self._refresh_lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        serving = health_pb2.HealthCheckResponse.SERVING
        with self._refresh_lock:
            ready = self._pipeline.ready
            status = serving if ready else health_pb2.HealthCheckResponse.NOT_SERVING
            if status == self._status:
                return  # set() notifies every Watch stream: only on a change
            self._status = status
            for service in ("", *SERVICE_NAMES):
                self.set(service, status)

    def Check(  # noqa: N802
        self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        self.refresh()
        response: health_pb2.HealthCheckResponse = super().Check(request, context)
        return response


def _watch_health(server: grpc.Server, servicer: _Health) -> None:
    while server.wait_for_termination(timeout=_HEALTH_PERIOD_S):  # True: still running
        try:
            servicer.refresh()
        except Exception:  # a failing readiness probe must not kill the watcher
            log.exception("grpc health refresh failed")


def _handlers(ingest: IngestServicer, reads: ReadsServicer) -> list[grpc.GenericRpcHandler]:
    serialize = pb.IngestResponse.SerializeToString
    ingest_methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "Ingest": grpc.unary_unary_rpc_method_handler(
            ingest.Ingest, _deserializer(pb.IngestRequest), serialize
        ),
        "IngestColumns": grpc.unary_unary_rpc_method_handler(
            ingest.IngestColumns, _deserializer(pb.ColumnBatch), serialize
        ),
        "IngestStream": grpc.stream_unary_rpc_method_handler(
            ingest.IngestStream, _deserializer(pb.IngestStreamMessage), serialize
        ),
    }
    list_request = _deserializer(pb.ListRequest)
    read_methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "ListInteractions": grpc.unary_unary_rpc_method_handler(
            reads.ListInteractions, list_request, pb.InteractionList.SerializeToString
        ),
        "ListFeedback": grpc.unary_unary_rpc_method_handler(
            reads.ListFeedback, list_request, pb.FeedbackList.SerializeToString
        ),
        "ListRewards": grpc.unary_unary_rpc_method_handler(
            reads.ListRewards, list_request, pb.RewardList.SerializeToString
        ),
        "GetInteraction": grpc.unary_unary_rpc_method_handler(
            reads.GetInteraction,
            _deserializer(pb.GetInteractionRequest),
            pb.Interaction.SerializeToString,
        ),
    }
    return [
        grpc.method_handlers_generic_handler("atlas.v1.Ingest", ingest_methods),
        grpc.method_handlers_generic_handler("atlas.v1.Reads", read_methods),
    ]


def create_grpc_server(
    pipeline: IngestPipeline,
    store: Store,
    verifier: KeyVerifier,
    metrics: ServeMetrics | None,
    config: ServeConfig,
    *,
    port: int,
    host: str | None = None,
    max_workers: int = 32,
    max_concurrent_rpcs: int | None = 1_024,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
) -> tuple[grpc.Server, int]:
    """A started gRPC server with the ingest, reads and health services; returns it and the
    bound port (``port=0`` picks a free one). ``host`` defaults to ``config.host``.

    ``max_workers`` threads serve calls (an ingest call holds its thread until the commit);
    beyond ``max_concurrent_rpcs`` calls in flight grpcio itself answers RESOURCE_EXHAUSTED.
    Requests above ``config.max_request_bytes`` are refused by grpcio (RESOURCE_EXHAUSTED).
    ``interceptors`` wrap every call (logging, tracing, fault injection in tests).
    Stop it with ``server.stop(grace)``.
    """
    calls = _Calls(verifier, metrics)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="atlas-grpc"),
        handlers=_handlers(IngestServicer(pipeline, calls), ReadsServicer(store, calls)),
        options=[
            ("grpc.max_receive_message_length", config.max_request_bytes),
            ("grpc.so_reuseport", 0),  # a second server on the same port must fail, not share
        ],
        maximum_concurrent_rpcs=max_concurrent_rpcs,
        interceptors=list(interceptors),
    )
    health_servicer = _Health(pipeline)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = f"{host or config.host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as err:
        raise InvalidArgumentError(f"grpc_port: cannot bind {address} ({err})") from err
    if bound == 0:
        raise InvalidArgumentError(f"grpc_port: cannot bind {address}")
    server.start()
    threading.Thread(
        target=_watch_health, args=(server, health_servicer), name="atlas-grpc-health", daemon=True
    ).start()
    return server, bound
