"""``atlas demo``: the typer app the plugin mounts (``uv run atlas demo [--fast]``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["demo_app"]

demo_app = typer.Typer(help="The main job: Atlas learning from simulated users, end to end.")


@demo_app.callback(invoke_without_command=True)
def demo(
    fast: Annotated[bool, typer.Option("--fast", help="The short run (under 2 minutes).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of everything random.")] = 0,
    store: Annotated[
        str | None,
        typer.Option(help="Store URL (default: a temporary SQLite file, removed at the end)."),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Keep the models and the default store here instead of a temp dir."),
    ] = None,
    dashboard: Annotated[
        bool, typer.Option(help="Serve the live dashboard of the atlas arm while it runs.")
    ] = True,
    dashboard_port: Annotated[
        int, typer.Option(help="Port of the live dashboard (0: any free port).", min=0, max=65535)
    ] = 0,
    report_dir: Annotated[
        Path,
        typer.Option(help="Where each arm's learning report (HTML + Markdown) is written."),
    ] = Path("atlas-demo-report"),
    hold: Annotated[
        bool, typer.Option(help="Keep the dashboard up after the summary, until Ctrl-C.")
    ] = False,
) -> None:
    """Serve simulated users with a tiny local model; watch Atlas learn, recover and refuse."""
    # Quiet the model libraries' progress bars: the demo prints its own.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from atlas_demo.demo import run_demo

    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    run_demo(
        fast=fast,
        seed=seed,
        store_url=store,
        workdir=workdir,
        dashboard=dashboard,
        dashboard_port=dashboard_port,
        report_dir=report_dir,
        hold=hold,
    )
