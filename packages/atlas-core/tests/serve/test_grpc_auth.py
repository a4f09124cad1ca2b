"""gRPC auth and tenancy: keys, scopes, and one tenant never reading or writing another's
data; reads with filters."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from grpc_fixtures import Served, bearer, interaction, open_served

from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.grpc_service import RESULT_METADATA


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from open_served(tmp_path)


def _code(call: Callable[[], Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    code: grpc.StatusCode = caught.value.code()
    return code


def _ingest_one(served: Served, secret: str, **fields: Any) -> str:
    response = served.ingest.Ingest(
        pb.IngestRequest(interactions=[interaction(**fields)]), metadata=bearer(secret)
    )
    assert response.accepted == 1
    return str(response.interaction_ids[0])


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer atlas_not-a-real-key"),),
        (("authorization", "Basic dXNlcjpwYXNz"),),
        (("authorization", "Bearer "),),
    ],
    ids=["missing", "unknown", "not-bearer", "empty"],
)
def test_missing_or_invalid_key_is_unauthenticated(served: Served, metadata: Any) -> None:
    request = pb.IngestRequest(interactions=[interaction()])
    assert _code(lambda: served.ingest.Ingest(request, metadata=metadata)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    assert _code(lambda: served.reads.ListInteractions(pb.ListRequest(), metadata=metadata)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    assert served.store.interactions("tenant-a").height == 0


def test_revoked_key_is_unauthenticated(served: Served) -> None:
    request = pb.IngestRequest(interactions=[interaction()])
    with pytest.raises(grpc.RpcError) as caught:
        served.ingest.Ingest(request, metadata=bearer(served.keys.revoked))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in caught.value.details()


def test_wrong_scope_is_permission_denied(served: Served) -> None:
    request = pb.IngestRequest(interactions=[interaction()])
    read_only, ingest_only = bearer(served.keys.a_read), bearer(served.keys.a_ingest)
    assert _code(lambda: served.ingest.Ingest(request, metadata=read_only)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert _code(lambda: served.ingest.IngestColumns(pb.ColumnBatch(), metadata=read_only)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert _code(lambda: served.reads.ListFeedback(pb.ListRequest(), metadata=ingest_only)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    # admin holds every scope
    served.reads.ListInteractions(pb.ListRequest(), metadata=bearer(served.keys.b_admin))


def test_a_tenant_cannot_read_another_tenants_data(served: Served) -> None:
    b_id = _ingest_one(served, served.keys.b_admin, output="b's secret")
    a_id = _ingest_one(served, served.keys.a_ingest, output="a's answer")
    a_read = bearer(served.keys.a_read)

    listed = served.reads.ListInteractions(pb.ListRequest(), metadata=a_read)
    assert [i.id for i in listed.interactions] == [a_id]
    with pytest.raises(grpc.RpcError) as caught:
        served.reads.GetInteraction(pb.GetInteractionRequest(id=b_id), metadata=a_read)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    got = served.reads.GetInteraction(pb.GetInteractionRequest(id=a_id), metadata=a_read)
    assert got.output == "a's answer"
    b_listed = served.reads.ListInteractions(pb.ListRequest(), metadata=bearer(served.keys.b_admin))
    assert [i.id for i in b_listed.interactions] == [b_id]


def test_a_tenant_cannot_write_feedback_on_another_tenants_interaction(served: Served) -> None:
    b_id = _ingest_one(served, served.keys.b_admin)
    request = pb.IngestRequest(
        feedback=[pb.Feedback(interaction_id=b_id, kind="signal", name="copy", value=1.0)]
    )
    with pytest.raises(grpc.RpcError) as caught:
        served.ingest.Ingest(request, metadata=bearer(served.keys.a_ingest))

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    result = pb.IngestResponse.FromString(dict(caught.value.trailing_metadata())[RESULT_METADATA])
    assert [(e.kind, e.field) for e in result.rejected] == [("feedback", "interaction_id")]
    assert served.store.feedback("tenant-a").height == 0
    assert served.store.feedback("tenant-b").height == 0


def test_list_filters_and_limit(served: Served) -> None:
    secret = served.keys.a_ingest_read
    for i in range(6):
        _ingest_one(
            served,
            secret,
            learning_key="even" if i % 2 == 0 else "odd",
            user_id=f"u{i % 3}",
            created_at_ns=1_000_000_000 * (i + 1),
        )
    auth = bearer(secret)

    def ids(**filters: Any) -> list[int]:
        listed = served.reads.ListInteractions(pb.ListRequest(**filters), metadata=auth)
        return [i.created_at_ns // 1_000_000_000 for i in listed.interactions]

    assert ids() == [1, 2, 3, 4, 5, 6]
    assert ids(learning_key="odd") == [2, 4, 6]
    assert ids(user_id="u0") == [1, 4]
    assert ids(since_ns=3_000_000_000, until_ns=5_000_000_000) == [3, 4]
    assert ids(limit=2) == [1, 2]
    assert _code(lambda: served.reads.ListInteractions(pb.ListRequest(limit=0), metadata=auth)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


def test_list_feedback_and_rewards(served: Served) -> None:
    secret = served.keys.a_ingest_read
    target = _ingest_one(served, secret)
    served.ingest.Ingest(
        pb.IngestRequest(
            feedback=[pb.Feedback(interaction_id=target, kind="comment", text="nice", user_id="u9")]
        ),
        metadata=bearer(secret),
    )
    listed = served.reads.ListFeedback(pb.ListRequest(), metadata=bearer(secret))
    assert [(f.kind, f.text, f.interaction_id) for f in listed.feedback] == [
        ("comment", "nice", target)
    ]
    assert uuid.UUID(listed.feedback[0].id)
    rewards = served.reads.ListRewards(pb.ListRequest(), metadata=bearer(secret))
    assert list(rewards.rewards) == []


def test_get_with_a_malformed_id_is_invalid_argument(served: Served) -> None:
    call = lambda: served.reads.GetInteraction(  # noqa: E731
        pb.GetInteractionRequest(id="nope"), metadata=bearer(served.keys.a_read)
    )
    assert _code(call) == grpc.StatusCode.INVALID_ARGUMENT


def test_get_finds_an_interaction_whose_time_is_far_from_its_ids(served: Served) -> None:
    old = _ingest_one(served, served.keys.a_ingest, created_at_ns=1_000_000_000_000_000_000)
    recent = _ingest_one(served, served.keys.a_ingest)
    auth = bearer(served.keys.a_read)
    for wanted in (old, recent):
        got = served.reads.GetInteraction(pb.GetInteractionRequest(id=wanted), metadata=auth)
        assert got.id == wanted
    assert got.created_at_ns > 1_000_000_000_000_000_000
    missing = pb.GetInteractionRequest(id=str(uuid.uuid4()))
    assert _code(lambda: served.reads.GetInteraction(missing, metadata=auth)) == (
        grpc.StatusCode.NOT_FOUND
    )
