"""kill -9 the gRPC server while the SDK streams through RemoteTransport; restart it on the
same port: every recorded event ends up stored exactly once (retries reuse the ids)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from atlas_core.sdk import Recorder
from atlas_core.store import open_store
from atlas_core.types import ApiKey, Tenant

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

_SERVER = textwrap.dedent(
    """
    import sys, time
    from atlas_core.auth import KeyVerifier
    from atlas_core.config import ServeConfig
    from atlas_core.serve.grpc_service import create_grpc_server
    from atlas_core.serve.metrics import ServeMetrics
    from atlas_core.serve.pipeline import IngestPipeline
    from atlas_core.store import open_store

    store = open_store(sys.argv[1])
    config = ServeConfig()
    metrics = ServeMetrics()
    pipeline = IngestPipeline(store, config, metrics)
    server, port = create_grpc_server(
        pipeline, store, KeyVerifier(store), metrics, config, port=int(sys.argv[2]),
        host="127.0.0.1",
    )
    print("ready", port, flush=True)
    while True:
        time.sleep(1)
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(url: str, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, url, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server is bound (or died)
    assert line.split() == ["ready", str(port)], line
    return proc


def test_kill_9_while_the_sdk_streams_stores_every_event_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with open_store(url) as store:
        store.put_tenant(Tenant(id="acme"))
        key, secret = ApiKey.issue("acme", ("ingest",))
        store.put_api_key(key)
    port = _free_port()
    server = _start(url, port)
    rec = Recorder.remote(
        f"grpc://127.0.0.1:{port}",
        secret,
        flush_interval=0.005,
        batch_size=50,
        retry_base=0.02,
        retry_max=0.3,
        max_retries=200,
    )
    recorded: list[uuid.UUID] = []
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            recorded.append(rec.record_interaction(input="q", output="a", learning_key="k"))
            if len(recorded) % 10 == 0:
                time.sleep(0.005)  # a steady stream (~2000 events/s), not one burst

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        time.sleep(0.6)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        time.sleep(0.3)  # events keep coming while nothing listens
        server = _start(url, port)
        time.sleep(0.4)
        stop.set()
        producer.join(10)
        assert rec.flush(60)
        stats = rec.transport.stats()
        assert stats.failed == 0
        assert stats.retries > 0  # the kill was felt
        assert stats.delivered == len(recorded)
    finally:
        stop.set()
        rec.close(5)
        server.kill()
        server.wait(10)
    with open_store(url) as store:
        stored = store.interactions("acme")["id"].to_list()
    assert len(stored) == len(set(stored))
    assert sorted(stored) == sorted(i.bytes for i in recorded)
    assert len(recorded) > 200
