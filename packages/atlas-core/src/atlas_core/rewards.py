"""The reward-model protocol: what the learning loop, GRPO and GEPA ask of a reward model.

A reward model turns what happened (an :class:`~atlas_core.types.Interaction`, the user
feedback about it, and a gold answer when there is one) into a
:class:`~atlas_core.types.Reward` in [0, 1]. Implementations live in plugins (atlas-rim
registers ``rim``) and are found by name through :func:`load_reward_model`, so core never
imports them.

Two entry points, for the two ways rewards are consumed:

- :meth:`RewardModel.score` scores recorded interactions (the learning loop, GEPA), one
  :class:`Reward` per :class:`RewardCase`, in order.
- :meth:`RewardModel.rank` scores a group of candidate responses to one prompt relative to
  each other (GRPO groups), one float in [0, 1] per response, in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from atlas_core import plugins
from atlas_core.errors import InvalidArgumentError, PluginError
from atlas_core.types import Feedback, FeedbackKind, Interaction, Reward

__all__ = ["RewardCase", "RewardModel", "load_reward_model"]


@dataclass(frozen=True)
class RewardCase:
    """What a reward model scores: one interaction, its feedback, and a gold answer if known.

    Every feedback item must be about ``interaction`` (same id and tenant); a mismatch raises
    :class:`InvalidArgumentError` naming the item, because scoring one interaction with
    another's feedback is a silent data bug otherwise.
    """

    interaction: Interaction
    feedback: Sequence[Feedback] = ()
    reference: str | None = None
    """A gold answer (what a ``label`` feedback carries); :meth:`of` fills it from one."""

    def __post_init__(self) -> None:
        for i, item in enumerate(self.feedback):
            if item.interaction_id != self.interaction.id:
                raise InvalidArgumentError(
                    f"feedback[{i}]: is about interaction {item.interaction_id}, "
                    f"not {self.interaction.id}"
                )
            if item.tenant_id != self.interaction.tenant_id:
                raise InvalidArgumentError(
                    f"feedback[{i}]: belongs to tenant {item.tenant_id!r}, "
                    f"not {self.interaction.tenant_id!r}"
                )

    @classmethod
    def of(cls, interaction: Interaction, feedback: Sequence[Feedback] = ()) -> RewardCase:
        """A case whose reference is the text of the latest ``label`` feedback, if any."""
        labels = [f for f in feedback if f.kind is FeedbackKind.LABEL and f.text is not None]
        latest = max(labels, key=lambda f: f.created_at, default=None)
        return cls(interaction, tuple(feedback), latest.text if latest is not None else None)


@runtime_checkable
class RewardModel(Protocol):
    """Scores interactions and ranks groups of responses; see the module docstring."""

    name: str
    """``"<model>@<version>"``; recorded in :attr:`Reward.reward_model` of what it produces."""

    async def score(self, cases: Sequence[RewardCase]) -> list[Reward]:
        """One reward per case, in order, each with its components and rationale."""
        ...

    async def rank(
        self,
        prompt: Sequence[Mapping[str, Any]],
        responses: Sequence[str],
        *,
        reference: str | None = None,
    ) -> list[float]:
        """One score in [0, 1] per response to ``prompt`` (chat messages), judged together."""
        ...


def load_reward_model(name: str, /, **kwargs: Any) -> RewardModel:
    """The reward model an installed plugin registers as ``name``, built with ``kwargs``."""
    factories = plugins.reward_models()
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none (install atlas-rim)"
        raise InvalidArgumentError(f"reward model {name!r} is not installed; installed: {known}")
    model = factories[name](**kwargs)
    if not isinstance(model, RewardModel):
        raise PluginError(
            f"reward model factory {name!r} returned {type(model).__name__}, "
            "which is not a RewardModel"
        )
    return model
