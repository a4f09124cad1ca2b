"""The learner protocol: what a learner is given, what it returns, and how it is found.

A learner (GEPA prompts, SFT / GRPO weights, or anything a plugin registers under
``Plugin.learners``) turns selected examples into a *candidate* :class:`Version`. It never
deploys: the loop gates the candidate and the rollout ships it. Learners are found by name
through :func:`atlas_core.plugins.learners`; a factory is called with keyword options and
must return an object with a ``learn`` method (:func:`load_learner` checks this).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from atlas_core import plugins
from atlas_core.errors import InvalidArgumentError, PluginError
from atlas_core.loop.examples import Example
from atlas_core.plugins import Plugin
from atlas_core.store import Store
from atlas_core.types import Version

__all__ = ["Learner", "LearnerResult", "LearningTask", "load_learner"]


@dataclass(frozen=True)
class LearningTask:
    """Everything a learner gets for one update."""

    store: Store
    """The store (for artifacts a learner keeps in key-value entries, or more data)."""
    tenant: str
    """The tenant being learned for."""
    learning_keys: tuple[str, ...]
    """The learning keys this update is about (every key of the batch)."""
    train: Sequence[Example]
    """The value-selected new examples to learn from."""
    replay: Sequence[Example]
    """Replay examples from every learning key, to keep what was already learned."""
    base: Version | None
    """The production version the candidate starts from (None before the first one)."""
    trigger: str = "manual"
    """Why the update was fired (sample_count, time, drift, error_rate, manual)."""

    @property
    def examples(self) -> list[Example]:
        """New and replay examples together, new first."""
        return [*self.train, *self.replay]


@dataclass(frozen=True)
class LearnerResult:
    """What a learner made of a task: a candidate version, or no change."""

    candidate: Version | None
    """The new version (not yet stored; the loop stores it with the gate's verdict)."""
    samples_used: int
    """How many examples it actually trained on."""
    metrics: Mapping[str, float] = field(default_factory=dict)
    """Training metrics (loss, train accuracy, ...), recorded on the LearningRun."""
    reason: str = ""
    """Why there is no candidate, when there is none."""

    @classmethod
    def no_change(cls, reason: str, samples_used: int = 0) -> LearnerResult:
        """A result without a candidate (nothing worth changing)."""
        return cls(candidate=None, samples_used=samples_used, reason=reason)


@runtime_checkable
class Learner(Protocol):
    """Turns a :class:`LearningTask` into a :class:`LearnerResult`."""

    name: str
    """The name it is registered under (recorded on every LearningRun)."""

    def learn(self, task: LearningTask) -> LearnerResult:
        """Learns from ``task``; returns a candidate that descends from ``task.base``."""
        ...


def load_learner(
    name: str, plugins_map: Mapping[str, Plugin] | None = None, **options: Any
) -> Learner:
    """The learner registered as ``name``, built with ``options``.

    Raises InvalidArgumentError naming the installed learners when ``name`` is unknown,
    and PluginError when the factory does not build a :class:`Learner`.
    """
    factories = plugins.learners(plugins_map)
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none installed"
        raise InvalidArgumentError(f"learner: no learner named {name!r}; installed: {known}")
    learner = factories[name](**options)
    if not isinstance(learner, Learner):
        raise PluginError(
            f"learner factory {name!r} built {type(learner).__name__}, which has no "
            "`name` and `learn(task)`"
        )
    return learner
