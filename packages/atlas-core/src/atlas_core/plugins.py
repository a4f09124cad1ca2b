"""The plugin registry: how core finds the other Atlas packages.

Core imports no sibling package. Each sibling declares an entry point in the
group ``atlas.plugins`` whose object is a :class:`Plugin` (or a zero-argument
callable returning one); core reads what it contributes: stores by URL scheme,
reward models, learners and CLI sub-commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from atlas_core.errors import PluginError

ENTRY_POINT_GROUP = "atlas.plugins"

Factory = Callable[..., Any]


@dataclass(frozen=True)
class Plugin:
    """What one installed package contributes to Atlas."""

    name: str
    """Short unique name, e.g. ``memory``."""
    version: str
    """The contributing distribution's version."""
    stores: Mapping[str, Factory] = field(default_factory=dict)
    """Store factories keyed by URL scheme (``sqlite``, ``postgresql``)."""
    reward_models: Mapping[str, Factory] = field(default_factory=dict)
    """Reward model factories keyed by name."""
    learners: Mapping[str, Factory] = field(default_factory=dict)
    """Learner factories keyed by name (``gepa``, ``sft``, ``grpo``)."""
    commands: Mapping[str, Any] = field(default_factory=dict)
    """CLI sub-command groups (typer apps) keyed by command name."""


def _load(ep: EntryPoint) -> Plugin:
    try:
        obj = ep.load()
    except Exception as exc:  # a broken plugin must not hide which one it is
        raise PluginError(f"cannot load plugin entry point {ep.name!r} ({ep.value}): {exc}") from (
            exc
        )
    if callable(obj) and not isinstance(obj, Plugin):
        obj = obj()
    if not isinstance(obj, Plugin):
        raise PluginError(
            f"plugin entry point {ep.name!r} ({ep.value}) "
            f"gave {type(obj).__name__}, expected Plugin"
        )
    return obj


def discover(eps: Iterable[EntryPoint] | None = None) -> dict[str, Plugin]:
    """Loads every installed plugin, keyed by plugin name; duplicate names are an error."""
    found: dict[str, Plugin] = {}
    for ep in eps if eps is not None else entry_points(group=ENTRY_POINT_GROUP):
        plugin = _load(ep)
        if plugin.name in found:
            raise PluginError(f"two installed plugins are both named {plugin.name!r}")
        found[plugin.name] = plugin
    return found


def _collect(plugins: Mapping[str, Plugin], kind: str) -> dict[str, Factory]:
    out: dict[str, Factory] = {}
    for plugin in plugins.values():
        for key, value in getattr(plugin, kind).items():
            if key in out:
                raise PluginError(f"{kind} entry {key!r} is provided by more than one plugin")
            out[key] = value
    return out


def stores(plugins: Mapping[str, Plugin] | None = None) -> dict[str, Factory]:
    """Store factories by URL scheme across installed plugins."""
    return _collect(plugins if plugins is not None else discover(), "stores")


def reward_models(plugins: Mapping[str, Plugin] | None = None) -> dict[str, Factory]:
    """Reward model factories by name across installed plugins."""
    return _collect(plugins if plugins is not None else discover(), "reward_models")


def learners(plugins: Mapping[str, Plugin] | None = None) -> dict[str, Factory]:
    """Learner factories by name across installed plugins."""
    return _collect(plugins if plugins is not None else discover(), "learners")


def commands(plugins: Mapping[str, Plugin] | None = None) -> dict[str, Any]:
    """CLI sub-command groups by command name across installed plugins."""
    return _collect(plugins if plugins is not None else discover(), "commands")
