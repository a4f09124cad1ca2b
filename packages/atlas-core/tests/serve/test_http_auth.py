"""Authentication, scopes and tenant isolation of the HTTP API, over a real socket."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from http_fixtures import Harness, interaction, rating, running_api, stored_ids

from atlas_core.auth import KeyVerifier
from atlas_core.errors import AuthenticationError
from atlas_core.serve.http_request import LoopAuthenticator
from atlas_core.store import open_store
from atlas_core.types import ApiKey, Tenant


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Harness]:
    with running_api(tmp_path) as harness:
        yield harness


WRITES = [
    ("/v1/ingest", {"interactions": [interaction()]}),
    ("/v1/interactions", interaction()),
    ("/v1/feedback", rating("0190a6a0-0000-7000-8000-000000000000")),
    ("/v1/feedback-tokens", {"interaction_id": "0190a6a0-0000-7000-8000-000000000000"}),
]
READS = ["/v1/interactions", "/v1/feedback", "/v1/rewards", f"/v1/interactions/{UUID(int=1)}"]


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic dXNlcjpwdw==", "Bearer nope", "Bearer atlas_" + "x" * 43],
)
def test_missing_or_bad_key_is_401_everywhere(api: Harness, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with api.client() as http:
        for path, body in WRITES:
            answer = http.post(path, json=body, headers=headers)
            assert answer.status_code == 401, (path, answer.text)
            assert answer.json()["error"]["code"] == "UNAUTHENTICATED"
            assert "atlas_" + "x" * 43 not in answer.text  # the secret is never echoed
        for path in READS:
            assert http.get(path, headers=headers).status_code == 401, path
    assert stored_ids(api.store, "acme") == set()


def test_revoked_key_is_401(api: Harness) -> None:
    headers = api.auth("acme", "ingest")
    with api.client() as http:
        assert http.post("/v1/interactions", json=interaction(), headers=headers).status_code == 200
        api.store.revoke_api_key("acme", api.keys[("acme", "ingest")].id)
        api.verifier.invalidate()  # the contract: immediate in this process after invalidate
        answer = http.post("/v1/interactions", json=interaction(), headers=headers)
    assert answer.status_code == 401
    assert "revoked" in answer.json()["error"]["message"]
    assert len(stored_ids(api.store, "acme")) == 1


def test_wrong_scope_is_403(api: Harness) -> None:
    with api.client() as http:
        for path, body in WRITES:
            answer = http.post(path, json=body, headers=api.auth("acme", "read"))
            assert answer.status_code == 403, (path, answer.text)
            assert answer.json()["error"]["code"] == "PERMISSION_DENIED"
        for path in READS:
            answer = http.get(path, headers=api.auth("acme", "ingest"))
            assert answer.status_code == 403, (path, answer.text)
        # admin holds every scope
        admin = api.auth("acme", "admin")
        assert http.post("/v1/interactions", json=interaction(), headers=admin).status_code == 200
        assert http.get("/v1/interactions", headers=admin).json()["count"] == 1
    assert len(stored_ids(api.store, "acme")) == 1


def test_tenants_cannot_read_each_other(api: Harness) -> None:
    with api.client() as http:
        mine = http.post("/v1/interactions", json=interaction(), headers=api.auth("acme", "ingest"))
        iid = mine.json()["id"]
        http.post("/v1/feedback", json=rating(iid), headers=api.auth("acme", "ingest"))
        theirs = http.post(
            "/v1/interactions", json=interaction(), headers=api.auth("globex", "ingest")
        )
        acme, globex = api.auth("acme", "read"), api.auth("globex", "read")
        assert [r["id"] for r in http.get("/v1/interactions", headers=acme).json()["items"]] == [
            iid
        ]
        listed = http.get("/v1/interactions", headers=globex).json()["items"]
        assert [r["id"] for r in listed] == [theirs.json()["id"]]
        assert http.get("/v1/feedback", headers=globex).json()["count"] == 0
        assert http.get("/v1/feedback", headers=acme).json()["count"] == 1
        assert http.get(f"/v1/interactions/{iid}", headers=acme).status_code == 200
        other = http.get(f"/v1/interactions/{iid}", headers=globex)
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "NOT_FOUND"
        # an admin key of the other tenant does not cross either
        admin = api.auth("globex", "admin")
        assert http.get(f"/v1/interactions/{iid}", headers=admin).status_code == 404


def test_tenants_cannot_write_to_each_other(api: Harness) -> None:
    with api.client() as http:
        mine = http.post("/v1/interactions", json=interaction(), headers=api.auth("acme", "ingest"))
        iid = mine.json()["id"]
        # globex posts feedback on acme's interaction: unknown to globex, rejected
        single = http.post("/v1/feedback", json=rating(iid), headers=api.auth("globex", "ingest"))
        assert single.status_code == 422
        assert single.json()["error"]["field"] == "interaction_id"
        batch = http.post(
            "/v1/ingest", json={"feedback": [rating(iid)]}, headers=api.auth("globex", "ingest")
        )
        assert batch.status_code == 422
        # a tenant field in the event cannot redirect the write either
        smuggled = http.post(
            "/v1/interactions",
            json=interaction(tenant_id="acme"),
            headers=api.auth("globex", "ingest"),
        )
        assert smuggled.status_code in (200, 422)
        # globex cannot get a feedback token that works on acme's interaction
        token = http.post(
            "/v1/feedback-tokens",
            json={"interaction_id": iid},
            headers=api.auth("globex", "ingest"),
        ).json()["token"]
        posted = http.post(
            "/v1/browser/feedback",
            json={"kind": "signal", "name": "copy"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert posted.status_code == 422
    assert api.store.feedback("acme").height == 0
    assert api.store.feedback("globex").height == 0
    assert stored_ids(api.store, "acme") == {UUID(iid)}


def test_unseen_keys_are_verified_off_the_event_loop(tmp_path: Path) -> None:
    """A store lookup must not run on the event loop; the verifier still decides every time."""
    with open_store(f"sqlite:///{tmp_path / 'keys.db'}") as store:
        store.put_tenant(Tenant(id="acme"))
        key, secret = ApiKey.issue("acme", ("ingest",))
        store.put_api_key(key)
        lookups: list[str] = []

        class Recording:
            def find_api_key(self, key_hash: str) -> ApiKey | None:
                lookups.append(threading.current_thread().name)
                return store.find_api_key(key_hash)

        verifier = KeyVerifier(Recording(), ttl_s=60.0)  # type: ignore[arg-type]
        auth = LoopAuthenticator(verifier)
        header = f"Bearer {secret}"

        async def scenario() -> None:
            loop_thread = threading.current_thread().name
            assert (await auth.principal(header, "ingest")).tenant_id == "acme"
            assert lookups  # first sight: looked up in the pool
            assert loop_thread not in lookups
            with pytest.raises(AuthenticationError):
                await auth.principal("Bearer atlas_unknown", "ingest")
            assert loop_thread not in lookups
            # seen: inline, answered from the verifier's cache (no new lookup)
            before = len(lookups)
            assert (await auth.principal(header, "ingest")).key_id == key.id
            assert len(lookups) == before
            # a revocation still wins on the inline path
            store.revoke_api_key("acme", key.id)
            verifier.invalidate()
            with pytest.raises(AuthenticationError, match="revoked"):
                await auth.principal(header, "ingest")

        asyncio.run(scenario())
