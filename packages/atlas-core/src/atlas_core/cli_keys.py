"""``atlas keys`` and ``atlas tenants``: manage tenants and their API keys in a store.

A key's secret is printed once, by ``keys create``; the store keeps only its hash, and
``keys list`` shows ids, names, scopes and a short hash prefix, never a secret.
Every command takes ``--store URL`` (default: the configured ``store.url``) and
``--config PATH``. ``keys dashboard-link`` prints a signed, expiring, read-only link to a
tenant's dashboard (signed with the same secrets ``atlas serve`` verifies with).
Errors print one line to stderr and exit with status 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from atlas_core.auth.keys import check_scopes
from atlas_core.config import load_config
from atlas_core.errors import AtlasError
from atlas_core.store import Store, open_store
from atlas_core.types import ApiKey, Tenant

__all__ = ["keys_app", "tenants_app"]

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
tenants_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)

StoreOption = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: store.url of the config).")
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="atlas.yaml to read (default: ATLAS_CONFIG).")
]
TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant the keys belong to.")]


@contextmanager
def _store(url: str | None, config: Path | None) -> Iterator[Store]:
    """The store to act on; an Atlas error anywhere inside becomes a message and exit 1."""
    try:
        with open_store(url or load_config(config).store.url) as store:
            yield store
    except (AtlasError, ValueError) as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _line(text: str) -> None:
    _out.print(text, markup=False, highlight=False, soft_wrap=True)


def _require_tenant(store: Store, tenant: str) -> None:
    if tenant not in {t.id for t in store.tenants()}:
        raise ValueError(f"tenant: no tenant {tenant!r}; create it with `atlas tenants create`")


@keys_app.command("create")
def create_key(
    tenant: TenantOption,
    scope: Annotated[
        list[str], typer.Option("--scope", help="A scope to grant: ingest, read or admin.")
    ],
    name: Annotated[str, typer.Option("--name", help="What the key is for.")] = "",
    store_url: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Issue a key and print its secret ONCE (only its hash is stored)."""
    with _store(store_url, config) as store:
        _require_tenant(store, tenant)
        key, secret = ApiKey.issue(tenant, check_scopes(scope), name=name)
        store.put_api_key(key)
    _line(f"key id:  {key.id}")
    _line(f"scopes:  {', '.join(key.scopes)}")
    _line(f"secret:  {secret}")
    _line("Store the secret now: it cannot be shown again.")


@keys_app.command("list")
def list_keys(
    tenant: TenantOption, store_url: StoreOption = None, config: ConfigOption = None
) -> None:
    """List the tenant's keys (revoked ones too); shows an 8-digit hash prefix, never a secret."""
    with _store(store_url, config) as store:
        keys = store.api_keys(tenant)
    # Plain aligned lines rather than a table: a narrow terminal must not truncate ids.
    _line(f"{'id':36}  {'status':7}  {'hash':9}  {'created':20}  {'scopes':20}  name")
    for key in keys:
        _line(
            f"{key.id!s:36}  {'revoked' if key.revoked else 'active':7}  {key.key_hash[:8] + '…':9}"
            f"  {key.created_at:%Y-%m-%d %H:%M:%SZ}  {','.join(key.scopes):20}  {key.name or '-'}"
        )


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="Id of the key to revoke.")],
    tenant: TenantOption,
    store_url: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke a key; running servers refuse it within their key-cache TTL."""
    with _store(store_url, config) as store:
        try:
            parsed = UUID(key_id)
        except ValueError:
            raise ValueError(f"key_id: not a key id: {key_id!r}") from None
        store.revoke_api_key(tenant, parsed)
    _line(f"revoked {parsed}")


@keys_app.command("dashboard-link")
def dashboard_link(
    tenant: TenantOption,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url", help="Where atlas serve answers (default: http://serve.host:http_port)."
        ),
    ] = None,
    ttl: Annotated[
        int | None,
        typer.Option("--ttl", help="Lifetime in s (default: monitoring.dashboard_link_ttl_s)."),
    ] = None,
    store_url: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Print a signed, expiring, read-only link to the tenant's dashboard (no API key in it)."""
    from atlas_core.monitoring.dashboard.links import DashboardLinks

    cfg = load_config(config)
    with _store(store_url, config) as store:
        _require_tenant(store, tenant)
        if ttl is not None and ttl < 1:
            raise ValueError(f"ttl: must be >= 1, got {ttl}")
        links = DashboardLinks.from_config(cfg)
        base = base_url or f"http://{cfg.serve.host}:{cfg.serve.http_port}"
        url = links.url(base, tenant, ttl_s=ttl)
    _line(url)
    _line(
        f"Read-only, tenant {tenant}, expires in {ttl or links.ttl_s} s; anyone holding it "
        "can read this dashboard until then."
    )


@tenants_app.command("create")
def create_tenant(
    tenant_id: Annotated[str, typer.Argument(help="Slug: letters, digits, '.', '_', '-'.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    store_url: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a tenant (idempotent)."""
    with _store(store_url, config) as store:
        store.put_tenant(Tenant(id=tenant_id, name=name))
    _line(f"tenant {tenant_id}")


@tenants_app.command("list")
def list_tenants(store_url: StoreOption = None, config: ConfigOption = None) -> None:
    """List every tenant."""
    with _store(store_url, config) as store:
        tenants = store.tenants()
    _line(f"{'id':30}  {'created':20}  name")
    for t in tenants:
        _line(f"{t.id:30}  {t.created_at:%Y-%m-%d %H:%M:%SZ}  {t.name or '-'}")
