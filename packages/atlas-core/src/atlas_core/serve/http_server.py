"""Runs the HTTP API on uvicorn in a background thread (for ``atlas serve`` and the tests).

The socket is bound here, before the server starts, so port 0 yields a free port that is
known at once (:meth:`HttpServer.start` returns it). uvicorn runs with httptools and
uvloop, no access log (the metrics count every request), and a bound on open
connections, so a flood of connections cannot grow memory without end (each one can hold
at most ``max_request_bytes`` of body).
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from atlas_core.errors import InvalidArgumentError

__all__ = ["HttpServer"]


class HttpServer:
    """One uvicorn server for ``app`` on ``host:port`` (0: a free port), in its own thread.

    ``limit_concurrency``: open connections plus in-flight requests beyond which new
    requests are answered 503 at once. ``grace_s``: on :meth:`stop`, how long in-flight
    requests may take to finish before they are cancelled.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limit_concurrency: int = 4096,
        grace_s: float = 10.0,
        log_level: str = "warning",
    ) -> None:
        if not 0 <= port <= 65535:
            raise InvalidArgumentError(f"port: must be in 0..65535, got {port}")
        if limit_concurrency < 1:
            raise InvalidArgumentError(f"limit_concurrency: must be >= 1, got {limit_concurrency}")
        self._host = host
        self._port = port
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http="httptools",
            loop="uvloop",
            lifespan="off",
            access_log=False,
            log_level=log_level,
            limit_concurrency=limit_concurrency,
            timeout_graceful_shutdown=max(1, round(grace_s)),
            server_header=False,
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        """The bound port once started."""

    def start(self, timeout: float = 10.0) -> int:
        """Binds, starts serving in a daemon thread, and returns the bound port."""
        if self._thread is not None:
            raise InvalidArgumentError("HttpServer: already started")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        self.port = int(sock.getsockname()[1])
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="atlas-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the HTTP server failed to start (see the log)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the HTTP server did not start within {timeout} s")
            time.sleep(0.005)
        return self.port

    def stop(self, timeout: float = 15.0) -> bool:
        """Stops accepting, lets in-flight requests finish (up to the grace), joins the
        thread. True when it stopped within ``timeout``. Idempotent."""
        if self._thread is None:
            return True
        self._server.should_exit = True
        self._thread.join(timeout)
        return not self._thread.is_alive()
