"""One ``atlas serve`` process: the gRPC server and the HTTP server over one ingest pipeline.

gRPC runs on grpcio's thread pool; HTTP on uvicorn in its own thread (its event loop);
both hand events to the same :class:`~atlas_core.serve.pipeline.IngestPipeline`, whose one
writer group-commits to the store.

Shutdown (SIGTERM or SIGINT, or :meth:`AtlasServer.stop`) is graceful: readiness turns
false at once, both servers stop taking new requests and finish the ones in flight (each
waits for its commit), the pipeline commits everything it accepted, and only then is the
store closed — all within ``serve.shutdown_grace_s``.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from atlas_core.auth import FeedbackTokens, KeyVerifier
from atlas_core.monitoring import DashboardLinks, MonitoringView, StoreCollector, dashboard_router
from atlas_core.serve.grpc_server import GrpcServer
from atlas_core.serve.grpc_service import create_grpc_server
from atlas_core.serve.http_app import create_app
from atlas_core.serve.metrics import ServeMetrics
from atlas_core.serve.pipeline import IngestPipeline
from atlas_core.store import open_store

if TYPE_CHECKING:
    from atlas_core.config import AtlasConfig
    from atlas_core.store import Store

__all__ = ["AtlasServer", "run_server", "serve_forever", "wait_for_signals"]

log = logging.getLogger("atlas_core.serve")

_GIL_SWITCH_INTERVAL_S = 0.001


class AtlasServer:
    """Both servers and the pipeline, started by :meth:`start` and stopped by :meth:`stop`.

    ``store``: serve this store (not closed on stop); by default the one ``config.store.url``
    names is opened (and closed on stop).
    """

    def __init__(self, config: AtlasConfig, store: Store | None = None) -> None:
        self.config = config
        self._owns_store = store is None
        self.store = store if store is not None else open_store(config.store.url)
        self.metrics = ServeMetrics()
        self.pipeline = IngestPipeline(self.store, config.serve, self.metrics)
        self.verifier = KeyVerifier.from_config(self.store, config)
        self.tokens = FeedbackTokens.from_config(config)
        # Monitoring: store-derived series on /metrics and the dashboard (one view, cached).
        self.monitoring = MonitoringView(self.store, config.monitoring)
        self.metrics.add_collector(StoreCollector(self.monitoring, self._monitored_tenants))
        self.dashboard_links = DashboardLinks.from_config(config)
        self.grpc_port = 0
        self.http_port = 0
        self._grpc: GrpcServer | None = None
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()

    def start(self, *, reuse_port: bool = False) -> None:
        """Binds both ports (0: a free one; see ``grpc_port``/``http_port``) and serves.
        ``reuse_port``: share them with the other workers (SO_REUSEPORT)."""
        serve = self.config.serve
        self._grpc, self.grpc_port = create_grpc_server(
            self.pipeline,
            self.store,
            self.verifier,
            self.metrics,
            serve,
            port=serve.grpc_port,
            max_workers=serve.grpc_workers,
            reuse_port=reuse_port,
        )
        monitoring = self.config.monitoring
        dashboard = dashboard_router(
            self.monitoring,
            self.verifier,
            self.dashboard_links,
            poll_interval_s=monitoring.poll_interval_s,
        )
        app = create_app(
            self.pipeline,
            self.store,
            self.verifier,
            self.tokens,
            self.metrics,
            serve,
            extra_routers=[dashboard] if monitoring.dashboard else [],
        )
        sock = socket.socket(socket.AF_INET6 if ":" in serve.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((serve.host, serve.http_port))
        sock.listen(2048)
        self.http_port = sock.getsockname()[1]
        http = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=max(1, int(serve.shutdown_grace_s)),
                limit_concurrency=4096,
                backlog=2048,
            )
        )
        self._http = http
        # Not the main thread: uvicorn leaves signal handling to us.
        self._http_thread = threading.Thread(
            target=http.run, kwargs={"sockets": [sock]}, name="atlas-serve-http", daemon=True
        )
        self._http_thread.start()
        deadline = time.monotonic() + 10
        while not http.started and self._http_thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start within 10 s")
            time.sleep(0.01)
        log.info(
            "atlas serve: gRPC on %s:%d, HTTP on %s:%d, store %s",
            serve.host,
            self.grpc_port,
            serve.host,
            self.http_port,
            self.store.url,
        )

    def _monitored_tenants(self) -> list[str]:
        chosen = self.config.monitoring.metrics_tenants
        return list(chosen) if chosen else sorted(t.id for t in self.store.tenants())

    def stop(self, grace: float | None = None) -> bool:
        """Graceful stop (see the module docstring); True when every accepted event was
        committed. Idempotent."""
        with self._stop_lock:
            if self._stopped.is_set():
                return True
            grace = self.config.serve.shutdown_grace_s if grace is None else grace
            deadline = time.monotonic() + grace
            # The pipeline first: it refuses new events at once (readiness turns false) and
            # commits what it took, which resolves every in-flight request; then the servers
            # stop with nothing left to wait for.
            drained = self.pipeline.close(grace)
            left = max(0.5, deadline - time.monotonic())
            if self._grpc is not None:
                self._grpc.stop(left).wait(left)
            if self._http is not None and self._http_thread is not None:
                self._http.should_exit = True
                self._http_thread.join(left)
            if self._owns_store:
                self.store.close()
            self._stopped.set()
            return drained

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the server has stopped; False on timeout."""
        return self._stopped.wait(timeout)


def serve_forever(config: AtlasConfig) -> int:
    """Runs ``atlas serve`` in the foreground until SIGTERM/SIGINT; the exit status.

    With ``serve.workers`` > 1 this process supervises that many worker processes (see
    :mod:`atlas_core.serve.workers`); otherwise it serves itself.
    """
    if config.serve.workers > 1:
        from atlas_core.serve.workers import supervise

        return supervise(config)
    return run_server(config)


def run_server(config: AtlasConfig, *, reuse_port: bool = False, banner: bool = True) -> int:
    """One serving process until SIGTERM/SIGINT: starts, waits, drains; the exit status."""
    server = AtlasServer(config)
    server.start(reuse_port=reuse_port)
    # Everything built so far lives as long as the process: keep it out of the collector's
    # scans, and collect the young generation less often (a request allocates many small,
    # short-lived objects and few cycles), so collections do not stall in-flight requests.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    # A thread coming back from native code (the store writer after each SQLite call, a
    # handler woken by its commit) waits for the GIL until the holder is made to drop it:
    # 5 ms by default, several times per commit. 1 ms measured ~15-20% more gRPC ingest
    # with two workers (interleaved `atlas bench ingest` runs); shorter bought nothing more.
    sys.setswitchinterval(_GIL_SWITCH_INTERVAL_S)
    signals = wait_for_signals(
        f"atlas serve: gRPC {config.serve.host}:{server.grpc_port}  "
        f"HTTP http://{config.serve.host}:{server.http_port}  store {server.store.url}"
        if banner
        else None
    )
    log.info("atlas serve: %s received, draining", signal.Signals(signals[0]).name)
    drained = server.stop()
    print(f"atlas serve: stopped ({'drained' if drained else 'NOT drained'})", flush=True)
    return 0 if drained else 1


def wait_for_signals(
    banner: str | None = None, poll: Callable[[], bool] | None = None
) -> list[int]:
    """Installs SIGTERM/SIGINT handlers, prints ``banner``, and blocks until a signal
    came (or ``poll`` returned False); the signals received."""
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Only a list append: a handler runs between two bytecodes of the main thread, so
        # taking a lock here (Event.set) can deadlock with the main thread holding it.
        signals.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if banner:
        print(banner, flush=True)
    while not signals:
        time.sleep(0.2)
        if poll is not None and not poll():
            signals.append(signal.SIGTERM)
    return signals
