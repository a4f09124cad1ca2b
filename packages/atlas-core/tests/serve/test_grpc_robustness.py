"""The gRPC server under abuse: overload, oversize messages and garbage bytes on the port
never crash it nor lose events it accepted before; health reports SERVING."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).parent))
from grpc_fixtures import Served, bearer, interaction, open_served, serve_on

from atlas_core.config import ServeConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from open_served(tmp_path, ServeConfig(max_request_bytes=4096))


def _ingest(served: Served, n: int, output: str = "x") -> pb.IngestResponse:
    return served.ingest.Ingest(
        pb.IngestRequest(interactions=[interaction(output=output) for _ in range(n)]),
        metadata=bearer(served.keys.a_ingest),
        timeout=10,
    )


def test_health_is_serving(served: Served) -> None:
    stub = health_pb2_grpc.HealthStub(served.channel)
    for service in ("", "atlas.v1.Ingest", "atlas.v1.Reads"):
        answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_oversize_message_is_refused_by_grpc_and_the_server_still_serves(served: Served) -> None:
    assert _ingest(served, 1).accepted == 1
    big = pb.IngestRequest(interactions=[interaction(output="y" * 8192)])
    with pytest.raises(grpc.RpcError) as caught:
        served.ingest.Ingest(big, metadata=bearer(served.keys.a_ingest), timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _ingest(served, 2).accepted == 2
    assert served.store.interactions("tenant-a").height == 3


def _raw_send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(data)
            sock.settimeout(1.0)
            sock.recv(4096)  # whatever the server answers (GOAWAY, or it closes)
        except OSError:
            pass  # a reset is a fine answer to garbage


@pytest.mark.parametrize(
    "garbage",
    [
        os.urandom(4096),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(512),  # the preface, then noise
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",  # a bogus preface
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x00\x00\x04\x04\x00\x00\x00\x00\x00" * 100,  # frames without a preface
    ],
    ids=["random", "preface-then-noise", "bogus-preface", "http1", "frames"],
)
def test_garbage_on_the_port_leaves_the_server_serving(served: Served, garbage: bytes) -> None:
    before = _ingest(served, 3, output="before")
    threads = [threading.Thread(target=_raw_send, args=(served.port, garbage)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    after = _ingest(served, 2, output="after")
    assert (before.accepted, after.accepted) == (3, 2)
    outputs = served.store.interactions("tenant-a")["output"].to_list()
    assert sorted(outputs) == ["after"] * 2 + ["before"] * 3


def test_overload_answers_resource_exhausted_with_pushback(tmp_path: Path) -> None:
    config = ServeConfig(buffer_capacity=4, max_batch_events=100)
    for served in open_served(tmp_path, config):
        with pytest.raises(grpc.RpcError) as caught:
            _ingest(served, 10)  # more than the pipeline may hold at once
        err = caught.value
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailing = dict(err.trailing_metadata())
        assert int(trailing["retry-after-ms"]) >= 1
        assert trailing["grpc-retry-pushback-ms"] == trailing["retry-after-ms"]
        assert served.store.interactions("tenant-a").height == 0  # nothing of it was taken
        assert _ingest(served, 2).accepted == 2  # and smaller requests still go through


def test_health_watch_follows_the_pipeline(served: Served) -> None:
    stub = health_pb2_grpc.HealthStub(served.channel)
    stream = stub.Watch(health_pb2.HealthCheckRequest(service="atlas.v1.Ingest"), timeout=10)
    assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
    served.pipeline.close(timeout=5)  # the writer stops: not ready any more
    assert next(stream).status == health_pb2.HealthCheckResponse.NOT_SERVING
    stream.cancel()


_OPEN_CALLS_AT_EXIT = textwrap.dedent(
    """
    import sys, threading
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from atlas_core.auth import KeyVerifier
    from atlas_core.config import ServeConfig
    from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
    from atlas_core.serve._generated.atlas.v1 import ingest_pb2_grpc as pb_grpc
    from atlas_core.serve.grpc_service import create_grpc_server
    from atlas_core.serve.pipeline import IngestPipeline
    from atlas_core.store import open_store
    from atlas_core.types import ApiKey, Tenant

    store = open_store(sys.argv[1])
    store.put_tenant(Tenant(id="acme"))
    key, secret = ApiKey.issue("acme", ("ingest",))
    store.put_api_key(key)
    config = ServeConfig()
    pipeline = IngestPipeline(store, config)
    server, port = create_grpc_server(
        pipeline, store, KeyVerifier(store), None, config, port=0, host="127.0.0.1"
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    never = threading.Event()

    def messages():
        yield pb.IngestStreamMessage()
        never.wait()  # the client never finishes its stream

    stream = pb_grpc.IngestStub(channel).IngestStream.future(
        messages(), metadata=(("authorization", f"Bearer {secret}"),)
    )
    server.stop(0.5).wait(10)
    pipeline.close(5)
    print("stopped", flush=True)
    """
)


def test_calls_left_open_do_not_keep_a_stopped_server_process_alive(tmp_path: Path) -> None:
    # A handler that waits on its client (a health Watch, a stream that never ends) must
    # not hold a pool thread past the server's stop: the interpreter waits for those
    # threads at exit, so the process would never end.
    script = tmp_path / "server.py"
    script.write_text(_OPEN_CALLS_AT_EXIT)
    done = subprocess.run(
        [sys.executable, str(script), f"sqlite:///{tmp_path / 'a.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "stopped" in done.stdout


def _loop_threads() -> int:
    return sum(t.name == "atlas-grpc-loop" and t.is_alive() for t in threading.enumerate())


def test_a_taken_port_is_refused_by_name_and_leaves_no_server_running(served: Served) -> None:
    before = _loop_threads()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InvalidArgumentError, match=f"grpc_port: cannot bind 127.0.0.1:{port}"):
            serve_on(served.store, served.keys, ServeConfig(), port=port)
    assert _loop_threads() == before  # the failed server's loop thread has ended


def test_stopping_twice_is_harmless(served: Served) -> None:
    first = served.server.stop(1.0)
    assert first.wait(10)
    assert served.server.stop(1.0).wait(0)  # already stopped: set at once
    assert not served.server.wait_for_termination(timeout=0)
