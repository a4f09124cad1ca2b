"""CPU seconds a process and its descendants have used, from ``/proc`` (Linux).

``atlas bench ingest`` reports the server's CPU per event beside events/s: on a shared
machine the rate moves with the neighbours' load, the CPU each event costs much less.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["tree_cpu_seconds"]

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process; None once it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by ``pid`` and every live descendant;
    None where ``/proc`` is not there (not Linux) or ``pid`` is gone."""
    if not _PROC.is_dir():
        return None
    children: dict[int, list[int]] = {}
    seconds: dict[int, float] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        found = _stat(int(entry.name))
        if found is not None:
            children.setdefault(found[0], []).append(int(entry.name))
            seconds[int(entry.name)] = found[1]
    if pid not in seconds:
        return None
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += seconds.get(current, 0.0)
        todo.extend(children.get(current, ()))
    return total
