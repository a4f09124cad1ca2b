"""Versions and aliases, learning runs, replay priorities, tenants and API keys (both back-ends)."""

from __future__ import annotations

from uuid import UUID

import pytest

from atlas_core.errors import InvalidArgumentError
from atlas_core.ids import new_ids
from atlas_core.store import Store, StoreError
from atlas_core.types import ApiKey, LearningRun, Tenant, Version, VersionKind, VersionStatus


def _version(number: int, tenant: str = "acme", **kw: object) -> Version:
    return Version(
        tenant_id=tenant,
        kind=VersionKind.PROMPT,
        name="support",
        number=number,
        artifact_uri=f"prompts/support/{number}.txt",
        **kw,  # type: ignore[arg-type]
    )


def test_versions_and_movable_aliases(store: Store) -> None:
    v1, v2 = _version(1, metrics={"reward": 0.6}), _version(2)
    store.put_version(v1)
    store.put_version(v2.model_copy(update={"parent_id": v1.id}))
    assert [v.number for v in store.versions("acme", VersionKind.PROMPT, "support")] == [1, 2]
    assert store.get_version("acme", v2.id).parent_id == v1.id  # type: ignore[union-attr]
    assert store.get_version("acme", v1.id).metrics == {"reward": 0.6}  # type: ignore[union-attr]

    store.set_alias("acme", "production", v1.id)
    store.set_alias("acme", "canary", v2.id)
    assert store.resolve_alias("acme", VersionKind.PROMPT, "support", "production").id == v1.id  # type: ignore[union-attr]
    # Promote: the alias moves, it is never duplicated.
    store.set_alias("acme", "production", v2.id)
    current = store.resolve_alias("acme", VersionKind.PROMPT, "support", "production")
    assert current is not None
    assert current.id == v2.id
    assert set(current.aliases) == {"canary", "production"}
    assert store.get_version("acme", v1.id).aliases == ()  # type: ignore[union-attr]

    store.set_status("acme", v1.id, VersionStatus.RETIRED)
    assert store.get_version("acme", v1.id).status is VersionStatus.RETIRED  # type: ignore[union-attr]
    assert store.resolve_alias("acme", VersionKind.PROMPT, "support", "missing") is None


def test_version_number_is_unique_and_tenants_are_separate(store: Store) -> None:
    v1 = _version(1)
    store.put_version(v1)
    with pytest.raises(StoreError):
        store.put_version(_version(1))
    store.put_version(_version(1, tenant="globex"))  # same number, other tenant: fine
    assert store.get_version("globex", v1.id) is None
    with pytest.raises(InvalidArgumentError, match="version_id"):
        store.set_alias("globex", "production", v1.id)
    with pytest.raises(InvalidArgumentError, match="version_id"):
        store.set_status("globex", v1.id, VersionStatus.REJECTED)
    assert store.resolve_alias("globex", VersionKind.PROMPT, "support", "production") is None


def test_learning_runs_round_trip_and_are_idempotent(store: Store) -> None:
    run = LearningRun(
        tenant_id="acme",
        trigger="drift",
        reason="reward dropped 0.1",
        learner="gepa",
        samples_used=128,
        metrics_before={"reward": 0.5},
        metrics_after={"reward": 0.6},
        duration_s=3.5,
        outcome="candidate",
    )
    store.record_run(run)
    store.record_run(run)
    assert store.learning_runs("acme") == [run]
    assert store.learning_runs("globex") == []


def test_replay_priorities_survive_reopen(store_url: str) -> None:
    from atlas_core.store import open_store

    ids = new_ids(3)
    with open_store(store_url) as first:
        first.save_priorities("acme", "replay-main", ids, [1.0, 2.0, 3.0])
        first.save_priorities("acme", "replay-main", ids[:1], [5.0])  # update
    with open_store(store_url) as second:
        frame = second.load_priorities("acme", "replay-main")
        assert dict(zip(frame["item_id"], frame["priority"], strict=True)) == {
            ids[0]: 5.0,
            ids[1]: 2.0,
            ids[2]: 3.0,
        }
        assert second.load_priorities("globex", "replay-main").height == 0
        with pytest.raises(InvalidArgumentError, match="priorities"):
            second.save_priorities("acme", "b", ids, [1.0])
        with pytest.raises(InvalidArgumentError, match=r"priorities\[0\]"):
            second.save_priorities("acme", "b", ids[:1], [float("nan")])


def test_tenants_and_hashed_api_keys(store: Store) -> None:
    store.put_tenant(Tenant(id="acme", name="Acme"))
    store.put_tenant(Tenant(id="acme", name="Acme"))
    assert [t.id for t in store.tenants()] == ["acme"]
    key, secret = ApiKey.issue("acme", ("ingest", "read"), name="server")
    store.put_api_key(key)
    found = store.find_api_key(ApiKey.hash_secret(secret))
    assert found is not None
    assert found.verify(secret)
    assert found.scopes == ("ingest", "read")
    assert secret not in found.model_dump_json()  # only the hash is stored
    assert store.find_api_key(ApiKey.hash_secret("atlas_wrong")) is None
    with pytest.raises(InvalidArgumentError):
        store.revoke_api_key("globex", key.id)
    store.revoke_api_key("acme", key.id)
    revoked = store.find_api_key(key.key_hash)
    assert revoked is not None
    assert revoked.revoked
    assert not revoked.verify(secret)
    assert isinstance(revoked.id, UUID)
