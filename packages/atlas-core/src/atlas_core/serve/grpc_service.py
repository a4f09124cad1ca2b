"""The gRPC service of ``atlas serve``: ingest (unary, columnar, client-streaming), reads and
the standard ``grpc.health.v1`` health service, on a ``grpc.aio`` server.

Handlers are coroutines on the server's own event loop (:mod:`atlas_core.serve.grpc_loop`):
a call costs no hand-off to a pool thread, and a call waiting for its commit holds no
thread. Every call authenticates from the ``authorization`` metadata; the tenant is the
key's. Ingest hands events to the shared :class:`IngestPipeline` and answers only once
they are committed: the pipeline's writer resolves the call's waiter through
``loop.call_soon_threadsafe``. Errors are mapped with :func:`grpc_status_name`; an
overload carries its retry hint in the trailing metadata ``retry-after-ms`` and
``grpc-retry-pushback-ms``; when every event is rejected the IngestResponse rides in
``atlas-ingest-response-bin``. Reads run on a small thread pool (a store read blocks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from atlas_core.auth import KeyVerifier, Principal
from atlas_core.errors import InvalidArgumentError
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.grpc_calls import (
    RESULT_METADATA,
    Calls,
    EndCallError,
    Undecodable,
    deserializer,
    parsed,
    rejected_summary,
)
from atlas_core.serve.grpc_codec import DecodedEvents, decode_events, response_from_result
from atlas_core.serve.grpc_columns import columns_from_batch
from atlas_core.serve.grpc_loop import LoopServer
from atlas_core.serve.grpc_reads import ReadsServicer
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
_COMMIT_TIMEOUT_S = 60.0  # without a client deadline: never hold a call forever

Context = grpc.aio.ServicerContext[Any, Any]


async def _wait(future: Future[IngestResult], context: Context) -> IngestResult:
    """The commit's result, awaited on the loop; TimeoutError past the call's deadline."""
    # Without a client deadline grpcio reports a huge time remaining: cap it.
    remaining = context.time_remaining()
    timeout = _COMMIT_TIMEOUT_S if remaining is None else min(_COMMIT_TIMEOUT_S, remaining)
    if not future.done():
        loop = asyncio.get_running_loop()
        # A loop future of our own, not asyncio.wrap_future: cancelling this call (deadline,
        # client gone) must never cancel the pipeline's future, which the writer resolves.
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: Future[IngestResult]) -> None:  # on the writer thread
            # A closed loop (server stopped) has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, waiter)

        future.add_done_callback(wake)
        async with asyncio.timeout(max(0.0, timeout)):
            await waiter
    return future.result()


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


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

    async def Ingest(  # noqa: N802 - gRPC method names are CamelCase
        self, request: pb.IngestRequest | Undecodable, context: Context
    ) -> pb.IngestResponse:
        async def body() -> pb.IngestResponse:
            principal = self._calls.principal(context, "ingest")
            decoded = decode_events(parsed(request))
            future = self._submit_events(principal, decoded)
            result = _EMPTY if future is None else await _wait(future, context)
            return _checked(response_from_result(result, decoded))

        return await self._calls.run("Ingest", context, body)

    async def IngestColumns(  # noqa: N802
        self, request: pb.ColumnBatch | Undecodable, context: Context
    ) -> pb.IngestResponse:
        async def body() -> pb.IngestResponse:
            principal = self._calls.principal(context, "ingest")
            columns = columns_from_batch(parsed(request))
            if not len(columns):
                return pb.IngestResponse()
            future = self._pipeline.submit_columns(
                principal.tenant_id, rate_key=str(principal.key_id), columns=columns
            )
            result = await _wait(future, context)
            return _checked(response_from_result(result, with_ids=False))

        return await self._calls.run("IngestColumns", context, body)

    async def IngestStream(  # noqa: N802
        self,
        requests: AsyncIterator[pb.IngestStreamMessage | Undecodable],
        context: Context,
    ) -> pb.IngestResponse:
        async def body() -> pb.IngestResponse:
            principal = self._calls.principal(context, "ingest")
            pending: deque[tuple[int, Future[IngestResult] | None, DecodedEvents | None]]
            pending = deque()
            total = pb.IngestResponse()

            async def fold(number: int, future: Future[IngestResult] | None, decoded: Any) -> None:
                result = _EMPTY if future is None else await _wait(future, context)
                part = response_from_result(
                    result, decoded, message=number, with_ids=decoded is not None
                )
                total.accepted += part.accepted
                total.duplicates += part.duplicates
                total.rejected.extend(part.rejected)
                total.interaction_ids.extend(part.interaction_ids)
                total.feedback_ids.extend(part.feedback_ids)

            number = -1
            async for request in requests:
                number += 1
                message = parsed(request)
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
                    await fold(*pending.popleft())
            while pending:
                await fold(*pending.popleft())
            return _checked(total)

        return await self._calls.run("IngestStream", context, body)


_EMPTY = IngestResult(0, 0, (), (), ())


class _Health(health.aio.HealthServicer):
    """``grpc.health.v1``: SERVING while the pipeline is ready. Re-checked on every Check
    and every ``_HEALTH_PERIOD_S`` (so Watch streams see changes) until the server stops."""

    def __init__(self, pipeline: IngestPipeline) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._status: int | None = None

    async def refresh(self) -> None:
        ready = self._pipeline.ready
        serving = health_pb2.HealthCheckResponse.SERVING
        status = serving if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        if status == self._status:
            return  # set() notifies every Watch stream: only on a change
        self._status = status
        for service in ("", *SERVICE_NAMES):
            await self.set(service, status)

    async def Check(  # noqa: N802
        self, request: health_pb2.HealthCheckRequest, context: Context
    ) -> health_pb2.HealthCheckResponse:
        await self.refresh()
        response: health_pb2.HealthCheckResponse = await super().Check(request, context)
        return response

    async def watch(self) -> None:
        """Refreshes every ``_HEALTH_PERIOD_S`` until cancelled (the server stops)."""
        while True:
            try:
                await self.refresh()
            except Exception:  # a failing readiness probe must not end the refresher
                log.exception("grpc health refresh failed")
            await asyncio.sleep(_HEALTH_PERIOD_S)


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
) -> tuple[LoopServer, int]:
    """A started gRPC server with the ingest, reads and health services; returns it and the
    bound port (``port=0`` picks a free one). ``host`` defaults to ``config.host``.

    Calls run as coroutines on the server's own loop thread; ``max_workers`` threads serve
    the reads (a store read blocks). Beyond ``max_concurrent_rpcs`` calls in flight grpcio
    itself answers RESOURCE_EXHAUSTED. Requests above ``config.max_request_bytes`` are
    refused by grpcio (RESOURCE_EXHAUSTED). ``interceptors`` (``grpc.aio`` ones) wrap every
    call (logging, tracing, fault injection in tests). ``reuse_port``: share the port with
    the other workers of one ``atlas serve``. Stop it with ``server.stop(grace)``.
    """
    calls = Calls(verifier, metrics)
    health_servicer = _Health(pipeline)
    address = f"{host or config.host}:{port}"
    reads_pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="atlas-grpc-read")

    async def setup() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server(
            handlers=_handlers(
                IngestServicer(pipeline, calls), ReadsServicer(store, calls, reads_pool)
            ),
            options=[
                ("grpc.max_receive_message_length", config.max_request_bytes),
                # Alone, a second server on the same port must fail, not share it silently.
                ("grpc.so_reuseport", 1 if reuse_port else 0),
            ],
            maximum_concurrent_rpcs=max_concurrent_rpcs,
            interceptors=list(interceptors),
        )
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        await health_servicer.refresh()
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError as err:
            raise InvalidArgumentError(f"grpc_port: cannot bind {address} ({err})") from err
        if bound == 0:
            raise InvalidArgumentError(f"grpc_port: cannot bind {address}")
        await server.start()
        return server, bound

    running = LoopServer(
        setup,
        background=(health_servicer.watch,),
        on_stopped=lambda: reads_pool.shutdown(wait=False),
    )
    return running, running.port
