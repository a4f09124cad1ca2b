"""``atlas rim``: evaluate RIM on preference data, and score a store's interactions.

Mounted by core from the plugin's ``commands``; heavy imports happen inside the commands so
that ``atlas --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

__all__ = ["rim_app"]

T = TypeVar("T")

rim_app = typer.Typer(
    name="rim",
    help="Rewards (RIM): signals and LLM judges to one reward in [0, 1].",
    no_args_is_help=True,
    add_completion=False,
)


class Layout(StrEnum):
    """Preference data layouts ``atlas rim eval`` reads."""

    REWARDBENCH2 = "rewardbench2"
    PAIRWISE = "pairwise"


ConfigOption = Annotated[Path, typer.Option("--config", help="RIM config (YAML).")]
StoreOption = Annotated[
    str | None,
    typer.Option("--store", help="Store URL; default ATLAS_STORE_URL or ./.atlas/atlas.db."),
]


@rim_app.command("eval")
def eval_command(
    data: Annotated[Path, typer.Option("--data", help="Preference data (JSONL or JSON).")],
    layout: Annotated[Layout, typer.Option("--layout", help="rewardbench2 or pairwise.")],
    config: ConfigOption,
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON report.")],
    seed: Annotated[int, typer.Option(help="Seed of the best-of-N position shuffle.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N records.")] = None,
    cache_store: Annotated[
        str | None, typer.Option("--cache-store", help="Store URL persisting the judge cache.")
    ] = None,
) -> None:
    """Accuracy of the judges on preference data; writes a JSON report to --out."""
    from atlas_rim.config import load_config
    from atlas_rim.eval_data import load_pairwise, load_rewardbench2
    from atlas_rim.evaluate import evaluate_best_of, evaluate_pairwise
    from atlas_rim.model import RimRewardModel

    rim_config = _or_exit(lambda: load_config(config))

    async def run() -> dict[str, Any]:
        store = _open(cache_store) if cache_store else None
        try:
            async with RimRewardModel(rim_config, store=store) as model:
                if layout is Layout.REWARDBENCH2:
                    records = load_rewardbench2(data)[:limit]
                    return await evaluate_best_of(model, records, seed=seed)
                return await evaluate_pairwise(model, load_pairwise(data)[:limit])
        finally:
            if store is not None:
                store.close()

    report = _or_exit(lambda: asyncio.run(run()))
    report["data"] = str(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(
        f"{report['layout']}: accuracy {report['accuracy']:.3f} over {report['evaluations']} "
        f"evaluations; escalation rate {report['escalation_rate']:.3f}; "
        f"tokens {report['cost']['total_tokens']}; latency p50 {report['latency_s']['p50']:.3f}s "
        f"p95 {report['latency_s']['p95']:.3f}s; report: {out}"
    )


@rim_app.command("score")
def score_command(
    config: ConfigOption,
    tenant: Annotated[str, typer.Option(help="Tenant whose interactions are scored.")] = "default",
    store: StoreOption = None,
    learning_key: Annotated[str | None, typer.Option(help="Only this learning key.")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Interactions created at or after (ISO, UTC).")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Interactions created before (ISO, UTC).")
    ] = None,
    rescore: Annotated[bool, typer.Option(help="Score again what this model scored.")] = False,
) -> None:
    """Score a tenant's interactions from the store and write their rewards back."""
    from atlas_rim.config import load_config
    from atlas_rim.model import RimRewardModel
    from atlas_rim.store_scoring import score_store

    rim_config = _or_exit(lambda: load_config(config))

    async def run() -> str:
        opened = _open(store)
        try:
            async with RimRewardModel(rim_config, store=opened) as model:
                result = await score_store(
                    opened,
                    tenant,
                    model,
                    learning_key=learning_key,
                    since=_utc(since),
                    until=_utc(until),
                    rescore=rescore,
                )
        finally:
            opened.close()
        return (
            f"selected {result.selected}, skipped {result.skipped} already scored, wrote "
            f"{result.written} rewards ({result.trainable} trainable, {result.escalated} "
            f"escalated), {result.no_evidence} without evidence yet, with {model.name}\n"
            f"{result.per_key}"
        )

    typer.echo(_or_exit(lambda: asyncio.run(run())))


def _or_exit(action: Callable[[], T]) -> T:
    """``action()``; an Atlas error (bad data, config, endpoint) ends the command with its
    message and exit status 2 instead of a traceback."""
    from atlas_core.errors import AtlasError

    try:
        return action()
    except AtlasError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _open(url: str | None) -> Any:
    from atlas_core.store import open_store

    return open_store(url)


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
