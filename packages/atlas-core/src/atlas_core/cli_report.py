"""``atlas report``: writes a tenant's learning-effectiveness report (Markdown and HTML).

Takes ``--store URL`` (default: the configured ``store.url``, i.e. ``ATLAS_STORE_URL``),
``--config PATH``, ``--tenant`` and ``--out DIR``; ``--since`` (ISO 8601, UTC when no zone
is given) limits the data, ``--format md,html`` picks the outputs. Errors print one line to
stderr and exit with status 1.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from atlas_core.config import load_config
from atlas_core.errors import AtlasError, InvalidArgumentError
from atlas_core.report import DEFAULT_WINDOW, write_report
from atlas_core.report.document import signed
from atlas_core.store import open_store

__all__ = ["report"]

_out = Console(width=200)
_err = Console(stderr=True)


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(
            f"--since: not an ISO 8601 date or time: {text!r} (e.g. 2026-01-31T12:00:00Z)"
        ) from None


def report(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the report into.")],
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant.")] = "default",
    store_url: Annotated[
        str | None, typer.Option("--store", help="Store URL (default: store.url of the config).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="atlas.yaml to read (default: ATLAS_CONFIG).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only data from this ISO 8601 time on.")
    ] = None,
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated outputs: md, html.")
    ] = "md,html",
    title: Annotated[str | None, typer.Option("--title", help="The report's title.")] = None,
    window: Annotated[
        int, typer.Option("--window", help="Rewarded interactions per comparison window.")
    ] = DEFAULT_WINDOW,
) -> None:
    """Write the learning-effectiveness report of a tenant (report.md + PNGs, report.html)."""
    try:
        wanted = [f.strip() for f in formats.split(",") if f.strip()]
        with open_store(store_url or load_config(config).store.url) as store:
            files = write_report(
                store,
                tenant,
                out,
                title=title,
                since=_since(since),
                formats=wanted,
                window=window,
            )
    except (AtlasError, ValueError) as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    r = files.report
    _out.print(
        f"{r.counts.updates} updates, {r.counts.promotions} promoted, "
        f"{r.counts.rollbacks} rolled back; average live improvement "
        f"{signed(r.average_live_improvement)}",
        markup=False,
        highlight=False,
    )
    for path in (files.markdown, files.html):
        if path is not None:
            _out.print(f"wrote {path}", markup=False, highlight=False)
