"""``atlas versions``: list versions, promote one (blue-green), roll a family back.

Every command takes ``--store URL`` (default: the configured ``store.url``, i.e.
``ATLAS_STORE_URL``), ``--config PATH`` and ``--tenant`` (default ``default``). Promotion
and rollback go through :class:`atlas_core.loop.rollout.Rollout`, so they move the same
aliases, statuses and persisted rollout state as the learning loop. Errors print one line
to stderr and exit with status 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from atlas_core.config import load_config
from atlas_core.errors import AtlasError
from atlas_core.loop.rollout import Rollout
from atlas_core.loop.rollout_state import Phase, load_state, rollout_history
from atlas_core.store import Store, open_store
from atlas_core.types import VersionKind

__all__ = ["versions_app"]

versions_app = typer.Typer(
    help="List, promote and roll back learned versions.", no_args_is_help=True
)
_out = Console(width=200)
_err = Console(stderr=True)

StoreOption = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: store.url of the config).")
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="atlas.yaml to read (default: ATLAS_CONFIG).")
]
TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant.")]


@contextmanager
def _context(url: str | None, config: Path | None) -> Iterator[tuple[Store, Path | None]]:
    """The store to act on; an Atlas error anywhere inside becomes a message and exit 1."""
    try:
        with open_store(url or load_config(config).store.url) as store:
            yield store, config
    except (AtlasError, ValueError) as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _rollout(
    store: Store, tenant: str, kind: VersionKind, name: str, config: Path | None
) -> Rollout:
    return Rollout(store, tenant, kind, name, load_config(config).loop.rollout)


@versions_app.command("list")
def list_versions(
    tenant: TenantOption = "default",
    kind: Annotated[VersionKind | None, typer.Option("--kind", help="Only this kind.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only this family name.")] = None,
    store_url: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Versions with status, aliases and gate score, then each family's rollout."""
    with _context(store_url, config) as (store, _):
        versions = store.versions(tenant, kind, name)
        families = sorted({(v.kind, v.name) for v in versions})
        states = [s for k, n in families if (s := load_state(store, tenant, k, n)) is not None]
        logs = {(s.kind, s.name): rollout_history(store, tenant, s.kind, s.name) for s in states}
    table = Table(title=f"Versions of tenant {tenant}")
    for column in ("kind", "name", "#", "id", "status", "aliases", "gate", "bwt", "created"):
        table.add_column(column, no_wrap=column == "id")
    for v in versions:
        gate = v.metrics.get("gate.candidate")
        bwt = v.metrics.get("gate.bwt")
        table.add_row(
            v.kind.value,
            v.name,
            str(v.number),
            str(v.id),
            v.status.value,
            ", ".join(v.aliases) or "-",
            f"{gate:.3f}" if gate is not None else "-",
            f"{bwt:+.3f}" if bwt is not None else "-",
            f"{v.created_at:%Y-%m-%d %H:%M:%S}",
        )
    _out.print(table)
    for s in states:
        log = logs[(s.kind, s.name)]
        promoted = sum(e.phase is Phase.PROMOTED for e in log)
        _out.print(
            f"rollout {s.kind.value}/{s.name}: {s.phase.value} at {s.weight:g}% "
            f"(candidate {s.candidate_id}, stable {s.stable_id}): {s.reason}\n"
            f"  finished rollouts: {promoted} promoted, {len(log) - promoted} rolled back",
            markup=False,
            highlight=False,
        )


@versions_app.command("promote")
def promote(
    version_id: Annotated[str, typer.Argument(help="Id of the version to make production.")],
    tenant: TenantOption = "default",
    store_url: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Make a version production now (blue-green; ends its canary if it is in one)."""
    with _context(store_url, config) as (store, cfg):
        try:
            parsed = UUID(version_id)
        except ValueError:
            raise ValueError(f"version_id: not a version id: {version_id!r}") from None
        version = store.get_version(tenant, parsed)
        if version is None:
            raise ValueError(f"version_id: no version {parsed} for tenant {tenant!r}")
        state = _rollout(store, tenant, version.kind, version.name, cfg).switch(
            version, "promoted from the command line"
        )
    _out.print(
        f"{version.kind.value}/{version.name} #{version.number} ({parsed}) is production; "
        f"previous: {state.stable_id}",
        markup=False,
        highlight=False,
    )


@versions_app.command("rollback")
def rollback(
    kind: Annotated[VersionKind, typer.Argument(help="prompt, model or playbook.")],
    name: Annotated[str, typer.Argument(help="The family name.")],
    tenant: TenantOption = "default",
    store_url: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Roll a family back: reject its in-flight candidate, or revert the last promotion."""
    with _context(store_url, config) as (store, cfg):
        state = _rollout(store, tenant, kind, name, cfg).rollback(
            "rolled back from the command line"
        )
    _out.print(
        f"{kind.value}/{name}: production is {state.stable_id}; {state.candidate_id} rejected",
        markup=False,
        highlight=False,
    )
