"""HTTP ingest over a real socket: events land in the store, bad events are rejected one by
one with the field named, single-event posts answer with the id, retries are idempotent."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from http_fixtures import Harness, interaction, rating, running_api, stored_ids

from atlas_core.ids import new_id


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Harness]:
    with running_api(tmp_path) as harness:
        yield harness


def test_batch_lands_in_the_store(api: Harness) -> None:
    given = new_id()
    body = {
        "interactions": [
            interaction(id=str(given)),
            interaction(input=[{"role": "user", "content": "x"}]),
        ],
        "feedback": [
            rating(given, 5.0),
            {"interaction_id": str(given), "kind": "signal", "name": "copy"},
        ],
    }
    with api.client() as http:
        answer = http.post("/v1/ingest", json=body, headers=api.auth("acme", "ingest"))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["accepted"] == 4
    assert result["rejected"] == []
    ids = [UUID(i) for i in result["interaction_ids"]]
    assert ids[0] == given
    assert stored_ids(api.store, "acme") == set(ids)
    assert stored_ids(api.store, "acme", "feedback") == {UUID(i) for i in result["feedback_ids"]}
    kinds = sorted(api.store.feedback("acme")["kind"].to_list())
    assert kinds == ["rating", "signal"]


def test_bad_events_are_rejected_one_by_one_and_the_rest_committed(api: Harness) -> None:
    good = new_id()
    body = {
        "interactions": [interaction(id=str(good)), interaction(output=17), {"output": "no key"}],
        "feedback": [rating(good, 9.0), rating(good, 3.0)],
    }
    with api.client() as http:
        answer = http.post("/v1/ingest", json=body, headers=api.auth("acme", "ingest"))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    rejected = {(r["kind"], r["index"]): r["field"] for r in result["rejected"]}
    assert rejected[("interaction", 1)] == "output"
    assert rejected[("interaction", 2)] == "learning_key"
    assert rejected[("feedback", 0)] == "value"  # 9 is outside the 1..5 scale
    assert len(rejected) == 3
    assert result["accepted"] == 2
    assert stored_ids(api.store, "acme") == {good}
    assert len(stored_ids(api.store, "acme", "feedback")) == 1


def test_every_event_rejected_is_422_listing_each(api: Harness) -> None:
    body = {"interactions": [interaction(latency_ms=-1)], "feedback": [rating(new_id())]}
    with api.client() as http:
        answer = http.post("/v1/ingest", json=body, headers=api.auth("acme", "ingest"))
    assert answer.status_code == 422
    result = answer.json()
    assert result["error"]["code"] == "INVALID_ARGUMENT"
    assert result["error"]["field"] == "interactions[0].latency_ms"
    assert {(r["kind"], r["field"]) for r in result["rejected"]} == {
        ("interaction", "latency_ms"),
        ("feedback", "interaction_id"),  # no such interaction
    }
    assert result["accepted"] == 0
    assert stored_ids(api.store, "acme") == set()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "interactions"),
        ({"interactions": []}, "interactions"),
        ({"interactions": {"learning_key": "x"}}, "interactions"),
        ({"interactions": [interaction(), 3]}, "interactions[1]"),
        ({"feedback": ["nope"]}, "feedback[0]"),
        ({"events": []}, "events"),
    ],
)
def test_malformed_envelopes_name_the_field(api: Harness, body: object, field: str) -> None:
    with api.client() as http:
        answer = http.post("/v1/ingest", json=body, headers=api.auth("acme", "ingest"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert stored_ids(api.store, "acme") == set()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe{}",
        b'{"interactions": [{"output": "\xed\xa0\x80"}]}',
    ],
)
def test_not_json_or_not_utf8_is_422_on_body(api: Harness, raw: bytes) -> None:
    with api.client() as http:
        for path in ("/v1/ingest", "/v1/interactions", "/v1/feedback"):
            answer = http.post(path, content=raw, headers=api.auth("acme", "ingest"))
            assert answer.status_code == 422, (path, raw, answer.text)
            assert answer.json()["error"]["field"] == "body"


def test_single_interaction_and_feedback_answer_with_their_ids(api: Harness) -> None:
    with api.client() as http:
        headers = api.auth("acme", "ingest")
        first = http.post("/v1/interactions", json=interaction(), headers=headers)
        assert first.status_code == 200, first.text
        iid = UUID(first.json()["id"])
        assert first.json()["duplicate"] is False
        fb = http.post("/v1/feedback", json=rating(iid), headers=headers)
        assert fb.status_code == 200, fb.text
        fid = UUID(fb.json()["id"])
        # A retry with the same id is acknowledged and stored once.
        again = http.post("/v1/feedback", json=rating(iid, id=str(fid)), headers=headers)
        assert again.status_code == 200
        assert again.json() == {"id": str(fid), "duplicate": True}
    assert stored_ids(api.store, "acme") == {iid}
    assert stored_ids(api.store, "acme", "feedback") == {fid}


def test_single_event_rejected_is_422_naming_the_field(api: Harness) -> None:
    with api.client() as http:
        headers = api.auth("acme", "ingest")
        bad = http.post("/v1/interactions", json=interaction(prompt_tokens=-3), headers=headers)
        unknown = http.post("/v1/feedback", json=rating(new_id()), headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "prompt_tokens"
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "interaction_id"
    assert stored_ids(api.store, "acme") == set()


def test_other_methods_are_405_and_reads_share_the_paths(api: Harness) -> None:
    with api.client() as http:
        put = http.put("/v1/ingest", json={}, headers=api.auth("acme", "ingest"))
        assert put.status_code == 405
        assert put.headers["allow"] == "POST"
        assert put.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
        assert http.get("/v1/browser/feedback").status_code == 405
        # GET on a write path is the read endpoint of the same resource
        listed = http.get("/v1/feedback", headers=api.auth("acme", "read"))
        assert listed.status_code == 200
        assert listed.json() == {"items": [], "count": 0}
        assert http.delete("/v1/interactions").status_code == 405
