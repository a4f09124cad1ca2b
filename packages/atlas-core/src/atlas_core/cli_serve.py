"""``atlas serve``: run the ingestion service (gRPC + HTTP) in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from atlas_core.config import ServeConfig, StoreConfig, load_config
from atlas_core.errors import ConfigError

__all__ = ["serve"]

_FIELDS = ServeConfig.model_fields


def _help(name: str) -> str:
    field = _FIELDS[name]
    return f"{field.description} (config serve.{name}; default {field.default})"


def serve(
    config: Annotated[
        Path | None,
        typer.Option(help="atlas.yaml to read (default: ./atlas.yaml or $ATLAS_CONFIG)."),
    ] = None,
    store_url: Annotated[
        str | None,
        typer.Option(help="Store URL: sqlite:///path or postgresql://... (config store.url)"),
    ] = None,
    host: Annotated[str | None, typer.Option(help=_help("host"))] = None,
    grpc_port: Annotated[int | None, typer.Option(help=_help("grpc_port"))] = None,
    http_port: Annotated[int | None, typer.Option(help=_help("http_port"))] = None,
    max_request_bytes: Annotated[int | None, typer.Option(help=_help("max_request_bytes"))] = None,
    max_batch_events: Annotated[int | None, typer.Option(help=_help("max_batch_events"))] = None,
    rate_limit: Annotated[float | None, typer.Option(help=_help("rate_limit_events_per_s"))] = None,
    rate_burst: Annotated[int | None, typer.Option(help=_help("rate_limit_burst"))] = None,
    workers: Annotated[int | None, typer.Option(help=_help("workers"))] = None,
    buffer_capacity: Annotated[int | None, typer.Option(help=_help("buffer_capacity"))] = None,
    shutdown_grace: Annotated[float | None, typer.Option(help=_help("shutdown_grace_s"))] = None,
) -> None:
    """Serve gRPC and HTTP ingest, reads, health and /metrics until SIGTERM (then drain).

    Every option overrides atlas.yaml and ATLAS_* variables; `atlas config fields` lists
    every setting.
    """
    from atlas_core.serve.server import serve_forever  # heavy imports only when serving

    cfg = load_config(config)
    overrides: dict[str, Any] = {
        "host": host,
        "grpc_port": grpc_port,
        "http_port": http_port,
        "max_request_bytes": max_request_bytes,
        "max_batch_events": max_batch_events,
        "rate_limit_events_per_s": rate_limit,
        "rate_limit_burst": rate_burst,
        "workers": workers,
        "buffer_capacity": buffer_capacity,
        "shutdown_grace_s": shutdown_grace,
    }
    try:
        serve_cfg = ServeConfig.model_validate(
            {**cfg.serve.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
        )
        store_cfg = StoreConfig(url=store_url) if store_url else cfg.store
    except ValidationError as err:
        raise ConfigError(f"atlas serve: {err}") from None
    raise typer.Exit(serve_forever(cfg.model_copy(update={"serve": serve_cfg, "store": store_cfg})))
