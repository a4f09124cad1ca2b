"""``atlas optimize gepa --config FILE``: one GEPA run, with progress, then its summary.

Mounted by core's CLI from ``Plugin.commands["optimize"]``. Progress (metric calls spent of
the budget, best validation score so far) is drawn with rich; the result is the table of the
summary and the candidate Versions stored. A bad config or a missing reward model exits 2
with the reason; run it again on the same ``run_dir`` to resume an interrupted run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from atlas_core.errors import AtlasError
from atlas_gepa.config import load_gepa_config
from atlas_gepa.pipeline import Optimization, optimize

__all__ = ["optimize_app"]

optimize_app = typer.Typer(help="Optimize prompts from production data.", no_args_is_help=True)
console = Console()


class ProgressCallback:
    """A GEPA callback that moves a rich progress bar as metric calls are spent."""

    def __init__(self, progress: Progress, task: Any) -> None:
        self.progress = progress
        self.task = task
        self.best = 0.0

    def on_budget_updated(self, event: dict[str, Any]) -> None:
        """Metric calls spent so far."""
        self.progress.update(self.task, completed=event["metric_calls_used"])

    def on_valset_evaluated(self, event: dict[str, Any]) -> None:
        """A candidate's validation mean: shows the best so far."""
        self.best = max(self.best, float(event["average_score"]))
        self.progress.update(self.task, description=f"GEPA (best val {self.best:.3f})")


@optimize_app.command("gepa")
def gepa_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="The GEPA run's YAML file.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Evolves the configured prompt templates with GEPA; stores candidate Versions."""
    try:
        cfg = load_gepa_config(config)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
        ) as progress:
            task = progress.add_task("GEPA", total=cfg.budget.max_metric_calls)
            result = optimize(cfg, callbacks=[ProgressCallback(progress, task)])
    except AtlasError as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    _report(result)


def _report(result: Optimization) -> None:
    run = result.run
    table = Table(title="GEPA run")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("initial score", f"{run.initial_score:.3f}")
    table.add_row("best score", f"{run.best_score:.3f}")
    table.add_row("improvement", f"{run.improvement:+.3f}")
    table.add_row("candidates", str(len(run.candidates)))
    table.add_row("Pareto frontier", ", ".join(map(str, run.frontier)))
    table.add_row("metric calls", str(run.metric_calls))
    table.add_row("tokens", str(run.tokens))
    console.print(table)
    for v in result.versions:
        console.print(f"candidate version {v.name}@{v.number} ({v.id})")
    if not result.versions:
        console.print("no candidate beat production: no version stored")
    console.print(f"summary: {result.summary_path}")
