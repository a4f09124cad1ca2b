"""``atlas serve`` as a child process on fixed ports: for ``atlas bench ingest`` and the
reliability tests (a restart after kill -9 must come back on the same ports)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from atlas_core.serve.listeners import listening_sockets

__all__ = ["ServerProcess", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class ServerProcess:
    """One ``atlas serve`` child: :meth:`start`, then :meth:`kill` / :meth:`terminate`."""

    def __init__(self, store_url: str, home: Path, *extra_args: str) -> None:
        self.store_url = store_url
        self.home = home
        self.extra_args = extra_args
        args = list(extra_args)
        self.workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def start(self, timeout: float = 60.0) -> None:
        """Starts the server and waits until ``/readyz`` answers 200 and, with
        ``--workers N``, every worker listens on both ports (see
        :mod:`atlas_core.serve.listeners`)."""
        env = {**os.environ, "ATLAS_HOME": str(self.home)}
        env.pop("ATLAS_CONFIG", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from atlas_core.cli import main; main()",
                "serve",
                "--store-url",
                self.store_url,
                "--grpc-port",
                str(self.grpc_port),
                "--http-port",
                str(self.http_port),
                *self.extra_args,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(self.url("/readyz"), timeout=1).status_code == 200
                if ready and self._all_workers_listen():
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                out = self.proc.stdout.read() if self.proc.stdout else ""
                raise RuntimeError(f"atlas serve exited with {self.proc.returncode}: {out}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"atlas serve was not ready within {timeout}s")

    def _all_workers_listen(self) -> bool:
        counts = [listening_sockets(p) for p in (self.grpc_port, self.http_port)]
        return all(c is None or c >= self.workers for c in counts)

    def kill(self) -> None:
        """SIGKILL: no chance to drain."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def terminate(self, timeout: float = 60.0) -> tuple[int, str]:
        """SIGTERM, then waits: (exit status, everything it printed)."""
        assert self.proc is not None, "not started"
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out

    def stop(self) -> None:
        """Kills it if it still runs (cleanup)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
