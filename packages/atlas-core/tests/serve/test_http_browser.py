"""Browser feedback with signed, expiring, per-interaction tokens, over a real socket."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from http_fixtures import Harness, interaction, running_api

PATH = "/v1/browser/feedback"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Harness]:
    with running_api(tmp_path) as harness:
        yield harness


def _interaction(api: Harness, tenant: str = "acme") -> str:
    with api.client() as http:
        answer = http.post(
            "/v1/interactions", json=interaction(), headers=api.auth(tenant, "ingest")
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def _token(api: Harness, iid: str, **asked: Any) -> dict[str, Any]:
    with api.client() as http:
        answer = http.post(
            "/v1/feedback-tokens",
            json={"interaction_id": iid, **asked},
            headers=api.auth("acme", "ingest"),
        )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_valid_token_stores_feedback_for_its_tenant_and_interaction(api: Harness) -> None:
    iid = _interaction(api)
    issued = _token(api, iid, kinds=["rating", "signal"], ttl_s=60)
    assert issued["interaction_id"] == iid
    assert issued["kinds"] == ["rating", "signal"]
    with api.client() as http:
        rated = http.post(
            PATH,
            json={"kind": "rating", "value": 2, "scale_min": 1, "scale_max": 5},
            headers={**_bearer(issued["token"]), "Origin": "https://shop.example"},
        )
        assert rated.status_code == 200, rated.text
        assert rated.headers["access-control-allow-origin"] == "*"
        # the token in the body, sent as text/plain (what sendBeacon does)
        copied = http.post(
            PATH,
            content=f'{{"token": "{issued["token"]}", "kind": "signal", "name": "copy"}}',
            headers={"Content-Type": "text/plain"},
        )
        assert copied.status_code == 200, copied.text
    rows = api.store.feedback("acme").sort("kind")
    assert rows["kind"].to_list() == ["rating", "signal"]
    assert {r.hex() for r in rows["interaction_id"].to_list()} == {iid.replace("-", "")}
    assert set(rows["source"].to_list()) == {"browser"}
    assert api.store.feedback("globex").height == 0


def test_expired_token_is_401(api: Harness) -> None:
    iid = _interaction(api)
    issued = _token(api, iid, ttl_s=30)
    api.clock.now += 31
    with api.client() as http:
        answer = http.post(
            PATH, json={"kind": "signal", "name": "copy"}, headers=_bearer(issued["token"])
        )
    assert answer.status_code == 401
    assert "expired" in answer.json()["error"]["message"]
    assert answer.headers["access-control-allow-origin"] == "*"  # the page can read why
    assert api.store.feedback("acme").height == 0


def test_tampered_token_is_401(api: Harness) -> None:
    iid = _interaction(api)
    token = _token(api, iid)["token"]
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    with api.client() as http:
        for bad in (forged, "not-a-token", token + "x"):
            answer = http.post(PATH, json={"kind": "signal", "name": "copy"}, headers=_bearer(bad))
            assert answer.status_code == 401, (bad, answer.text)
        missing = http.post(PATH, json={"kind": "signal", "name": "copy"})
        assert missing.status_code == 401
    assert api.store.feedback("acme").height == 0


def test_kind_not_granted_is_403(api: Harness) -> None:
    iid = _interaction(api)
    token = _token(api, iid, kinds=["signal"])["token"]
    with api.client() as http:
        answer = http.post(PATH, json={"kind": "comment", "text": "meh"}, headers=_bearer(token))
    assert answer.status_code == 403
    assert answer.json()["error"]["field"] == "kind"
    assert api.store.feedback("acme").height == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "rating", "value": 2, "interaction_id": "x"}, "interaction_id"),
        ({"kind": "signal", "name": "copy", "tenant_id": "globex"}, "tenant_id"),
        ({"kind": "thumbs"}, "kind"),
        ({"kind": "rating", "value": "lots", "scale_min": 1, "scale_max": 5}, "value"),
        ({"kind": "rating", "value": 7, "scale_min": 1, "scale_max": 5}, "value"),
    ],
)
def test_bad_body_is_422_naming_the_field(api: Harness, body: dict[str, Any], field: str) -> None:
    iid = _interaction(api)
    token = _token(api, iid)["token"]
    with api.client() as http:
        answer = http.post(PATH, json=body, headers=_bearer(token))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert api.store.feedback("acme").height == 0


def test_cors_preflight_only_on_the_browser_path(api: Harness) -> None:
    preflight = {
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    with api.client() as http:
        answer = http.options(PATH, headers=preflight)
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "POST" in answer.headers["access-control-allow-methods"]
        assert "authorization" in answer.headers["access-control-allow-headers"]
        api_path = http.post("/v1/feedback", json={}, headers={"Origin": "https://shop.example"})
        assert "access-control-allow-origin" not in api_path.headers


def test_issuing_needs_an_ingest_key(api: Harness) -> None:
    iid = _interaction(api)
    with api.client() as http:
        denied = http.post(
            "/v1/feedback-tokens", json={"interaction_id": iid}, headers=api.auth("acme", "read")
        )
        bad_ttl = http.post(
            "/v1/feedback-tokens",
            json={"interaction_id": iid, "ttl_s": 0},
            headers=api.auth("acme", "ingest"),
        )
    assert denied.status_code == 403
    assert bad_ttl.status_code == 422
    assert bad_ttl.json()["error"]["field"] == "ttl_s"
