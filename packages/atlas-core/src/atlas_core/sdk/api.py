"""Module-level feedback and flush functions on the default recorder.

Each function is the :class:`~atlas_core.sdk.recorder.Recorder` method of the same name,
applied to ``recorder`` or, when that is None, to :func:`get_recorder`. Bad input raises
InvalidArgumentError naming the argument before anything is buffered.
"""

from __future__ import annotations

import uuid
from typing import Any

from atlas_core.sdk.recorder import Recorder, get_recorder

__all__ = [
    "acomment",
    "aedit",
    "aflush",
    "alabel",
    "arate",
    "asignal",
    "comment",
    "edit",
    "flush",
    "label",
    "rate",
    "signal",
]

Id = uuid.UUID | bytes | str


def _pick(recorder: Recorder | None) -> Recorder:
    return recorder if recorder is not None else get_recorder()


def rate(
    interaction_id: Id,
    value: float,
    scale: tuple[float, float] = (1, 5),
    *,
    recorder: Recorder | None = None,
    **extra: Any,
) -> uuid.UUID:
    """Rates an interaction ``value`` on ``scale`` (inclusive); returns the feedback id."""
    return _pick(recorder).rate(interaction_id, value, scale, **extra)


def signal(
    interaction_id: Id,
    name: str,
    value: float = 1.0,
    *,
    recorder: Recorder | None = None,
    **extra: Any,
) -> uuid.UUID:
    """An implicit signal (copy, share, retry, dismiss, engage with dwell seconds, ...)."""
    return _pick(recorder).signal(interaction_id, name, value, **extra)


def edit(
    interaction_id: Id, corrected_text: str, *, recorder: Recorder | None = None, **extra: Any
) -> uuid.UUID:
    """The user's corrected version of the interaction's output."""
    return _pick(recorder).edit(interaction_id, corrected_text, **extra)


def comment(
    interaction_id: Id, text: str, *, recorder: Recorder | None = None, **extra: Any
) -> uuid.UUID:
    """Free text about the interaction's output."""
    return _pick(recorder).comment(interaction_id, text, **extra)


def label(
    interaction_id: Id, gold: str, *, recorder: Recorder | None = None, **extra: Any
) -> uuid.UUID:
    """A gold answer for the interaction's input."""
    return _pick(recorder).label(interaction_id, gold, **extra)


async def arate(
    interaction_id: Id,
    value: float,
    scale: tuple[float, float] = (1, 5),
    *,
    recorder: Recorder | None = None,
    **extra: Any,
) -> uuid.UUID:
    """Async :func:`rate`."""
    return await _pick(recorder).arate(interaction_id, value, scale, **extra)


async def asignal(
    interaction_id: Id,
    name: str,
    value: float = 1.0,
    *,
    recorder: Recorder | None = None,
    **extra: Any,
) -> uuid.UUID:
    """Async :func:`signal`."""
    return await _pick(recorder).asignal(interaction_id, name, value, **extra)


async def aedit(
    interaction_id: Id, corrected_text: str, *, recorder: Recorder | None = None, **extra: Any
) -> uuid.UUID:
    """Async :func:`edit`."""
    return await _pick(recorder).aedit(interaction_id, corrected_text, **extra)


async def acomment(
    interaction_id: Id, text: str, *, recorder: Recorder | None = None, **extra: Any
) -> uuid.UUID:
    """Async :func:`comment`."""
    return await _pick(recorder).acomment(interaction_id, text, **extra)


async def alabel(
    interaction_id: Id, gold: str, *, recorder: Recorder | None = None, **extra: Any
) -> uuid.UUID:
    """Async :func:`label`."""
    return await _pick(recorder).alabel(interaction_id, gold, **extra)


def flush(timeout: float | None = None, *, recorder: Recorder | None = None) -> bool:
    """Blocks until everything recorded before the call is stored; False on timeout."""
    return _pick(recorder).flush(timeout)


async def aflush(timeout: float | None = None, *, recorder: Recorder | None = None) -> bool:
    """Async :func:`flush`."""
    return await _pick(recorder).aflush(timeout)
