"""Training rows from the Store: GRPO prompts with references, SFT examples from what worked.

- GRPO: every interaction's input is a prompt; its reference answer is the latest
  ``label`` feedback (a gold answer) or, failing that, the latest ``edit`` (the user's
  correction), in the order ``data.reference_from`` gives.
- SFT: an interaction whose latest reward reaches ``data.min_reward`` is an example of
  (input, output); a user's edit is an example of (input, edited text) whatever the
  reward, and replaces the original output of that interaction.

Rows are plain dicts that TRL reads: ``prompt`` (text, or a list of messages in chat
format), ``completion`` (SFT), ``reference`` (GRPO, possibly None), plus
``interaction_id`` and ``learning_key`` for bookkeeping.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Query, Store
from atlas_core.types import FeedbackKind
from atlas_grpo.config import DataConfig

__all__ = ["Split", "grpo_rows", "render_text_prompt", "sft_rows", "split_rows"]

Row = dict[str, Any]


@dataclass(frozen=True)
class Split:
    """Training rows and the held-out rows kept for evaluation."""

    train: list[Row]
    held_out: list[Row]


def _query(cfg: DataConfig, *, min_reward: float | None = None) -> Query:
    return Query(
        since=cfg.since,
        until=cfg.until,
        learning_key=cfg.learning_keys,
        min_reward=min_reward,
    )


def _reviewed(frame: pl.DataFrame, cfg: DataConfig) -> pl.DataFrame:
    """Only interactions whose metadata ``review_status`` is allowed (when a filter is set)."""
    if cfg.review_status is None or frame.is_empty():
        return frame
    allowed = set(cfg.review_status)
    keep = [_metadata(m).get("review_status") in allowed for m in frame["metadata"].to_list()]
    return frame.filter(pl.Series(keep, dtype=pl.Boolean))


def _metadata(raw: str | None) -> dict[str, Any]:
    value = json.loads(raw) if raw else {}
    return value if isinstance(value, dict) else {}


def _messages(raw: str, interaction: str) -> list[dict[str, Any]]:
    messages = json.loads(raw)
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and "content" in m for m in messages
    ):
        raise InvalidArgumentError(
            f"interaction {interaction}: input is not a list of messages with 'content'"
        )
    return messages


def render_text_prompt(messages: Sequence[dict[str, Any]]) -> str:
    """A plain-text prompt for tokenizers without a chat template: the contents, one per line.

    A single message is its content verbatim, so a prompt stored as one user message
    trains on exactly that text.
    """
    return "\n".join(str(m.get("content") or "") for m in messages)


def prompt_of(messages: list[dict[str, Any]], chat: bool) -> Any:
    """A row's prompt: the chat messages, or their text rendering for a plain LM."""
    return messages if chat else render_text_prompt(messages)


def _latest_feedback_text(
    store: Store, cfg: DataConfig, kinds: Sequence[FeedbackKind]
) -> dict[bytes, dict[FeedbackKind, str]]:
    """The latest text of each feedback kind per interaction id."""
    query = Query(learning_key=cfg.learning_keys, feedback_kind=list(kinds))
    frame = store.feedback(cfg.tenant, query)
    out: dict[bytes, dict[FeedbackKind, str]] = {}
    # Reads are oldest first, so later rows overwrite earlier ones: the latest wins.
    for iid, kind, text in frame.select("interaction_id", "kind", "text").iter_rows():
        if text is not None:
            out.setdefault(iid, {})[FeedbackKind(kind)] = text
    return out


def grpo_rows(store: Store, cfg: DataConfig, *, chat: bool) -> list[Row]:
    """One row per matching interaction: ``prompt``, ``reference`` (or None), ids."""
    frame = _reviewed(store.interactions(cfg.tenant, _query(cfg)), cfg)
    kinds = [FeedbackKind(k) for k in cfg.reference_from]
    refs = _latest_feedback_text(store, cfg, kinds) if kinds else {}
    rows: list[Row] = []
    for iid, key, raw in frame.select("id", "learning_key", "input").iter_rows():
        found = refs.get(iid, {})
        reference = next((found[k] for k in kinds if k in found), None)
        if reference is None and cfg.require_reference:
            continue
        rows.append(
            {
                "prompt": prompt_of(_messages(raw, iid.hex()), chat),
                "reference": reference,
                "interaction_id": iid.hex(),
                "learning_key": key,
            }
        )
    return _capped(rows, cfg)


def sft_rows(store: Store, cfg: DataConfig, *, chat: bool) -> list[Row]:
    """Examples from high-reward interactions and from users' edits (edits win)."""
    edits = (
        {
            iid: texts[FeedbackKind.EDIT]
            for iid, texts in _latest_feedback_text(store, cfg, [FeedbackKind.EDIT]).items()
        }
        if cfg.include_edits
        else {}
    )
    frame = _reviewed(store.interactions_with_rewards(cfg.tenant, _query(cfg)), cfg)
    rows: list[Row] = []
    for iid, key, raw, output, reward in frame.select(
        "id", "learning_key", "input", "output", "reward"
    ).iter_rows():
        if iid in edits:
            answer, source = edits[iid], "edit"
        elif reward is not None and cfg.min_reward is not None and reward >= cfg.min_reward:
            answer, source = output, "reward"
        else:
            continue
        messages = _messages(raw, iid.hex())
        completion: Any = [{"role": "assistant", "content": answer}] if chat else answer
        rows.append(
            {
                "prompt": prompt_of(messages, chat),
                "completion": completion,
                "interaction_id": iid.hex(),
                "learning_key": key,
                "source": source,
            }
        )
    return _capped(rows, cfg)


def _capped(rows: list[Row], cfg: DataConfig) -> list[Row]:
    # The newest rows are kept: they describe the traffic the model will see next.
    return rows[-cfg.max_samples :] if cfg.max_samples is not None else rows


def split_rows(rows: list[Row], cfg: DataConfig, *, what: str) -> Split:
    """A seeded train / held-out split; refuses an empty training set naming the filters."""
    if not rows:
        raise InvalidArgumentError(
            f"data: no {what} rows for tenant {cfg.tenant!r} with the configured filters "
            f"(learning_keys={cfg.learning_keys}, since={cfg.since}, until={cfg.until}, "
            f"min_reward={cfg.min_reward}, review_status={cfg.review_status})"
        )
    order = list(range(len(rows)))
    random.Random(cfg.seed).shuffle(order)
    n_held = int(len(rows) * cfg.held_out_fraction)
    if n_held >= len(rows):
        n_held = len(rows) - 1
    held = [rows[i] for i in order[:n_held]]
    train = [rows[i] for i in order[n_held:]]
    return Split(train=train, held_out=held)
