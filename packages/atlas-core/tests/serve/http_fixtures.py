"""Shared set-up of the HTTP API tests: a real SQLite store, real keys, the real pipeline,
and the app served by uvicorn on 127.0.0.1 port 0 in a thread.

Tenants ``acme`` and ``globex``; keys per tenant: ``ingest``, ``read``, ``admin``. The
feedback-token clock is a :class:`Clock` the tests move.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from atlas_core.auth import FeedbackTokens, KeyVerifier
from atlas_core.config import ServeConfig
from atlas_core.serve.http_app import create_app
from atlas_core.serve.http_server import HttpServer
from atlas_core.serve.metrics import ServeMetrics
from atlas_core.serve.pipeline import IngestPipeline
from atlas_core.store import Store, open_store
from atlas_core.types import ApiKey, Tenant

TENANTS = ("acme", "globex")
SCOPES = ("ingest", "read", "admin")


class Clock:
    """Unix seconds that a test moves by hand (for token expiry)."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """A running HTTP API and what it runs on."""

    url: str
    port: int
    store: Store
    pipeline: IngestPipeline
    metrics: ServeMetrics
    tokens: FeedbackTokens
    verifier: KeyVerifier
    clock: Clock
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    keys: dict[tuple[str, str], ApiKey] = field(default_factory=dict)

    def auth(self, tenant: str, scope: str) -> dict[str, str]:
        """The Authorization header of ``tenant``'s key with ``scope``."""
        return {"Authorization": f"Bearer {self.secrets[(tenant, scope)]}"}

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)


@contextmanager
def running_api(tmp_path: Path, **serve: Any) -> Iterator[Harness]:
    """The API over a fresh store, with ``serve`` overriding ServeConfig fields."""
    config = ServeConfig(**serve)
    store = open_store(f"sqlite:///{tmp_path / 'atlas.db'}")
    secrets: dict[tuple[str, str], str] = {}
    keys: dict[tuple[str, str], ApiKey] = {}
    for tenant in TENANTS:
        store.put_tenant(Tenant(id=tenant))
        for scope in SCOPES:
            key, secret = ApiKey.issue(tenant, (scope,), name=f"{tenant}-{scope}")
            store.put_api_key(key)
            secrets[(tenant, scope)], keys[(tenant, scope)] = secret, key
    metrics = ServeMetrics()
    pipeline = IngestPipeline(store, config, metrics)
    verifier = KeyVerifier(store, ttl_s=config.key_cache_ttl_s)
    clock = Clock()
    tokens = FeedbackTokens(["test-secret-0123456789abcdef-0123456789"], ttl_s=600, clock=clock)
    app = create_app(pipeline, store, verifier, tokens, metrics, config)
    server = HttpServer(app, "127.0.0.1", 0, grace_s=2.0)
    port = server.start()
    try:
        yield Harness(
            url=f"http://127.0.0.1:{port}",
            port=port,
            store=store,
            pipeline=pipeline,
            metrics=metrics,
            tokens=tokens,
            verifier=verifier,
            clock=clock,
            secrets=secrets,
            keys=keys,
        )
    finally:
        server.stop()
        pipeline.close(timeout=10.0)
        store.close()


def interaction(**fields: Any) -> dict[str, Any]:
    """A valid interaction event (fields override)."""
    return {"learning_key": "support", "input": "hello?", "output": "hi!", **fields}


def rating(interaction_id: UUID | str, value: float = 4.0, **fields: Any) -> dict[str, Any]:
    """A valid rating on a 1..5 scale (fields override)."""
    return {
        "interaction_id": str(interaction_id),
        "kind": "rating",
        "value": value,
        "scale_min": 1.0,
        "scale_max": 5.0,
        **fields,
    }


def stored_ids(store: Store, tenant: str, table: str = "interactions") -> set[UUID]:
    """Ids of every row of ``table`` the tenant has."""
    frame = getattr(store, table)(tenant)
    return {UUID(bytes=b) for b in frame["id"].to_list()}


def raw_exchange(port: int, request: bytes, *, read_timeout: float = 5.0) -> bytes:
    """Sends raw bytes over a fresh socket and returns everything the server answers until
    it closes the connection or goes quiet for ``read_timeout`` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
