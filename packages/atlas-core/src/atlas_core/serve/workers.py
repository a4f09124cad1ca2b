"""``atlas serve --workers N``: N serving processes sharing both ports.

Python runs one thread at a time per process, and one ``atlas serve`` process saturates
that (its request threads and its pipeline share it) well before a machine's cores. So
the supervisor starts N worker processes that bind the same gRPC and HTTP ports with
SO_REUSEPORT (the kernel spreads connections over them); each has its own pipeline and
writes to the same store (SQLite serialises the commits of all workers; PostgreSQL
takes them side by side).

- Ports are fixed before the workers start (a port 0 becomes a free port), so all bind
  the same ones. Each worker allows ``rate_limit_events_per_s / N`` per key (a key's
  connections spread over the workers).
- ``/metrics`` adds up every worker (prometheus-client's multiprocess mode, in a
  directory the supervisor owns), whichever worker answers the scrape.
- SIGTERM/SIGINT to the supervisor is passed to every worker, each drains; the exit
  status is non-zero if any did not. A worker that dies is restarted.
- The workers die with the supervisor (``PR_SET_PDEATHSIG``), so a kill -9 of the
  supervisor leaves no process holding the ports.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

from atlas_core.serve.server import run_server, wait_for_signals

if TYPE_CHECKING:
    from atlas_core.config import AtlasConfig

__all__ = ["METRICS_DIR_ENV", "supervise"]

log = logging.getLogger("atlas_core.serve")

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Set for the workers: prometheus-client keeps their metric values in files there."""

_PR_SET_PDEATHSIG = 1
_RESTART_PAUSE_S = 1.0


def supervise(config: AtlasConfig) -> int:
    """Starts ``config.serve.workers`` workers and supervises them until SIGTERM/SIGINT."""
    serve = config.serve
    n = serve.workers
    ports = {
        "grpc_port": serve.grpc_port or _free_port(serve.host),
        "http_port": serve.http_port or _free_port(serve.host),
    }
    worker_serve = serve.model_copy(
        update={**ports, "workers": 1, "rate_limit_events_per_s": serve.rate_limit_events_per_s / n}
    )
    worker_config = config.model_copy(update={"serve": worker_serve})
    metrics_dir = tempfile.mkdtemp(prefix="atlas-serve-metrics-")
    os.environ[METRICS_DIR_ENV] = metrics_dir  # inherited by the spawned workers
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked threads
    workers: list[Any] = []
    try:
        workers = [_start(context, worker_config, i) for i in range(n)]

        def all_alive() -> bool:
            for i, worker in enumerate(workers):
                if not worker.is_alive():
                    log.error("atlas serve: worker %d exited (%s); restarting", i, worker.exitcode)
                    _forget_worker(worker.pid)
                    time.sleep(_RESTART_PAUSE_S)
                    workers[i] = _start(context, worker_config, i)
            return True

        wait_for_signals(
            f"atlas serve: {n} workers  gRPC {serve.host}:{ports['grpc_port']}  "
            f"HTTP http://{serve.host}:{ports['http_port']}  store {config.store.url}",
            poll=all_alive,
        )
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)
        status = 0
        for worker in workers:
            worker.join(serve.shutdown_grace_s + 10)
            if worker.is_alive():
                worker.kill()
                status = 1
            elif worker.exitcode != 0:
                status = 1
        print(f"atlas serve: stopped ({'drained' if status == 0 else 'NOT drained'})", flush=True)
        return status
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _start(context: Any, config: AtlasConfig, index: int) -> Any:
    worker = context.Process(
        target=_worker_main,
        args=(config, os.getpid()),
        name=f"atlas-serve-worker-{index}",
        daemon=False,
    )
    worker.start()
    return worker


def _worker_main(config: AtlasConfig, supervisor: int) -> None:
    """A worker: dies with the supervisor, serves the shared ports until SIGTERM."""
    _die_with_parent()
    if os.getppid() != supervisor:  # the supervisor died before the line above took effect
        sys.exit(1)
    code = run_server(config, reuse_port=True, banner=False)
    sys.exit(code)


def _die_with_parent() -> None:
    if sys.platform != "linux":  # pragma: no cover - SO_REUSEPORT workers need Linux anyway
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _forget_worker(pid: int | None) -> None:
    """Drops a dead worker's live gauges from the shared metrics."""
    if pid is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
