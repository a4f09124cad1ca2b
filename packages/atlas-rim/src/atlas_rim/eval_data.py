"""Preference data for ``atlas rim eval``, read from local JSONL (or JSON array) files.

Two layouts:

- ``rewardbench2``: ``{"id", "subset", "prompt", "chosen": [one text], "rejected": [texts]}``
  as RewardBench 2 publishes it (one chosen, three rejected: best-of-4; any number >= 1 of
  rejected is accepted, so best-of-N works too). ``chosen`` may also be a plain string.
- ``pairwise``: ``{"id", "subset", "prompt", "chosen": text, "rejected": text}``.

``prompt`` is a user message (string) or a list of chat messages; ``id`` and ``subset`` are
optional (the line number and ``"default"``). A malformed record raises
:class:`~atlas_core.errors.InvalidArgumentError` naming the file, the line and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlas_core.errors import InvalidArgumentError

__all__ = ["BestOfRecord", "PairRecord", "load_pairwise", "load_rewardbench2"]

Messages = tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class BestOfRecord:
    """One prompt with one chosen and several rejected responses."""

    id: str
    subset: str
    prompt: Messages
    chosen: str
    rejected: tuple[str, ...]


@dataclass(frozen=True)
class PairRecord:
    """One prompt with a chosen and a rejected response."""

    id: str
    subset: str
    prompt: Messages
    chosen: str
    rejected: str


def load_rewardbench2(path: str | Path) -> list[BestOfRecord]:
    """The best-of-N records of a RewardBench 2 layout file."""
    out = []
    for where, line, raw in _records(Path(path)):
        chosen = raw.get("chosen")
        if isinstance(chosen, str):
            chosen = [chosen]
        if not (isinstance(chosen, list) and len(chosen) == 1 and isinstance(chosen[0], str)):
            raise InvalidArgumentError(f"{where}: `chosen` must be one text (or a list of one)")
        rejected = raw.get("rejected")
        if not (
            isinstance(rejected, list) and rejected and all(isinstance(r, str) for r in rejected)
        ):
            raise InvalidArgumentError(f"{where}: `rejected` must be a non-empty list of texts")
        out.append(
            BestOfRecord(
                _id(raw, line), _subset(raw), _prompt(raw, where), chosen[0], tuple(rejected)
            )
        )
    return out


def load_pairwise(path: str | Path) -> list[PairRecord]:
    """The pairs of a pairwise layout file."""
    out = []
    for where, line, raw in _records(Path(path)):
        for field in ("chosen", "rejected"):
            if not isinstance(raw.get(field), str):
                raise InvalidArgumentError(f"{where}: `{field}` must be a text")
        out.append(
            PairRecord(
                _id(raw, line), _subset(raw), _prompt(raw, where), raw["chosen"], raw["rejected"]
            )
        )
    return out


def _records(path: Path) -> Iterator[tuple[str, int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgumentError(f"--data {path}: cannot read ({exc})") from exc
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(f"{path}: not valid JSON ({exc})") from exc
        numbered = [(i, item) for i, item in enumerate(items, 1)]
    else:
        numbered = []
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                numbered.append((i, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InvalidArgumentError(f"{path}:{i}: not valid JSON ({exc})") from exc
    if not numbered:
        raise InvalidArgumentError(f"{path}: holds no records")
    for i, item in numbered:
        if not isinstance(item, dict):
            raise InvalidArgumentError(f"{path}:{i}: a record must be a JSON object")
        yield f"{path}:{i}", i, item


def _id(raw: dict[str, Any], line: int) -> str:
    return str(raw.get("id", line))


def _subset(raw: dict[str, Any]) -> str:
    return str(raw.get("subset") or "default")


def _prompt(raw: dict[str, Any], where: str) -> Messages:
    prompt = raw.get("prompt")
    if isinstance(prompt, str):
        return ({"role": "user", "content": prompt},)
    if (
        isinstance(prompt, list)
        and prompt
        and all(isinstance(m, dict) and "content" in m for m in prompt)
    ):
        return tuple(prompt)
    raise InvalidArgumentError(f"{where}: `prompt` must be a text or a list of chat messages")
