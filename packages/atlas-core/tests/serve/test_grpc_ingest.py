"""gRPC ingest over a real server and channel: typed, columnar and streaming requests land
in the store once, per-event rejections name the field, and all-rejected is an error."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from grpc_fixtures import Served, bearer, interaction, open_served, sdk_batch

from atlas_core.ids import new_id
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.grpc_service import RESULT_METADATA


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from open_served(tmp_path)


def test_typed_ingest_lands_in_the_store(served: Served) -> None:
    given = new_id()
    request = pb.IngestRequest(
        interactions=[
            interaction(
                id=str(given),
                input_json='[{"role": "user", "content": "reset?"}]',
                metadata_json='{"n": 9007199254740993}',
                latency_ms=3.5,
                user_id="u1",
                created_at_ns=1_700_000_000_000_000_000,
            ),
            interaction(output="second"),
        ],
        feedback=[
            pb.Feedback(
                interaction_id=str(given), kind="rating", value=4.0, scale_min=1, scale_max=5
            )
        ],
    )
    response = served.ingest.Ingest(request, metadata=bearer(served.keys.a_ingest))

    assert response.accepted == 3
    assert response.duplicates == 0
    assert not response.rejected
    assert response.interaction_ids[0] == str(given)
    assert len(response.interaction_ids) == 2
    assert len(response.feedback_ids) == 1
    rows = served.store.interactions("tenant-a").sort("output")
    assert rows["output"].to_list() == ["hello", "second"]
    first = rows.row(0, named=True)
    assert uuid.UUID(bytes=first["id"]) == given
    assert json.loads(first["input"]) == [{"role": "user", "content": "reset?"}]
    assert json.loads(first["metadata"]) == {"n": 9007199254740993}  # exact: JSON text, no double
    assert first["latency_ms"] == 3.5
    assert first["user_id"] == "u1"
    feedback = served.store.feedback("tenant-a")
    assert feedback["value"].to_list() == [4.0]
    assert feedback["source"].to_list() == ["api"]


def test_resending_the_same_ids_stores_once_and_counts_duplicates(served: Served) -> None:
    request = pb.IngestRequest(interactions=[interaction(id=str(new_id())) for _ in range(5)])
    first = served.ingest.Ingest(request, metadata=bearer(served.keys.a_ingest))
    again = served.ingest.Ingest(request, metadata=bearer(served.keys.a_ingest))

    assert (first.accepted, first.duplicates) == (5, 0)
    assert (again.accepted, again.duplicates) == (5, 5)
    assert served.store.interactions("tenant-a").height == 5


def test_columnar_ingest_lands_in_the_callers_tenant(served: Served) -> None:
    batch, ids = sdk_batch(50, tenant="tenant-b")  # the payload's tenant must be ignored
    response = served.ingest.IngestColumns(batch, metadata=bearer(served.keys.a_ingest))

    assert response.accepted == 100
    assert not response.rejected
    stored = served.store.interactions("tenant-a")
    assert sorted(stored["id"].to_list()) == sorted(ids)
    assert served.store.feedback("tenant-a").height == 50
    assert served.store.interactions("tenant-b").height == 0


def test_streaming_ingest_commits_every_message(served: Served) -> None:
    batch, _ = sdk_batch(10)
    typed = [
        pb.IngestStreamMessage(events=pb.IngestRequest(interactions=[interaction()] * 3))
        for _ in range(4)
    ]
    messages = [*typed[:2], pb.IngestStreamMessage(columns=batch), *typed[2:]]

    response = served.ingest.IngestStream(iter(messages), metadata=bearer(served.keys.a_ingest))

    assert response.accepted == 4 * 3 + 20
    assert len(response.interaction_ids) == 12  # typed messages list theirs; columns do not
    assert served.store.interactions("tenant-a").height == 22
    assert served.store.feedback("tenant-a").height == 10


def test_a_bad_event_is_rejected_by_field_and_the_rest_committed(served: Served) -> None:
    request = pb.IngestRequest(
        interactions=[
            interaction(output="ok-1"),
            interaction(metadata_json="{not json"),
            interaction(output="ok-2"),
        ],
        feedback=[
            pb.Feedback(
                interaction_id=str(uuid.uuid4()), kind="rating", value=3, scale_min=1, scale_max=5
            )
        ],
    )
    response = served.ingest.Ingest(request, metadata=bearer(served.keys.a_ingest))

    assert response.accepted == 2
    rejected = {(e.kind, e.index, e.field) for e in response.rejected}
    assert ("interaction", 1, "metadata") in rejected
    assert ("feedback", 0, "interaction_id") in rejected  # unknown interaction
    assert len(response.rejected) == 2
    assert response.interaction_ids[1] == ""  # never reached the pipeline
    assert sorted(served.store.interactions("tenant-a")["output"].to_list()) == ["ok-1", "ok-2"]


def test_every_event_rejected_is_invalid_argument_with_the_result(served: Served) -> None:
    request = pb.IngestRequest(
        interactions=[interaction(input_json="[unterminated"), interaction(metadata_json="3x")]
    )
    with pytest.raises(grpc.RpcError) as caught:
        served.ingest.Ingest(request, metadata=bearer(served.keys.a_ingest))

    err = caught.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "interaction[0].input" in err.details()
    trailing = dict(err.trailing_metadata())
    result = pb.IngestResponse.FromString(trailing[RESULT_METADATA])
    assert [(e.index, e.field) for e in result.rejected] == [(0, "input"), (1, "metadata")]
    assert served.store.interactions("tenant-a").height == 0


def test_undecodable_request_bytes_are_invalid_argument(served: Served) -> None:
    raw = served.channel.unary_unary("/atlas.v1.Ingest/IngestColumns")
    with pytest.raises(grpc.RpcError) as caught:
        raw(b"\x0a\xff\xff\xff\xff\x0f", metadata=bearer(served.keys.a_ingest))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ColumnBatch" in caught.value.details()


def test_malformed_columns_name_the_column(served: Served) -> None:
    batch, _ = sdk_batch(3)
    batch.value = batch.value[:-8]
    with pytest.raises(grpc.RpcError) as caught:
        served.ingest.IngestColumns(batch, metadata=bearer(served.keys.a_ingest))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("value:")


def test_metrics_count_requests_by_status(served: Served) -> None:
    served.ingest.Ingest(
        pb.IngestRequest(interactions=[interaction()]), metadata=bearer(served.keys.a_ingest)
    )
    with pytest.raises(grpc.RpcError):
        served.ingest.Ingest(pb.IngestRequest(), metadata=bearer("atlas_nope"))
    text = served.metrics.exposition().decode()
    assert 'atlas_requests_total{method="Ingest",status="OK",transport="grpc"} 1.0' in text
    assert (
        'atlas_requests_total{method="Ingest",status="UNAUTHENTICATED",transport="grpc"} 1.0'
        in text
    )


def test_a_stream_that_breaks_midway_keeps_what_came_before(served: Served) -> None:
    first = pb.IngestStreamMessage(events=pb.IngestRequest(interactions=[interaction()] * 2))
    garbage = served.channel.stream_unary("/atlas.v1.Ingest/IngestStream")
    with pytest.raises(grpc.RpcError) as caught:
        garbage(
            iter([first.SerializeToString(), b"\x0a\x05\xff"]),
            metadata=bearer(served.keys.a_ingest),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "IngestStreamMessage" in caught.value.details()
    served.pipeline.close(timeout=10)  # commit whatever was submitted
    assert served.store.interactions("tenant-a").height == 2


def test_an_empty_stream_is_ok(served: Served) -> None:
    response = served.ingest.IngestStream(iter([]), metadata=bearer(served.keys.a_ingest))
    assert (response.accepted, len(response.rejected)) == (0, 0)
