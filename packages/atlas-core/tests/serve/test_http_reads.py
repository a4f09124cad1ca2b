"""Reads, health, metrics and the OpenAPI document of the HTTP API."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).parent))
from http_fixtures import Harness, interaction, rating, running_api

from atlas_core.ids import new_id
from atlas_core.serve.http_reads import MAX_READ_LIMIT
from atlas_core.types import Reward

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Harness]:
    with running_api(tmp_path) as harness:
        yield harness


def _seed(api: Harness) -> list[str]:
    events = [
        interaction(
            learning_key="support" if i % 2 == 0 else "billing",
            user_id=f"u{i % 3}",
            created_at=(T0 + timedelta(minutes=i)).isoformat(),
            input=[{"role": "user", "content": f"q{i}"}],
            metadata={"i": i},
        )
        for i in range(6)
    ]
    with api.client() as http:
        answer = http.post(
            "/v1/ingest", json={"interactions": events}, headers=api.auth("acme", "ingest")
        )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["interaction_ids"])


def test_interaction_rows_have_uuid_text_rfc3339_and_json(api: Harness) -> None:
    ids = _seed(api)
    with api.client() as http:
        page = http.get("/v1/interactions", headers=api.auth("acme", "read")).json()
    assert page["count"] == 6
    first = page["items"][0]
    assert first["id"] == ids[0]
    assert UUID(first["id"])
    assert first["created_at"] == "2025-03-01T12:00:00.123456000Z"
    assert datetime.fromisoformat(first["created_at"]) == T0
    assert first["input"] == [{"role": "user", "content": "q0"}]
    assert first["metadata"] == {"i": 0}
    assert "tenant_id" not in first
    assert [r["id"] for r in page["items"]] == ids  # oldest first


def test_filters_and_limit(api: Harness) -> None:
    ids = _seed(api)
    read = api.auth("acme", "read")
    with api.client() as http:

        def got(**params: object) -> list[str]:
            answer = http.get("/v1/interactions", params=params, headers=read)
            assert answer.status_code == 200, answer.text
            return [r["id"] for r in answer.json()["items"]]

        assert got(learning_key="billing") == ids[1::2]
        assert got(user_id="u0") == [ids[0], ids[3]]
        since = (T0 + timedelta(minutes=2)).isoformat()
        until = (T0 + timedelta(minutes=4)).isoformat()
        assert got(since=since, until=until) == ids[2:4]
        assert got(limit=2) == ids[:2]
        assert got(limit=MAX_READ_LIMIT * 10) == ids  # capped, not refused
        for params, field in (
            ({"limit": 0}, "limit"),
            ({"limit": "many"}, "limit"),
            ({"since": "yesterday"}, "since"),
            ({"since": "2025-03-01T12:00:00"}, "since"),  # no timezone
        ):
            answer = http.get("/v1/interactions", params=params, headers=read)
            assert answer.status_code == 422, params
            assert answer.json()["error"]["field"] == field


def test_interaction_by_id(api: Harness) -> None:
    # The seeded rows were created in 2025 with ids minted now, a row created now too:
    # the read is by id, whatever the row's created_at.
    ids = _seed(api)
    read = api.auth("acme", "read")
    with api.client() as http:
        for i in (0, 3, 5):
            one = http.get(f"/v1/interactions/{ids[i]}", headers=read)
            assert one.status_code == 200
            assert one.json()["id"] == ids[i]
            assert one.json()["metadata"] == {"i": i}
        recent = http.post(
            "/v1/interactions", json=interaction(), headers=api.auth("acme", "ingest")
        )
        now = http.get(f"/v1/interactions/{recent.json()['id']}", headers=read)
        assert now.status_code == 200
        assert now.json()["output"] == "hi!"
        assert http.get(f"/v1/interactions/{new_id()}", headers=read).status_code == 404
        bad = http.get("/v1/interactions/not-a-uuid", headers=read)
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "interaction_id"


def test_feedback_and_rewards(api: Harness) -> None:
    ids = _seed(api)
    with api.client() as http:
        http.post(
            "/v1/ingest",
            json={
                "feedback": [
                    rating(ids[0], 5),
                    {"interaction_id": ids[1], "kind": "comment", "text": "ok"},
                ]
            },
            headers=api.auth("acme", "ingest"),
        )
        api.store.write_rewards(
            [
                Reward(
                    tenant_id="acme",
                    interaction_id=UUID(ids[0]),
                    score=0.9,
                    components={"rating": 1.0},
                )
            ]
        )
        read = api.auth("acme", "read")
        feedback = http.get("/v1/feedback", headers=read).json()["items"]
        comments = http.get("/v1/feedback", params={"kind": "comment"}, headers=read).json()
        rewards = http.get("/v1/rewards", headers=read).json()["items"]
        high = http.get("/v1/rewards", params={"min_reward": 0.95}, headers=read).json()
    assert {f["kind"] for f in feedback} == {"rating", "comment"}
    assert {f["interaction_id"] for f in feedback} == {ids[0], ids[1]}
    assert comments["count"] == 1
    assert comments["items"][0]["text"] == "ok"
    assert rewards[0]["interaction_id"] == ids[0]
    assert rewards[0]["components"] == {"rating": 1.0}
    assert rewards[0]["score"] == 0.9
    assert high["count"] == 0


def test_health_and_readiness(api: Harness) -> None:
    with api.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        api.pipeline.close(timeout=5.0)
        stopped = http.get("/readyz")
        assert stopped.status_code == 503
        assert stopped.json()["pipeline"] is False
        assert stopped.json()["store"] is True
        api.store.close()
        assert http.get("/readyz").json()["store"] is False
        assert http.get("/healthz").status_code == 200  # alive, just not ready


def test_metrics_parse_as_prometheus_text(api: Harness) -> None:
    _seed(api)
    with api.client() as http:
        http.get("/v1/interactions", headers=api.auth("acme", "read"))
        http.get("/nowhere")
        answer = http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    requests = {
        (s.labels["method"], s.labels["status"]): s.value
        for s in families["atlas_requests"].samples
        if s.name == "atlas_requests_total"
    }
    assert requests[("POST /v1/ingest", "200")] == 1
    assert requests[("GET /v1/interactions", "200")] == 1
    assert requests[("GET unmatched", "404")] == 1
    assert "atlas_request_duration_seconds" in families


def test_openapi_lists_every_endpoint(api: Harness) -> None:
    with api.client() as http:
        doc = http.get("/openapi.json").json()
        docs = http.get("/docs")
    assert docs.status_code == 200
    paths = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert paths >= {
        ("/v1/ingest", "post"),
        ("/v1/interactions", "post"),
        ("/v1/interactions", "get"),
        ("/v1/interactions/{interaction_id}", "get"),
        ("/v1/feedback", "post"),
        ("/v1/feedback", "get"),
        ("/v1/rewards", "get"),
        ("/v1/feedback-tokens", "post"),
        ("/v1/browser/feedback", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    }
    schemas = doc["components"]["schemas"]
    ingest_body = doc["paths"]["/v1/ingest"]["post"]["requestBody"]["content"]["application/json"]
    assert ingest_body["schema"]["$ref"] == "#/components/schemas/IngestRequest"
    for name in ("IngestRequest", "InteractionEvent", "FeedbackEvent", "BrowserFeedbackRequest"):
        assert name in schemas
    assert "learning_key" in schemas["InteractionEvent"]["required"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
