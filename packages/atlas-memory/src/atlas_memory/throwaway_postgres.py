"""A throwaway PostgreSQL server from the system binaries, for tests and benchmarks.

``initdb`` refuses to run as root, so when the current user is root the server runs
as the ``postgres`` system user (created by Debian's ``postgresql`` package) through
``runuser``. Everything lives in one temporary directory that is removed on stop.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresUnavailableError", "ThrowawayPostgres", "find_bin_dir"]


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries here (or no user to run them as)."""


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with ``pg_ctl``, or one on PATH, or None."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """Starts a private server on a free localhost port; ``url`` connects as superuser ``atlas``."""

    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise PostgresUnavailableError(
                "PostgreSQL server binaries not found (apt-get install postgresql)"
            )
        self._bin = bin_dir
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailableError(
                    "running as root and there is no 'postgres' user"
                ) from exc
            self._prefix = ["runuser", "-u", "postgres", "--"]
        self._root = Path(tempfile.mkdtemp(prefix="atlas-pg-"))
        self.port = _free_port()
        self.url = f"postgresql://atlas@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._prefix, *args], capture_output=True, text=True, check=False, timeout=120
        )
        if result.returncode != 0:
            raise PostgresUnavailableError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{result.stderr.strip()[-2000:]}"
            )

    def start(self) -> ThrowawayPostgres:
        """initdb + pg_ctl start; returns self once the server accepts connections."""
        if self._prefix:
            os.chown(self._root, self._owner.pw_uid, self._owner.pw_gid)
        data = self._root / "data"
        self._run(
            str(self._bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "atlas",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            str(self._bin / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(self._root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def stop(self) -> None:
        """Stops the server (fast shutdown) and removes its files."""
        data = self._root / "data"
        if (data / "postmaster.pid").exists():
            # Already gone is fine: removing the files is all that is left.
            with contextlib.suppress(PostgresUnavailableError):
                self._run(
                    str(self._bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"
                )
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
