"""``atlas train sft|grpo --config FILE``: the typer group atlas-grpo adds to the ``atlas`` CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from atlas_core.errors import AtlasError
from atlas_grpo.config import TrainConfig, load_train_config

__all__ = ["train_app"]

train_app = typer.Typer(
    name="train",
    help="Offline learning on weights: SFT warm-up and GRPO from the Store's data.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="YAML training config (see atlas-grpo README).")
]
StoreOption = Annotated[
    str | None, typer.Option("--store", help="Store URL; overrides data.store_url.")
]


def _config(path: Path, store: str | None) -> TrainConfig:
    cfg = load_train_config(path)
    if store is not None:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"store_url": store})})
    return cfg


def _fail(exc: AtlasError) -> typer.Exit:
    console.print(f"[red]error[/]: {exc}")
    return typer.Exit(code=2)


@train_app.command("sft")
def sft(config: ConfigOption, store: StoreOption = None) -> None:
    """Supervised warm-up on high-reward interactions and users' edits; registers a candidate."""
    from atlas_grpo.runner import run_sft

    try:
        result = run_sft(_config(config, store), console=console)
    except AtlasError as exc:
        raise _fail(exc) from exc
    if result.version is None:
        raise typer.Exit(code=1)


@train_app.command("grpo")
def grpo(config: ConfigOption, store: StoreOption = None) -> None:
    """GRPO with the configured rewards; registers a candidate unless a guard kept nothing."""
    from atlas_grpo.runner import run_grpo

    try:
        result = run_grpo(_config(config, store), console=console)
    except AtlasError as exc:
        raise _fail(exc) from exc
    if result.version is None:
        raise typer.Exit(code=1)
