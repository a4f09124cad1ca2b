"""grpcio's asyncio server on an event-loop thread of its own, behind a small sync API.

Why asyncio: an ``IngestAppend`` stream on grpcio's threaded server costs two threads
(one reads, one answers) and a thread hand-off per message each way, and a unary call
holds a thread until its commit; with 8 streams per worker the threads of a worker spent
about a quarter of the machine's CPU in the handlers and the kernel's scheduler. On this
loop every ``IngestAppend`` stream and ``IngestColumns`` call is a coroutine: measured
with ``atlas bench ingest`` (2 workers, 24 batches of 100 in flight over 8 streams,
interleaved fresh servers), 1.5-2.8 µs less server CPU per event and 9-13% more events/s
for the streams.

Handlers that are plain functions (reads, ``Ingest``) run on a thread pool, as on the
threaded server (grpcio's ``migration_thread_pool``): they block, which must not stall
the loop. A plain handler that waits on its client (a stream, a health Watch) would hold
its thread past the server's stop, and the interpreter waits for pool threads at exit:
those handlers are coroutines.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import grpc

__all__ = ["GrpcServer"]

T = TypeVar("T")


class GrpcServer:
    """A started ``grpc.aio`` server; the API of ``grpc.Server`` that the service uses."""

    def __init__(
        self,
        *,
        handlers: Sequence[grpc.GenericRpcHandler],
        add_services: Callable[[grpc.aio.Server], None],
        address: str,
        options: Sequence[tuple[str, Any]],
        max_workers: int,
        max_concurrent_rpcs: int | None,
        interceptors: Sequence[grpc.aio.ServerInterceptor],
    ) -> None:
        """Binds ``address`` and starts serving; raises RuntimeError when it cannot bind
        (``port`` is the bound port then)."""
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="atlas-grpc")
        self._loop = asyncio.new_event_loop()
        self._stopped = threading.Event()
        self._stopping = threading.Lock()
        self._stop_requested = False
        self._thread = threading.Thread(target=self._run, name="atlas-grpc-loop", daemon=True)
        self._thread.start()

        async def start() -> tuple[grpc.aio.Server, int]:
            # Created on the loop's thread: grpc.aio objects belong to the loop they were
            # made on.
            server = grpc.aio.server(
                migration_thread_pool=self._pool,
                handlers=list(handlers),
                interceptors=list(interceptors),
                options=list(options),
                maximum_concurrent_rpcs=max_concurrent_rpcs,
            )
            add_services(server)
            port = server.add_insecure_port(address)
            if port:
                await server.start()
            return server, port

        try:
            self._server, self.port = asyncio.run_coroutine_threadsafe(start(), self._loop).result()
        except BaseException:
            self._end_loop()
            self._thread.join()
            raise
        if not self.port:
            self._end_loop()
            self._thread.join()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()
            self._stopped.set()

    def _end_loop(self) -> None:
        """Stops the loop (its thread then closes it and sets ``_stopped``) and the pool."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._pool.shutdown(wait=False)

    def call(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Runs ``coroutine`` on the server's loop, from another thread."""
        if self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("the gRPC server has stopped")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def stop(self, grace: float | None) -> threading.Event:
        """Stops taking calls; calls in flight get ``grace`` seconds (None: none) before
        they are cancelled. The event is set once the server and its loop have stopped."""
        with self._stopping:
            if not self._stop_requested and not self._stopped.is_set():
                self._stop_requested = True
                stopping = asyncio.run_coroutine_threadsafe(self._server.stop(grace), self._loop)
                stopping.add_done_callback(lambda _: self._end_loop())
        return self._stopped

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Like ``grpc.Server.wait_for_termination``: True when ``timeout`` passed first."""
        return not self._stopped.wait(timeout)
