"""The store rows one monitoring refresh works on: a tenant's recent window, read once.

Each interaction gets the columns every figure needs, derived here once:

- ``version``: what served it, as a readable label. ``model_version`` and
  ``prompt_version`` are joined with ``" | "`` when both are set; a value that is the id
  of one of the tenant's Versions (what the loop's router writes) becomes ``name@number``;
  neither set gives ``unversioned``.
- ``error``: ``metadata["error"]`` is present and truthy (the convention of the loop's
  rollout analysis, :mod:`atlas_core.loop.observations`).
- ``correct``: where the interaction has ``label`` feedback (a gold answer), whether the
  output equals the latest label after trimming, lower-casing and collapsing whitespace;
  null where it has none. This is what "accuracy" means everywhere in monitoring: the
  share of labelled interactions answered correctly. Rewards are scores, not truths, so
  they never make an interaction "correct".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from atlas_core.store import Query, Store
from atlas_core.types import FeedbackKind, Version, utcnow

__all__ = ["UNVERSIONED", "WindowData", "read_window", "version_labels"]

UNVERSIONED = "unversioned"
"""The version label of interactions that name no model or prompt version."""

_FALSY = ("", "false", "0", "null", "0.0")


@dataclass(frozen=True)
class WindowData:
    """One tenant's rows created in ``[since, until)``, with the derived columns."""

    since: datetime
    until: datetime
    interactions: pl.DataFrame
    """Interactions with ``reward`` (latest; null when none), ``version``, ``error``,
    ``correct``."""
    feedback: pl.DataFrame
    rewards: pl.DataFrame
    versions: list[Version]


def version_labels(versions: list[Version]) -> dict[str, str]:
    """``str(version.id)`` -> ``name@number`` for the tenant's versions."""
    return {str(v.id): f"{v.name}@{v.number}" for v in versions}


def _label(column: str, labels: dict[str, str]) -> pl.Expr:
    raw = pl.col(column)
    return raw.replace(labels) if labels else raw


def _normalised(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.to_lowercase().str.replace_all(r"\s+", " ")


def read_window(
    store: Store, tenant: str, window_s: float, now: datetime | None = None
) -> WindowData:
    """Reads the tenant's interactions (with rewards), feedback, rewards and versions of
    the last ``window_s`` seconds and derives the columns described in the module docstring."""
    until = now or utcnow()
    since = until - timedelta(seconds=window_s)
    query = Query(since=since)
    versions = store.versions(tenant)
    labels = version_labels(versions)
    interactions = store.interactions_with_rewards(tenant, query)
    feedback = store.feedback(tenant, query)
    rewards = store.rewards(tenant, query)

    model = _label("model_version", labels)
    prompt = _label("prompt_version", labels)
    version = (
        pl.when(model.is_not_null() & prompt.is_not_null())
        .then(pl.concat_str([model, prompt], separator=" | "))
        .otherwise(pl.coalesce(model, prompt, pl.lit(UNVERSIONED)))
    )
    flag = pl.col("metadata").str.json_path_match("$.error").str.to_lowercase()
    error = flag.is_not_null() & ~flag.is_in(_FALSY)
    labelled = (
        feedback.filter(pl.col("kind") == FeedbackKind.LABEL.value)
        .sort("created_at")
        .group_by("interaction_id")
        .agg(pl.col("text").last().alias("gold"))
    )
    interactions = (
        interactions.with_columns(version=version, error=error)
        .join(labelled, left_on="id", right_on="interaction_id", how="left")
        .with_columns(
            correct=pl.when(pl.col("gold").is_null())
            .then(None)
            .otherwise(_normalised(pl.col("output")) == _normalised(pl.col("gold")))
        )
        .drop("gold")
    )
    return WindowData(since, until, interactions, feedback, rewards, versions)
