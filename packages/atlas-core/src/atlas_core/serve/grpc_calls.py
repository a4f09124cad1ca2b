"""What every gRPC call of ``atlas serve`` does around its body: deserialize defensively,
authenticate, time and count it, and map errors to status codes (with retry hints).

Requests are deserialized here (not by grpcio), so bytes that are not a valid message
answer INVALID_ARGUMENT instead of grpcio's generic INTERNAL, which clients would retry
forever.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.message import DecodeError

from atlas_core.auth import KeyVerifier, Principal, bearer_secret
from atlas_core.errors import AtlasError, InvalidArgumentError
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.errors import OverloadedError, grpc_status_name
from atlas_core.serve.results import IngestResult

if TYPE_CHECKING:
    from atlas_core.serve.metrics import ServeMetrics

__all__ = [
    "EMPTY_RESULT",
    "RESULT_METADATA",
    "Calls",
    "EndCallError",
    "Undecodable",
    "commit_result",
    "commit_timeout",
    "deserializer",
    "parsed",
    "rejected_summary",
    "retry_after_ms",
    "status_name",
    "wait_for_commit",
]

log = logging.getLogger("atlas_core.serve")

RESULT_METADATA = "atlas-ingest-response-bin"
"""Trailing metadata holding the serialized IngestResponse when every event was rejected."""

M = TypeVar("M")

EMPTY_RESULT = IngestResult(0, 0, (), (), ())
"""The result of a request with nothing to commit."""

_COMMIT_TIMEOUT_S = 60.0  # without a client deadline: never hold a worker forever
_STATUS_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


def commit_timeout(context: grpc.ServicerContext | grpc.aio.ServicerContext[Any, Any]) -> float:
    """How long a call may wait for its commit: the call's time left, never over 60 s."""
    # Without a client deadline grpcio reports a huge time remaining: cap it.
    remaining = context.time_remaining()
    return max(0.0, _COMMIT_TIMEOUT_S if remaining is None else min(_COMMIT_TIMEOUT_S, remaining))


def wait_for_commit(future: Future[IngestResult], context: grpc.ServicerContext) -> IngestResult:
    """The commit's result, waiting at most :func:`commit_timeout`."""
    return future.result(timeout=commit_timeout(context))


async def commit_result(
    future: Future[IngestResult], context: grpc.aio.ServicerContext[Any, Any]
) -> IngestResult:
    """:func:`wait_for_commit` for a coroutine: the loop runs other calls meanwhile."""
    # shield: a timeout must not cancel the pipeline's future (its writer settles it).
    waiting = asyncio.shield(asyncio.wrap_future(future))
    return await asyncio.wait_for(waiting, commit_timeout(context))


def retry_after_ms(err: OverloadedError) -> int:
    """An overload's retry hint in whole milliseconds (at least 1)."""
    return max(1, math.ceil(err.retry_after_s * 1000))


def status_name(code: int) -> str:
    """The ``grpc.StatusCode`` name of a status code number (``"code N"`` if unknown)."""
    return _STATUS_NAMES.get(code, f"code {code}")


class Undecodable:
    """What the deserializer returns for bytes that are not the expected message."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def deserializer(message: type[M]) -> Callable[[bytes], M | Undecodable]:
    """A grpcio request deserializer that never raises: bytes that do not parse as
    ``message`` become an :class:`Undecodable` the handler answers INVALID_ARGUMENT."""
    name = message.__name__

    def parse(data: bytes) -> M | Undecodable:
        try:
            return message.FromString(data)  # type: ignore[attr-defined,no-any-return]
        except (DecodeError, ValueError, RuntimeError) as err:  # upb raises DecodeError
            return Undecodable(f"request: not a valid {name} message ({err})")

    return parse


def parsed(request: M | Undecodable) -> M:
    """The message, or InvalidArgumentError saying why the bytes did not parse."""
    if isinstance(request, Undecodable):
        raise InvalidArgumentError(request.reason)
    return request


class EndCallError(Exception):
    """Ends a call with ``code`` and ``message`` (and binary trailing metadata)."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        trailing: tuple[tuple[str, str | bytes], ...] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.trailing = trailing


class Calls:
    """What every call does around its body: authenticate, time, count, map errors."""

    def __init__(self, verifier: KeyVerifier, metrics: ServeMetrics | None) -> None:
        self._verifier = verifier
        self._metrics = metrics

    def principal(self, context: grpc.ServicerContext, scope: str) -> Principal:
        """The caller's principal from the ``authorization`` metadata, holding ``scope``;
        AuthenticationError / PermissionDeniedError otherwise."""
        return self._verifier.authenticate(_secret(context), scope)

    async def principal_of(
        self, context: grpc.aio.ServicerContext[Any, Any], scope: str
    ) -> Principal:
        """:meth:`principal` for a coroutine handler: from the key cache on the loop, and
        on a thread when the store must be read (the loop must not wait on it)."""
        secret = _secret(context)
        principal = self._verifier.authenticate_cached(secret, scope)
        if principal is None:
            principal = await asyncio.to_thread(self._verifier.authenticate, secret, scope)
        return principal

    def observe_message(self, method: str, status: str, seconds: float) -> None:
        """Counts one message of a stream that answers each message (``IngestAppend``)."""
        self._count(method, status, seconds)

    def run(
        self,
        method: str,
        context: grpc.ServicerContext,
        body: Callable[[], M],
    ) -> M:
        """``body()``'s answer; any error it raises ends the call with the mapped status
        (and retry hint), and the call is counted in the metrics either way."""
        start = time.perf_counter()
        try:
            answer = body()
        except Exception as err:
            ended = _ending(method, err)
            # Counted before the status goes out: a client that sees it may read /metrics.
            self._count(method, ended.code.name, time.perf_counter() - start)
            if ended.trailing:
                context.set_trailing_metadata(ended.trailing)
            context.abort(ended.code, ended.message)
            raise AssertionError("unreachable: context.abort raises") from err  # pragma: no cover
        self._count(method, "OK", time.perf_counter() - start)
        return answer

    async def run_async(
        self,
        method: str,
        context: grpc.aio.ServicerContext[Any, Any],
        body: Callable[[], Awaitable[M]],
    ) -> M:
        """:meth:`run` for a coroutine handler."""
        start = time.perf_counter()
        try:
            answer = await body()
        except Exception as err:
            ended = _ending(method, err)
            self._count(method, ended.code.name, time.perf_counter() - start)
            if ended.trailing:
                context.set_trailing_metadata(ended.trailing)
            await context.abort(ended.code, ended.message)
            raise AssertionError("unreachable: context.abort raises") from err  # pragma: no cover
        self._count(method, "OK", time.perf_counter() - start)
        return answer

    async def principal_async(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any], scope: str
    ) -> Principal:
        """:meth:`principal_of`; a refusal ends the call, counted as ``method``."""
        return await self.run_async(method, context, lambda: self.principal_of(context, scope))

    def _count(self, method: str, status: str, seconds: float) -> None:
        if self._metrics is not None:
            self._metrics.requests.labels("grpc", method, status).inc()
            self._metrics.request_seconds.labels("grpc", method).observe(seconds)


def _secret(context: grpc.ServicerContext | grpc.aio.ServicerContext[Any, Any]) -> str:
    authorization = None
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            authorization = value if isinstance(value, str) else value.decode("latin-1")
            break
    return bearer_secret(authorization)


def _ending(method: str, err: Exception) -> EndCallError:
    """How an error raised by a call's body ends the call."""
    if isinstance(err, EndCallError):
        return err
    if isinstance(err, AtlasError):
        status = grpc.StatusCode[grpc_status_name(err)]
        trailing: tuple[tuple[str, str | bytes], ...] = ()
        if isinstance(err, OverloadedError):
            ms = str(retry_after_ms(err))
            trailing = (("retry-after-ms", ms), ("grpc-retry-pushback-ms", ms))
        return EndCallError(status, str(err), trailing)
    if isinstance(err, FutureTimeoutError):
        return EndCallError(grpc.StatusCode.DEADLINE_EXCEEDED, "commit: not confirmed in time")
    log.exception("grpc %s failed", method, exc_info=err)
    return EndCallError(grpc.StatusCode.INTERNAL, f"internal error ({type(err).__name__})")


def rejected_summary(
    response: pb.IngestResponse, where: str = f"trailing metadata {RESULT_METADATA}"
) -> str:
    """The status message when every event was rejected: the first few, by field; the
    rest are in ``where``."""
    shown = [f"{e.kind}[{e.index}].{e.field}: {e.reason}" for e in response.rejected[:5]]
    more = len(response.rejected) - len(shown)
    tail = f"; and {more} more (see {where})" if more > 0 else ""
    return f"every event was rejected: {'; '.join(shown)}{tail}"
