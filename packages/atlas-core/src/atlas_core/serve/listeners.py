"""How many sockets listen on a TCP port, from ``/proc/net/tcp{,6}`` (Linux).

``atlas serve --workers N`` has N processes each listening on the same ports
(SO_REUSEPORT), and each ``/readyz`` is answered by whichever worker is up first. A
client that connects before every worker listens sends all its connections to the ones
that do, for good (the kernel spreads connections at accept time): a benchmark started
that way measures fewer workers than it asked for. Waiting until N sockets listen on
both ports avoids that.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["listening_sockets"]

_LISTEN = "0A"  # TCP_LISTEN in the kernel's state column


def listening_sockets(port: int) -> int | None:
    """Sockets in LISTEN state on ``port`` (any address, IPv4 and IPv6); None where
    ``/proc/net/tcp`` is not there (not Linux)."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    wanted = f"{port:04X}"
    count = 0
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == _LISTEN and fields[1].rsplit(":", 1)[1] == wanted:
                count += 1
    return count
