"""``atlas runs log``: replay a store's learning runs and rollouts into mlflow or wandb.

Needs ``atlas-core[tracking]``. Errors print one line to stderr and exit with status 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from atlas_core.config import load_config
from atlas_core.errors import AtlasError, InvalidArgumentError
from atlas_core.store import open_store
from atlas_core.tracking.base import RunLogger

__all__ = ["runs_app"]

runs_app = typer.Typer(
    help="Log learning runs and rollouts to an experiment tracker.", no_args_is_help=True
)
_out = Console(soft_wrap=True)
_err = Console(stderr=True, soft_wrap=True)


@runs_app.command("log")
def log_runs(
    to: Annotated[str, typer.Option("--to", help="mlflow or wandb.")],
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: store.url of the config).")
    ] = None,
    tenant: Annotated[str, typer.Option(help="The tenant.")] = "default",
    since: Annotated[
        str | None, typer.Option(help="Only from this time: ISO-8601 or an age (30m, 24h, 7d).")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="mlflow tracking URI (default: MLFLOW_TRACKING_URI).")
    ] = None,
    experiment: Annotated[str, typer.Option(help="mlflow experiment name.")] = "atlas",
    project: Annotated[str, typer.Option(help="wandb project.")] = "atlas",
    entity: Annotated[str | None, typer.Option(help="wandb entity (team or user).")] = None,
    wandb_mode: Annotated[
        str | None, typer.Option(help="wandb mode: online, offline (default: WANDB_MODE).")
    ] = None,
    wandb_dir: Annotated[
        Path | None, typer.Option(help="Where wandb writes its files (default: WANDB_DIR).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="atlas.yaml to read (default: ATLAS_CONFIG).")
    ] = None,
) -> None:
    """Replay the tenant's learning runs and finished rollouts into a tracker."""
    from atlas_core.cli_traces import parse_time
    from atlas_core.tracking.replay import replay_history

    logger: RunLogger | None = None
    try:
        start = parse_time(since, "--since") if since else None
        if to == "mlflow":
            from atlas_core.tracking.mlflow_logger import MlflowLogger

            logger = MlflowLogger(tracking_uri, experiment=experiment)
        elif to == "wandb":
            from atlas_core.tracking.wandb_logger import WandbLogger

            logger = WandbLogger(
                project,
                entity=entity,
                mode=wandb_mode,
                dir=str(wandb_dir) if wandb_dir else None,
            )
        else:
            raise InvalidArgumentError(f"invalid argument `--to`: mlflow or wandb, got {to!r}")
        with open_store(store or load_config(config).store.url) as opened:
            report = replay_history(opened, tenant, [logger], since=start)
    except (AtlasError, ValueError) as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    finally:
        if logger is not None:
            logger.close()
    _out.print(
        f"logged {report.runs} learning runs and {report.rollouts} rollouts to {to}",
        markup=False,
        highlight=False,
    )
