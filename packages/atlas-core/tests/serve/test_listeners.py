"""listening_sockets counts the sockets listening on a port, as the kernel reports them."""

from __future__ import annotations

import socket
import sys

import pytest

from atlas_core.serve.listeners import listening_sockets

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/net/tcp")


def _listener(port: int = 0) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def test_counts_every_socket_sharing_a_port_and_only_listening_ones() -> None:
    first = _listener()
    port = first.getsockname()[1]
    assert listening_sockets(port) == 1
    second = _listener(port)
    client = socket.create_connection(("127.0.0.1", port))  # a connected socket: not counted
    assert listening_sockets(port) == 2
    client.close()
    second.close()
    first.close()
    assert listening_sockets(port) == 0
