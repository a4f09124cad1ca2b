"""API-key verification: principal, typed errors, scopes, and the TTL cache's revocation bound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_core.auth.keys import KeyVerifier, bearer_secret, check_scopes
from atlas_core.config import load_config
from atlas_core.errors import AuthenticationError, InvalidArgumentError, PermissionDeniedError
from atlas_core.store import Store, open_store
from atlas_core.types import ApiKey, Tenant


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """Wraps a store and counts key lookups, to prove the cache spares the store."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.lookups = 0

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        self.lookups += 1
        return self.inner.find_api_key(key_hash)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'atlas.db'}") as s:
        s.put_tenant(Tenant(id="acme"))
        yield s


def _issue(store: Store, *scopes: str, tenant: str = "acme") -> tuple[ApiKey, str]:
    key, secret = ApiKey.issue(tenant, scopes)
    store.put_api_key(key)
    return key, secret


def test_valid_key_gives_its_principal(store: Store) -> None:
    key, secret = _issue(store, "ingest", "read")
    principal = KeyVerifier(store).authenticate(secret, scope="ingest")
    assert principal.tenant_id == "acme"
    assert principal.key_id == key.id
    assert principal.scopes == {"ingest", "read"}


def test_missing_scope_is_permission_denied(store: Store) -> None:
    _, secret = _issue(store, "ingest")
    verifier = KeyVerifier(store)
    with pytest.raises(PermissionDeniedError, match="'read'"):
        verifier.authenticate(secret, scope="read")
    principal = verifier.authenticate(secret)
    with pytest.raises(PermissionDeniedError):
        principal.require("admin")


def test_admin_holds_every_scope(store: Store) -> None:
    _, secret = _issue(store, "admin")
    principal = KeyVerifier(store).authenticate(secret)
    assert principal.scopes == frozenset({"admin"})
    # `require` raises PermissionDeniedError for a scope the key lacks; admin lacks none.
    principal.require("read")
    principal.require("ingest")
    assert KeyVerifier(store).authenticate(secret, scope="read").tenant_id == principal.tenant_id


@pytest.mark.parametrize("secret", ["", "nope", "atlas_" + "x" * 43])
def test_unknown_or_malformed_is_authentication_error(store: Store, secret: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        KeyVerifier(store).authenticate(secret)
    assert not isinstance(info.value, PermissionDeniedError)
    if secret:
        assert secret not in str(info.value)  # never echo a secret


def test_key_of_other_tenant_acts_for_that_tenant_only(store: Store) -> None:
    store.put_tenant(Tenant(id="globex"))
    _, secret = _issue(store, "read", tenant="globex")
    assert KeyVerifier(store).authenticate(secret).tenant_id == "globex"


def test_revocation_takes_effect_within_ttl(store: Store) -> None:
    key, secret = _issue(store, "ingest")
    clock = Clock()
    counting = CountingStore(store)
    verifier = KeyVerifier(counting, ttl_s=5.0, clock=clock)  # type: ignore[arg-type]
    verifier.authenticate(secret)
    store.revoke_api_key("acme", key.id)
    clock.now += 4.9
    verifier.authenticate(secret)  # still cached: within the documented bound
    assert counting.lookups == 1
    clock.now += 0.2
    with pytest.raises(AuthenticationError, match="revoked"):
        verifier.authenticate(secret)
    assert counting.lookups == 2


def test_invalidate_makes_revocation_immediate(store: Store) -> None:
    key, secret = _issue(store, "ingest")
    verifier = KeyVerifier(store, ttl_s=60.0)
    verifier.authenticate(secret)
    store.revoke_api_key("acme", key.id)
    verifier.invalidate()
    with pytest.raises(AuthenticationError, match="revoked"):
        verifier.authenticate(secret)


def test_misses_are_cached_and_cache_is_bounded(store: Store) -> None:
    clock = Clock()
    counting = CountingStore(store)
    verifier = KeyVerifier(counting, ttl_s=5.0, max_entries=2, clock=clock)  # type: ignore[arg-type]
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            verifier.authenticate("atlas_missing")
    assert counting.lookups == 1
    for i in range(3):
        with pytest.raises(AuthenticationError):
            verifier.authenticate(f"atlas_other{i}")
    with pytest.raises(AuthenticationError):
        verifier.authenticate("atlas_missing")  # evicted: looked up again
    assert counting.lookups == 5


def test_cached_authentication_answers_only_from_the_cache(store: Store) -> None:
    # An event loop asks the cache first and reads the store on a thread only on a miss.
    clock = Clock()
    counting = CountingStore(store)
    verifier = KeyVerifier(counting, ttl_s=5.0, clock=clock)  # type: ignore[arg-type]
    key, secret = _issue(store, "ingest")
    assert verifier.authenticate_cached(secret, "ingest") is None  # not looked up yet
    assert counting.lookups == 0
    verifier.authenticate(secret, "ingest")
    principal = verifier.authenticate_cached(secret, "ingest")
    assert principal is not None
    assert principal.key_id == key.id
    with pytest.raises(PermissionDeniedError):
        verifier.authenticate_cached(secret, "read")
    with pytest.raises(AuthenticationError, match="malformed"):
        verifier.authenticate_cached("not-a-key")
    clock.now += 5.1
    assert verifier.authenticate_cached(secret, "ingest") is None  # expired: ask the store
    assert counting.lookups == 1


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="scopes"):
        check_scopes(["ingest", "write"])
    with pytest.raises(InvalidArgumentError, match="scopes"):
        check_scopes([])
    assert check_scopes(["read", "ingest", "read"]) == ("read", "ingest")


def test_bearer_secret() -> None:
    assert bearer_secret("Bearer atlas_abc") == "atlas_abc"
    assert bearer_secret("  bearer   atlas_abc ") == "atlas_abc"
    for bad in (None, "", "Basic dXNlcg==", "Bearer ", "atlas_abc"):
        with pytest.raises(AuthenticationError):
            bearer_secret(bad)


def test_from_config_uses_the_configured_ttl(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLAS_SERVE__KEY_CACHE_TTL_S", "0")
    key, secret = _issue(store, "read")
    verifier = KeyVerifier.from_config(store, load_config())
    verifier.authenticate(secret)
    store.revoke_api_key("acme", key.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        verifier.authenticate(secret)  # TTL 0: no caching
