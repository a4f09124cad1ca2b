"""The ``atlas`` command line: core commands plus those that installed plugins add."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from atlas_core import __version__, plugins
from atlas_core.cli_bench import bench_app
from atlas_core.cli_config import config_app
from atlas_core.cli_keys import keys_app, tenants_app
from atlas_core.cli_report import report
from atlas_core.cli_serve import serve
from atlas_core.cli_traces import traces_app
from atlas_core.cli_versions import versions_app
from atlas_core.tracking.cli import runs_app

app = typer.Typer(
    name="atlas",
    help="Atlas: continual learning for production AI agents.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
app.add_typer(keys_app, name="keys")
app.add_typer(tenants_app, name="tenants")
app.add_typer(config_app, name="config")
app.command("serve")(serve)
app.add_typer(bench_app, name="bench")
app.add_typer(versions_app, name="versions")
app.command("report")(report)
app.add_typer(traces_app, name="traces")
app.add_typer(runs_app, name="runs")


@app.command()
def version() -> None:
    """Print the versions of atlas-core and of every installed Atlas plugin."""
    console.print(f"atlas-core {__version__}")
    for plugin in plugins.discover().values():
        console.print(f"{plugin.name} {plugin.version}")


@app.command("plugins")
def list_plugins() -> None:
    """List installed plugins and what each contributes (stores, learners, commands, ...)."""
    table = Table(title="Atlas plugins")
    for column in ("plugin", "version", "stores", "reward models", "learners", "commands"):
        table.add_column(column)
    for plugin in plugins.discover().values():
        table.add_row(
            plugin.name,
            plugin.version,
            ", ".join(plugin.stores) or "-",
            ", ".join(plugin.reward_models) or "-",
            ", ".join(plugin.learners) or "-",
            ", ".join(plugin.commands) or "-",
        )
    console.print(table)


def build_app() -> typer.Typer:
    """The CLI with every installed plugin's command groups mounted."""
    mounted = {group.name for group in app.registered_groups}
    for name, sub in plugins.commands().items():
        if name not in mounted:  # build_app may run more than once in a process (tests)
            app.add_typer(sub, name=name)
    return app


def main() -> None:
    """Entry point of the ``atlas`` script."""
    build_app()()
