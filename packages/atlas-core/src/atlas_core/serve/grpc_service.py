"""The gRPC service of ``atlas serve``: ingest (unary, columnar, client-streaming, and the
``IngestAppend`` stream), reads and the standard ``grpc.health.v1`` health service, on
grpcio's asyncio server (:mod:`atlas_core.serve.grpc_server`): the ingest streams, the
column batches and the health service are coroutines; ``Ingest`` (typed events, converted
in Python) and the reads run on its thread pool.

Every call authenticates from the ``authorization`` metadata; the tenant is the key's.
Ingest hands events to the shared :class:`IngestPipeline` and answers only once they are
committed. Errors are mapped with :func:`grpc_status_name`; an overload carries its retry
hint in the trailing metadata ``retry-after-ms`` and ``grpc-retry-pushback-ms``; when every
event is rejected the IngestResponse rides in ``atlas-ingest-response-bin``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from atlas_core.auth import KeyVerifier, Principal
from atlas_core.errors import InvalidArgumentError
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.grpc_append import append_answers
from atlas_core.serve.grpc_calls import (
    EMPTY_RESULT,
    RESULT_METADATA,
    Calls,
    EndCallError,
    Undecodable,
    commit_result,
    deserializer,
    parsed,
    rejected_summary,
    wait_for_commit,
)
from atlas_core.serve.grpc_codec import DecodedEvents, decode_events, response_from_result
from atlas_core.serve.grpc_columns import columns_from_batch
from atlas_core.serve.grpc_reads import ReadsServicer
from atlas_core.serve.grpc_server import GrpcServer
from atlas_core.serve.pipeline import IngestResult

if TYPE_CHECKING:
    from atlas_core.config import ServeConfig
    from atlas_core.serve.metrics import ServeMetrics
    from atlas_core.serve.pipeline import IngestPipeline
    from atlas_core.store import Store

__all__ = ["RESULT_METADATA", "SERVICE_NAMES", "IngestServicer", "create_grpc_server"]

log = logging.getLogger("atlas_core.serve")

SERVICE_NAMES = ("atlas.v1.Ingest", "atlas.v1.Reads")
_HEALTH_PERIOD_S = 1.0


def _checked(response: pb.IngestResponse) -> pb.IngestResponse:
    if response.rejected and response.accepted == 0:
        raise EndCallError(
            grpc.StatusCode.INVALID_ARGUMENT,
            rejected_summary(response),
            ((RESULT_METADATA, response.SerializeToString()),),
        )
    return response


class IngestServicer:
    """``atlas.v1.Ingest``: hands events to the pipeline, answers once committed."""

    def __init__(self, pipeline: IngestPipeline, calls: Calls) -> None:
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

    def _submit_message(
        self, principal: Principal, message: pb.IngestStreamMessage
    ) -> tuple[Future[IngestResult] | None, DecodedEvents | None]:
        """Submits one stream message: its commit's future (None: nothing to commit) and,
        for typed events, how they were decoded."""
        if message.WhichOneof("batch") == "columns":
            columns = columns_from_batch(message.columns)
            if not len(columns):
                return None, None
            future = self._pipeline.submit_columns(
                principal.tenant_id, rate_key=str(principal.key_id), columns=columns
            )
            return future, None
        events = decode_events(message.events)
        return self._submit_events(principal, events), events

    def Ingest(  # noqa: N802 - gRPC method names are CamelCase
        self, request: pb.IngestRequest | Undecodable, context: grpc.ServicerContext
    ) -> pb.IngestResponse:
        def body() -> pb.IngestResponse:
            principal = self._calls.principal(context, "ingest")
            decoded = decode_events(parsed(request))
            future = self._submit_events(principal, decoded)
            result = EMPTY_RESULT if future is None else wait_for_commit(future, context)
            return _checked(response_from_result(result, decoded))

        return self._calls.run("Ingest", context, body)

    async def IngestColumns(  # noqa: N802
        self, request: pb.ColumnBatch | Undecodable, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.IngestResponse:
        # A coroutine: the call holds no thread while its commit is written.
        async def body() -> pb.IngestResponse:
            principal = await self._calls.principal_of(context, "ingest")
            columns = columns_from_batch(parsed(request))
            if not len(columns):
                return pb.IngestResponse()
            future = self._pipeline.submit_columns(
                principal.tenant_id, rate_key=str(principal.key_id), columns=columns
            )
            result = await commit_result(future, context)
            return _checked(response_from_result(result, with_ids=False))

        return await self._calls.run_async("IngestColumns", context, body)

    async def IngestStream(  # noqa: N802
        self,
        requests: AsyncIterator[pb.IngestStreamMessage | Undecodable],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> pb.IngestResponse:
        async def body() -> pb.IngestResponse:
            principal = await self._calls.principal_of(context, "ingest")
            pending: deque[tuple[int, Future[IngestResult] | None, DecodedEvents | None]]
            pending = deque()
            total = pb.IngestResponse()

            async def fold(number: int, future: Future[IngestResult] | None, decoded: Any) -> None:
                result = EMPTY_RESULT if future is None else await commit_result(future, context)
                part = response_from_result(
                    result, decoded, message=number, with_ids=decoded is not None
                )
                total.accepted += part.accepted
                total.duplicates += part.duplicates
                total.rejected.extend(part.rejected)
                total.interaction_ids.extend(part.interaction_ids)
                total.feedback_ids.extend(part.feedback_ids)

            number = 0
            async for request in requests:
                submitted = await self._submit_on_loop(principal, parsed(request))
                pending.append((number, *submitted))
                number += 1
                # Fold what is committed already, so a long stream holds only its
                # uncommitted messages, not all of them.
                while pending and (pending[0][1] is None or pending[0][1].done()):
                    await fold(*pending.popleft())
            while pending:
                await fold(*pending.popleft())
            return _checked(total)

        return await self._calls.run_async("IngestStream", context, body)

    async def IngestAppend(  # noqa: N802
        self,
        requests: AsyncIterator[pb.IngestStreamMessage | Undecodable],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[pb.AppendResponse]:
        # Authenticated once, for the stream; each message is then answered on its own.
        principal = await self._calls.principal_async("IngestAppend", context, "ingest")
        submit = functools.partial(self._submit_on_loop, principal)
        observe = functools.partial(self._calls.observe_message, "IngestAppend.message")
        async for answer in append_answers(requests, submit, context, observe):
            yield answer

    async def _submit_on_loop(
        self, principal: Principal, message: pb.IngestStreamMessage
    ) -> tuple[Future[IngestResult] | None, DecodedEvents | None]:
        """:meth:`_submit_message` from a coroutine handler."""
        if message.WhichOneof("batch") == "columns":  # a few numpy views: on the loop
            return self._submit_message(principal, message)
        # Typed events are converted event by event in Python: off the loop.
        return await asyncio.to_thread(self._submit_message, principal, message)


class _Health(health.aio.HealthServicer):
    """``grpc.health.v1`` on the server's loop (a Watch stream holds no thread): SERVING
    while the pipeline is ready. Re-checked on every Check and every ``_HEALTH_PERIOD_S``
    (so Watch streams see changes) until the server stops."""

    def __init__(self, pipeline: IngestPipeline) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._status: int | None = None

    async def refresh(self) -> None:
        """Sets every service's status from the pipeline's readiness (on the loop only)."""
        serving = health_pb2.HealthCheckResponse.SERVING
        status = serving if self._pipeline.ready else health_pb2.HealthCheckResponse.NOT_SERVING
        if status == self._status:
            return  # set() wakes every Watch stream: only on a change
        self._status = status
        for service in ("", *SERVICE_NAMES):
            await self.set(service, status)

    async def Check(  # noqa: N802
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> health_pb2.HealthCheckResponse:
        await self.refresh()
        response: health_pb2.HealthCheckResponse = await super().Check(request, context)
        return response


def _watch_health(server: GrpcServer, servicer: _Health) -> None:
    while server.wait_for_termination(timeout=_HEALTH_PERIOD_S):  # True: still running
        try:
            server.call(servicer.refresh()).result(timeout=_HEALTH_PERIOD_S)
        except Exception:  # a failing readiness probe must not kill the watcher
            if not server.wait_for_termination(timeout=0):
                return  # stopped meanwhile
            log.exception("grpc health refresh failed")


def _handlers(ingest: IngestServicer, reads: ReadsServicer) -> list[grpc.GenericRpcHandler]:
    serialize = pb.IngestResponse.SerializeToString
    ingest_methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "Ingest": grpc.unary_unary_rpc_method_handler(
            ingest.Ingest, deserializer(pb.IngestRequest), serialize
        ),
        "IngestColumns": grpc.unary_unary_rpc_method_handler(
            ingest.IngestColumns, deserializer(pb.ColumnBatch), serialize
        ),
        "IngestStream": grpc.stream_unary_rpc_method_handler(
            ingest.IngestStream, deserializer(pb.IngestStreamMessage), serialize
        ),
        "IngestAppend": grpc.stream_stream_rpc_method_handler(
            ingest.IngestAppend,
            deserializer(pb.IngestStreamMessage),
            pb.AppendResponse.SerializeToString,
        ),
    }
    list_request = deserializer(pb.ListRequest)
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
            deserializer(pb.GetInteractionRequest),
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
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    reuse_port: bool = False,
) -> tuple[GrpcServer, int]:
    """A started gRPC server with the ingest, reads and health services; returns it and the
    bound port (``port=0`` picks a free one). ``host`` defaults to ``config.host``.

    ``max_workers`` threads serve the calls whose handlers are plain functions (reads, and
    ``Ingest``, which holds its thread until the commit); the ingest streams, column
    batches and health checks are coroutines and hold none. Beyond
    ``max_concurrent_rpcs`` calls in flight grpcio itself answers RESOURCE_EXHAUSTED.
    Requests above ``config.max_request_bytes`` are refused by grpcio (RESOURCE_EXHAUSTED).
    ``interceptors`` (asyncio ones) wrap every call (logging, tracing, fault injection in
    tests).
    ``reuse_port``: share the port with the other workers of one ``atlas serve``.
    Stop it with ``server.stop(grace)``.
    """
    calls = Calls(verifier, metrics)
    health_servicer = _Health(pipeline)
    address = f"{host or config.host}:{port}"
    try:
        server = GrpcServer(
            handlers=_handlers(IngestServicer(pipeline, calls), ReadsServicer(store, calls)),
            add_services=functools.partial(
                health_pb2_grpc.add_HealthServicer_to_server, health_servicer
            ),
            address=address,
            options=[
                ("grpc.max_receive_message_length", config.max_request_bytes),
                # Alone, a second server on the same port must fail, not share it silently.
                ("grpc.so_reuseport", 1 if reuse_port else 0),
            ],
            max_workers=max_workers,
            max_concurrent_rpcs=max_concurrent_rpcs,
            interceptors=interceptors,
        )
    except RuntimeError as err:
        raise InvalidArgumentError(f"grpc_port: cannot bind {address} ({err})") from err
    if server.port == 0:
        raise InvalidArgumentError(f"grpc_port: cannot bind {address}")
    server.call(health_servicer.refresh()).result()  # no Watch may see SERVICE_UNKNOWN
    threading.Thread(
        target=_watch_health, args=(server, health_servicer), name="atlas-grpc-health", daemon=True
    ).start()
    return server, server.port
