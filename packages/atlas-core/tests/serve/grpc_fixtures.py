"""Shared set-up of the gRPC tests: a real SQLite store, real keys, a real pipeline and a
real server on 127.0.0.1, and a real channel to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from atlas_core.auth import KeyVerifier
from atlas_core.config import ServeConfig
from atlas_core.kernels.buffer import EventKind, FeedbackBuffer
from atlas_core.sdk.events import NO_INTERACTION, feedback_payload, interaction_payload
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve._generated.atlas.v1 import ingest_pb2_grpc as pb_grpc
from atlas_core.serve.grpc_columns import columns_to_batch
from atlas_core.serve.grpc_service import create_grpc_server
from atlas_core.serve.metrics import ServeMetrics
from atlas_core.serve.pipeline import IngestPipeline
from atlas_core.store import Store, open_store
from atlas_core.types import ApiKey, Tenant

__all__ = ["Keys", "Served", "bearer", "make_pipeline", "open_served", "sdk_batch", "serve_on"]


def make_pipeline(store: Store, config: ServeConfig, metrics: ServeMetrics) -> IngestPipeline:
    """The real ingest pipeline over ``store``."""
    return IngestPipeline(store, config, metrics)


@dataclass
class Keys:
    """Secrets of the test tenants' keys."""

    a_ingest_read: str
    a_ingest: str
    a_read: str
    b_admin: str
    revoked: str


def issue_keys(store: Store) -> Keys:
    store.put_tenant(Tenant(id="tenant-a"))
    store.put_tenant(Tenant(id="tenant-b"))
    secrets: dict[str, str] = {}
    for name, tenant, scopes in (
        ("a_ingest_read", "tenant-a", ("ingest", "read")),
        ("a_ingest", "tenant-a", ("ingest",)),
        ("a_read", "tenant-a", ("read",)),
        ("b_admin", "tenant-b", ("admin",)),
        ("revoked", "tenant-a", ("ingest", "read")),
    ):
        key, secret = ApiKey.issue(tenant, scopes, name=name)
        store.put_api_key(key)
        secrets[name] = secret
        if name == "revoked":
            store.revoke_api_key(tenant, key.id)
    return Keys(**secrets)


def bearer(secret: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying ``secret``."""
    return (("authorization", f"Bearer {secret}"),)


@dataclass
class Served:
    """A running server and what it was built from."""

    store: Store
    pipeline: IngestPipeline
    metrics: ServeMetrics
    config: ServeConfig
    server: grpc.Server
    port: int
    keys: Keys
    channel: grpc.Channel = field(init=False)

    def __post_init__(self) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")

    @property
    def ingest(self) -> pb_grpc.IngestStub:
        return pb_grpc.IngestStub(self.channel)

    @property
    def reads(self) -> pb_grpc.ReadsStub:
        return pb_grpc.ReadsStub(self.channel)

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(grace=1.0).wait()
        self.pipeline.close(timeout=10.0)


def serve_on(
    store: Store, keys: Keys, config: ServeConfig, *, port: int = 0, **options: Any
) -> Served:
    """A pipeline and a started server over ``store`` (``port`` 0: a free one)."""
    metrics = ServeMetrics()
    pipeline = make_pipeline(store, config, metrics)
    verifier = KeyVerifier(store, ttl_s=0.0)
    server, bound = create_grpc_server(
        pipeline, store, verifier, metrics, config, port=port, host="127.0.0.1", **options
    )
    return Served(store, pipeline, metrics, config, server, bound, keys)


def open_served(tmp_path: Path, config: ServeConfig | None = None) -> Iterator[Served]:
    """Fixture body: a served SQLite store with the test keys; stopped afterwards."""
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    keys = issue_keys(store)
    served = serve_on(store, keys, config or ServeConfig())
    try:
        yield served
    finally:
        served.stop()
        store.close()


def interaction(**fields: Any) -> pb.Interaction:
    """A valid typed interaction, overridden by ``fields``."""
    values: dict[str, Any] = {"learning_key": "support", "input_text": "hi", "output": "hello"}
    values.update(fields)
    return pb.Interaction(**values)


def sdk_batch(n_interactions: int, *, tenant: str = "spoofed") -> tuple[pb.ColumnBatch, list]:
    """A columnar batch as the SDK encodes it: interactions, each with one rating."""
    buffer = FeedbackBuffer(10_000)
    ids = []
    for i in range(n_interactions):
        payload = interaction_payload(
            tenant_id=tenant,
            learning_key="cols",
            input_json=json.dumps([{"role": "user", "content": f"q{i}"}]),
            output=f"a{i}",
            metadata_json="{}",
        )
        event_id = buffer.push(NO_INTERACTION, EventKind.INTERACTION, 12.5, 7, payload, 1, None)
        ids.append(event_id)
        rating = feedback_payload(
            tenant_id=tenant, source="sdk", metadata_json="{}", scale_min=1.0, scale_max=5.0
        )
        buffer.push(event_id, EventKind.RATING, 4.0, 0, rating, 2, None)
    return columns_to_batch(buffer.drain_columns()), ids
