"""The remote transport against a real ``atlas serve`` gRPC server: end to end, retries with
the same ids across a restart and a lost answer, pushback, size splitting, permanent errors."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))
from grpc_fixtures import Keys, Served, issue_keys, serve_on

import atlas_core.sdk as sdk
from atlas_core.config import ServeConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.sdk import Recorder, RemoteTransport
from atlas_core.sdk.recorder import parse_grpc_target
from atlas_core.store import Store, open_store

CONFIG = ServeConfig()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    yield opened
    opened.close()


@pytest.fixture
def keys(store: Store) -> Keys:
    return issue_keys(store)


@pytest.fixture
def served(store: Store, keys: Keys) -> Iterator[Served]:
    running = serve_on(store, keys, CONFIG)
    yield running
    running.stop()


def _remote(port: int, secret: str, **options: Any) -> Recorder:
    options.setdefault("flush_interval", 0.005)
    options.setdefault("retry_base", 0.01)
    options.setdefault("retry_max", 0.2)
    return Recorder.remote(f"grpc://127.0.0.1:{port}", secret, **options)


def _record(rec: Recorder, n: int, output: str = "a") -> list[uuid.UUID]:
    return [
        rec.record_interaction(input=f"q{i}", output=output, learning_key="k") for i in range(n)
    ]


def _stored_ids(store: Store, tenant: str = "tenant-a") -> list[bytes]:
    return list(store.interactions(tenant)["id"].to_list())


def test_wrap_and_rate_end_to_end(served: Served) -> None:
    rec = _remote(served.port, served.keys.a_ingest)

    @sdk.wrap(learning_key="support", model_version="m1", recorder=rec)
    def agent(question: str) -> str:
        return question.upper()

    assert agent("hello") == "HELLO"
    interaction_id = sdk.last_interaction_id()
    assert interaction_id is not None
    rec.rate(interaction_id, 5)
    rec.signal(interaction_id, "copy")
    assert rec.flush(10)
    assert rec.close(10)

    stats = rec.transport.stats()
    assert (stats.delivered, stats.failed, stats.pending) == (3, 0, 0)
    rows = served.store.interactions("tenant-a")
    assert rows["id"].to_list() == [interaction_id.bytes]
    assert rows["output"].to_list() == ["HELLO"]
    assert rows["model_version"].to_list() == ["m1"]
    feedback = served.store.feedback("tenant-a").sort("kind")
    assert feedback["kind"].to_list() == ["rating", "signal"]
    assert feedback["value"].to_list() == [5.0, 1.0]


def test_retry_after_the_server_restarts_on_the_same_port(store: Store, keys: Keys) -> None:
    first = serve_on(store, keys, CONFIG)
    port = first.port
    rec = _remote(port, keys.a_ingest, retry_max=0.3, max_retries=50)
    before = _record(rec, 20)
    assert rec.flush(10)
    first.stop()

    during = _record(rec, 30)  # the server is down: these wait in the buffer and retry
    time.sleep(0.5)
    assert rec.transport.stats().pending == 30
    second = serve_on(store, keys, CONFIG, port=port)
    try:
        assert rec.flush(20)
        stats = rec.transport.stats()
        assert stats.retries > 0
        assert (stats.delivered, stats.failed) == (50, 0)
        stored = _stored_ids(store)
        assert sorted(stored) == sorted(i.bytes for i in before + during)  # each exactly once
    finally:
        rec.close(5)
        second.stop()


class _LoseFirstAnswers(grpc.aio.ServerInterceptor):
    """Lets IngestColumns commit, then answers UNAVAILABLE for the first ``n`` calls, as if
    the connection dropped after the commit: the client's retry must not duplicate."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.calls = 0
        self.lock = threading.Lock()

    async def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(details)
        if not details.method.endswith("/IngestColumns"):
            return handler

        async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            response = await handler.unary_unary(request, context)
            with self.lock:
                self.calls += 1
                lose = self.left > 0
                self.left -= lose
            if lose:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "connection lost after commit")
            return response

        return grpc.unary_unary_rpc_method_handler(
            behavior, handler.request_deserializer, handler.response_serializer
        )


def test_a_lost_answer_is_retried_with_the_same_ids_and_stored_once(
    store: Store, keys: Keys
) -> None:
    lose = _LoseFirstAnswers(2)
    served = serve_on(store, keys, CONFIG, interceptors=[lose])
    rec = _remote(served.port, keys.a_ingest, batch_size=1_000)
    try:
        ids = _record(rec, 40)
        assert rec.flush(10)
        stats = rec.transport.stats()
        assert lose.calls >= 3
        assert stats.retries >= 2
        assert (stats.delivered, stats.failed) == (40, 0)
        assert stats.duplicates == 40  # the retries found every id already stored
        assert sorted(_stored_ids(store)) == sorted(i.bytes for i in ids)
    finally:
        rec.close(5)
        served.stop()


class _PushBackFirst(grpc.aio.ServerInterceptor):
    """Answers RESOURCE_EXHAUSTED with a ``retry-after-ms`` hint to the first call."""

    def __init__(self, retry_after_ms: int) -> None:
        self.retry_after_ms = retry_after_ms
        self.times: list[float] = []

    async def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(details)
        if not details.method.endswith("/IngestColumns"):
            return handler

        async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            self.times.append(time.monotonic())
            if len(self.times) == 1:
                hint = str(self.retry_after_ms)
                context.set_trailing_metadata((("retry-after-ms", hint),))
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "buffer: full")
            return await handler.unary_unary(request, context)

        return grpc.unary_unary_rpc_method_handler(
            behavior, handler.request_deserializer, handler.response_serializer
        )


def test_overload_pushback_is_honoured(store: Store, keys: Keys) -> None:
    push = _PushBackFirst(400)
    served = serve_on(store, keys, CONFIG, interceptors=[push])
    rec = _remote(served.port, keys.a_ingest, retry_base=0.001)
    try:
        _record(rec, 5)
        assert rec.flush(10)
        assert len(push.times) == 2
        assert push.times[1] - push.times[0] >= 0.4  # not the 1 ms back-off
        assert rec.transport.stats().delivered == 5
    finally:
        rec.close(5)
        served.stop()


@pytest.mark.parametrize("client_limit", [4 * 1024 * 1024, 4096], ids=["server", "client"])
def test_a_batch_above_the_size_limit_is_split(store: Store, keys: Keys, client_limit: int) -> None:
    served = serve_on(store, keys, ServeConfig(max_request_bytes=4096))
    rec = _remote(
        served.port,
        keys.a_ingest,
        batch_size=200,
        flush_interval=0.2,
        max_message_bytes=client_limit,
    )
    try:
        ids = _record(rec, 40, output="x" * 150)  # ~10 KB in one batch
        assert rec.flush(20)
        stats = rec.transport.stats()
        assert (stats.delivered, stats.failed, stats.retries) == (40, 0, 0)
        assert sorted(_stored_ids(store)) == sorted(i.bytes for i in ids)
    finally:
        rec.close(5)
        served.stop()


@pytest.mark.parametrize("secret_of", ["revoked", "a_read", "garbage"])
def test_permanent_auth_errors_count_as_failed(served: Served, secret_of: str) -> None:
    secret = "atlas_garbage" if secret_of == "garbage" else getattr(served.keys, secret_of)
    rec = _remote(served.port, secret)
    _record(rec, 7)
    assert rec.flush(10)  # settled: given up on, not retried forever
    stats = rec.transport.stats()
    assert (stats.delivered, stats.failed, stats.retries) == (0, 7, 0)
    assert served.store.interactions("tenant-a").height == 0
    rec.close(5)


def test_events_the_server_rejects_count_as_failed(served: Served) -> None:
    rec = _remote(served.port, served.keys.a_ingest)
    kept = _record(rec, 3)
    rec.rate(uuid.uuid4(), 4)  # no such interaction in the tenant
    assert rec.flush(10)
    stats = rec.transport.stats()
    assert (stats.delivered, stats.failed) == (3, 1)
    assert sorted(_stored_ids(served.store)) == sorted(i.bytes for i in kept)
    rec.close(5)


def test_configure_with_a_grpc_url_and_the_env_key(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATLAS_API_KEY", served.keys.a_ingest)
    rec = sdk.configure(f"grpc://127.0.0.1:{served.port}", flush_interval=0.005)
    try:
        assert isinstance(rec.transport, RemoteTransport)
        sdk.rate(sdk.get_recorder().record_interaction(input="q", output="a"), 3)
        assert sdk.flush(10)
        assert served.store.feedback("tenant-a")["value"].to_list() == [3.0]
    finally:
        sdk.reset_default()


def test_remote_without_a_key_names_the_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATLAS_API_KEY", raising=False)
    with pytest.raises(InvalidArgumentError, match="api_key"):
        Recorder.remote("grpc://127.0.0.1:1")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("grpc://h:1", ("h:1", False)),
        ("grpcs://h.example:443/", ("h.example:443", True)),
        ("127.0.0.1:50051", ("127.0.0.1:50051", False)),
        ("[::1]:50051", ("[::1]:50051", False)),
    ],
)
def test_grpc_targets(target: str, expected: tuple[str, bool]) -> None:
    assert parse_grpc_target(target) == expected


@pytest.mark.parametrize("target", ["http://h:1", "grpc://h", "grpc://:1", "grpc://h:port"])
def test_bad_grpc_targets_name_the_argument(target: str) -> None:
    with pytest.raises(InvalidArgumentError, match="target"):
        parse_grpc_target(target)


def test_close_gives_up_in_time_when_no_server_answers() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rec = _remote(port, "atlas_unused", retry_max=5.0, max_retries=100)
    _record(rec, 4)
    started = time.monotonic()
    assert rec.close(0.5) is False
    assert time.monotonic() - started < 5.0
    stats = rec.transport.stats()
    assert stats.delivered == 0
    assert stats.retries >= 1


def test_events_are_flushed_at_interpreter_exit(served: Served) -> None:
    code = textwrap.dedent(
        f"""
        from atlas_core.sdk import Recorder
        rec = Recorder.remote("grpc://127.0.0.1:{served.port}", {served.keys.a_ingest!r},
                              flush_interval=5.0)
        for i in range(25):
            rec.record_interaction(input="q", output=f"a{{i}}")
        # no flush, no close: the atexit hook must ship them
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert served.store.interactions("tenant-a").height == 25
