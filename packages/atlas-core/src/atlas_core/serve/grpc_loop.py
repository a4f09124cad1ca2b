"""A ``grpc.aio`` server on an event loop thread of its own, driven from synchronous code.

``atlas serve`` runs HTTP on uvicorn's thread and waits for signals on the main thread; the
gRPC server gets its own thread and event loop. Its handlers are coroutines on that loop,
so a call costs no hand-off to a pool thread: the pipeline's writer thread resolves the
call's waiter with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

__all__ = ["LoopServer"]

log = logging.getLogger("atlas_core.serve")


class LoopServer:
    """A started ``grpc.aio.Server`` on its own loop thread; stop it with :meth:`stop`.

    ``setup`` runs on the new loop: it builds, binds and starts the server and returns it
    with the bound port (an error it raises is raised by the constructor). ``background``
    coroutines (e.g. a health refresher) run on the loop until the server stops;
    ``on_stopped`` runs on the loop thread once it has (e.g. to free a thread pool).
    """

    def __init__(
        self,
        setup: Callable[[], Awaitable[tuple[grpc.aio.Server, int]]],
        *,
        background: tuple[Callable[[], Awaitable[None]], ...] = (),
        on_stopped: Callable[[], None] | None = None,
        name: str = "atlas-grpc",
    ) -> None:
        self.loop = _new_loop()
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._stopping = False
        started = threading.Event()
        outcome: dict[str, Any] = {}

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                outcome["server"] = self.loop.run_until_complete(setup())
            except BaseException as err:  # handed to the constructor's thread
                outcome["error"] = err
                started.set()
                self.loop.close()
                self._stopped.set()
                return
            tasks = [self.loop.create_task(_logged(b)) for b in background]
            started.set()
            try:
                self.loop.run_forever()
            finally:
                for task in tasks:
                    task.cancel()
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                self.loop.close()
                if on_stopped is not None:
                    on_stopped()
                self._stopped.set()

        self._thread = threading.Thread(target=main, name=name, daemon=True)
        self._thread.start()
        started.wait()
        if "error" in outcome:
            raise outcome["error"]
        self.server: grpc.aio.Server = outcome["server"][0]
        self.port: int = outcome["server"][1]

    def stop(self, grace: float | None) -> threading.Event:
        """Stops taking calls, lets those in flight finish for ``grace`` seconds (then
        cancels them) and ends the loop; the event is set once all of that is done.
        Idempotent."""
        with self._stop_lock:
            if not self._stopping and not self._stopped.is_set():
                self._stopping = True

                async def shut() -> None:
                    try:
                        await self.server.stop(grace)
                    finally:
                        self.loop.stop()

                asyncio.run_coroutine_threadsafe(shut(), self.loop)
        return self._stopped

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Blocks until the server has stopped; False on timeout."""
        return self._stopped.wait(timeout)


async def _logged(work: Callable[[], Awaitable[None]]) -> None:
    try:
        await work()
    except asyncio.CancelledError:
        raise
    except Exception:  # a failing background job must not end silently
        log.exception("atlas serve: gRPC background job failed")


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (it ships with ``uvicorn[standard]`` on Linux and macOS): the
    loop's own work per call is a large part of a small call's cost, and uvloop's is C."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - e.g. Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
