"""API-key authentication: a presented secret becomes a :class:`Principal`, or a typed error.

Only the SHA-256 hash of a secret is stored (:meth:`ApiKey.hash_secret`). The
:class:`KeyVerifier` caches each lookup (hit or miss) for ``ttl_s`` seconds, so the
hot path does not query the store per request. Contract: a revocation (or a newly
created key) takes effect within ``ttl_s`` seconds in every verifier; call
:meth:`KeyVerifier.invalidate` to make it immediate in this process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from atlas_core.config.models import AtlasConfig
from atlas_core.errors import AuthenticationError, InvalidArgumentError, PermissionDeniedError
from atlas_core.store import Store
from atlas_core.types import ApiKey

__all__ = ["SCOPES", "KeyVerifier", "Principal", "bearer_secret", "check_scopes"]

SCOPES: Final = ("ingest", "read", "admin")
_SECRET_PREFIX = "atlas_"


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes, deduplicated in a stable order; InvalidArgumentError names an unknown one."""
    chosen = tuple(dict.fromkeys(scopes))
    if not chosen:
        raise InvalidArgumentError(f"scopes: give at least one of {', '.join(SCOPES)}")
    for scope in chosen:
        if scope not in SCOPES:
            raise InvalidArgumentError(
                f"scopes: unknown scope {scope!r}; known: {', '.join(SCOPES)}"
            )
    return chosen


def bearer_secret(authorization: str | None) -> str:
    """The secret of an ``Authorization: Bearer <secret>`` value (HTTP header or gRPC metadata).

    Raises AuthenticationError when the value is missing or not a bearer credential.
    """
    if not authorization:
        raise AuthenticationError("API key: missing (send 'Authorization: Bearer atlas_...')")
    scheme, _, secret = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationError("API key: expected 'Authorization: Bearer atlas_...'")
    return secret.strip()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: the tenant, the key and what it may do."""

    tenant_id: str
    key_id: UUID
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        """Raises PermissionDeniedError unless the key holds ``scope`` (``admin`` holds all)."""
        if scope not in SCOPES:
            raise InvalidArgumentError(f"scope: unknown scope {scope!r}")
        if scope not in self.scopes and "admin" not in self.scopes:
            raise PermissionDeniedError(
                f"key {self.key_id} of tenant {self.tenant_id!r} lacks the {scope!r} scope"
            )


class KeyVerifier:
    """Verifies API-key secrets against a store, with a bounded TTL cache (thread-safe).

    ``clock`` is injectable (monotonic seconds) so tests can move time.
    :meth:`from_config` takes the TTL from ``serve.key_cache_ttl_s``.
    """

    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not ttl_s >= 0:
            raise InvalidArgumentError(f"ttl_s: must be >= 0, got {ttl_s}")
        if max_entries < 1:
            raise InvalidArgumentError(f"max_entries: must be >= 1, got {max_entries}")
        self._store = store
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # hash -> (expires_at, key or None); a miss is cached too, so a flood of bad keys
        # does not reach the store either.
        self._cache: OrderedDict[str, tuple[float, ApiKey | None]] = OrderedDict()

    @classmethod
    def from_config(cls, store: Store, config: AtlasConfig) -> KeyVerifier:
        """A verifier over ``store`` whose cache TTL is ``serve.key_cache_ttl_s``."""
        return cls(store, ttl_s=config.serve.key_cache_ttl_s)

    def _cached(self, key_hash: str) -> tuple[bool, ApiKey | None]:
        """``(True, lookup)`` when the cache holds an unexpired lookup; ``(False, None)``."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key_hash)
            if hit is not None and hit[0] > now:
                return True, hit[1]
        return False, None

    def _lookup(self, key_hash: str) -> ApiKey | None:
        found, key = self._cached(key_hash)
        if found:
            return key
        now = self._clock()
        key = self._store.find_api_key(key_hash)
        with self._lock:
            self._cache[key_hash] = (now + self._ttl, key)
            self._cache.move_to_end(key_hash)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return key

    def authenticate(self, secret: str, scope: str | None = None) -> Principal:
        """The principal of ``secret``; with ``scope``, also checks the key holds it.

        Raises AuthenticationError (malformed, unknown or revoked key) or
        PermissionDeniedError (valid key without ``scope``). Messages never echo the secret.
        """
        return _principal(self._lookup(_hash_of(secret)), scope)

    def authenticate_cached(self, secret: str, scope: str | None = None) -> Principal | None:
        """:meth:`authenticate` when the cache answers without reading the store; None when
        the store must be asked. For an event loop, which must not wait on the store."""
        found, key = self._cached(_hash_of(secret))
        return _principal(key, scope) if found else None

    def invalidate(self) -> None:
        """Forgets every cached lookup (e.g. after a revocation made by this process)."""
        with self._lock:
            self._cache.clear()


def _hash_of(secret: str) -> str:
    if not isinstance(secret, str) or not secret.startswith(_SECRET_PREFIX):
        raise AuthenticationError("API key: malformed (expected 'atlas_...')")
    return ApiKey.hash_secret(secret)


def _principal(key: ApiKey | None, scope: str | None) -> Principal:
    if key is None:
        raise AuthenticationError("API key: unknown")
    if key.revoked:
        raise AuthenticationError(f"API key {key.id}: revoked")
    principal = Principal(key.tenant_id, key.id, frozenset(key.scopes))
    if scope is not None:
        principal.require(scope)
    return principal
