"""``atlas traces export``: send a store's recorded interactions to an OTLP receiver.

Each interaction becomes a trace (see :mod:`atlas_core.telemetry.spans`) with its latest
reward; ids derive from the interaction ids, so re-running the same export is harmless.
Settings not given as options come from the ``telemetry`` section of the configuration
(and so from the standard ``OTEL_EXPORTER_OTLP_*`` variables). Errors print one line to
stderr and exit with status 1. Needs the ``otel`` extra.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from atlas_core.config import load_config
from atlas_core.errors import AtlasError, InvalidArgumentError
from atlas_core.store import open_store

__all__ = ["parse_time", "traces_app"]

traces_app = typer.Typer(
    help="Export interaction traces over OpenTelemetry (OTLP).", no_args_is_help=True
)
_out = Console(soft_wrap=True)
_err = Console(stderr=True, soft_wrap=True)

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_time(value: str, name: str, now: datetime | None = None) -> datetime:
    """An ISO-8601 time (naive means UTC) or an age like ``30m``, ``24h``, ``7d`` (that long
    before ``now``); InvalidArgumentError naming ``name`` otherwise."""
    match = _RELATIVE.match(value.strip())
    if match:
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidArgumentError(
            f"invalid argument `{name}`: an ISO time (2026-05-01T12:00:00Z) or an age "
            f"(30m, 24h, 7d), got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _headers(items: list[str]) -> dict[str, str]:
    headers = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidArgumentError(f"invalid argument `--header`: KEY=VALUE, got {item!r}")
        headers[key.strip()] = value
    return headers


@traces_app.command("export")
def export(
    endpoint: Annotated[
        str | None,
        typer.Option(help="OTLP traces URL (default: telemetry.endpoint, OTEL_EXPORTER_OTLP_*)."),
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: store.url of the config).")
    ] = None,
    tenant: Annotated[str, typer.Option(help="The tenant.")] = "default",
    since: Annotated[
        str | None, typer.Option(help="From this time: ISO-8601 or an age (30m, 24h, 7d).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Before this time: ISO-8601 or an age.")] = None,
    learning_key: Annotated[
        list[str] | None, typer.Option("--learning-key", help="Only this key (repeatable).")
    ] = None,
    protocol: Annotated[
        str | None, typer.Option(help="http/protobuf or grpc (default: telemetry.protocol).")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="KEY=VALUE sent with each request.")
    ] = None,
    include_content: Annotated[
        bool | None,
        typer.Option(
            "--include-content/--no-content",
            help="Put prompts and answers on the spans (default: telemetry.include_content).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Interactions per request.")] = 256,
    timeout: Annotated[
        float | None,
        typer.Option(help="Seconds one request may take, retries included (telemetry.timeout_s)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="atlas.yaml to read (default: ATLAS_CONFIG).")
    ] = None,
) -> None:
    """Export the tenant's interactions (each with its latest reward) as traces."""
    try:
        from atlas_core.telemetry.batch import export_interactions
        from atlas_core.telemetry.exporter import build_exporter
        from atlas_core.telemetry.spans import SpanOptions, resource_for

        cfg = load_config(config)
        tel = cfg.telemetry
        chosen = protocol or tel.protocol
        if chosen not in ("http/protobuf", "grpc"):
            raise InvalidArgumentError(
                f"invalid argument `--protocol`: http/protobuf or grpc, got {chosen!r}"
            )
        headers = {k: v.get_secret_value() for k, v in tel.headers.items()}
        headers.update(_headers(header or []))
        exporter = build_exporter(
            endpoint or tel.endpoint,
            protocol="grpc" if chosen == "grpc" else "http/protobuf",
            headers=headers or None,
            timeout_s=tel.timeout_s if timeout is None else timeout,
        )
        options = SpanOptions(
            tel.include_content if include_content is None else include_content,
            tel.max_content_chars,
        )
        start = parse_time(since, "--since") if since else None
        end = parse_time(until, "--until") if until else None
        try:
            with open_store(store or cfg.store.url) as opened:
                report = export_interactions(
                    opened,
                    tenant,
                    exporter,
                    since=start,
                    until=end,
                    learning_keys=learning_key,
                    batch_size=batch_size,
                    resource=resource_for(tel.service_name),
                    options=options,
                )
        finally:
            exporter.shutdown()
    except (AtlasError, ValueError) as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    _out.print(
        f"exported {report.interactions} interactions ({report.spans} spans) in "
        f"{report.requests} requests to {report.endpoint}",
        markup=False,
        highlight=False,
    )
