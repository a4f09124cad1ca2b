"""What atlas-rim contributes to Atlas, found through ``atlas.plugins``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from atlas_core.plugins import Plugin
from atlas_rim import __version__
from atlas_rim.cli import rim_app

if TYPE_CHECKING:
    from atlas_core.store import Store
    from atlas_rim.config import RimConfig
    from atlas_rim.judges.chat import Chat
    from atlas_rim.model import RimRewardModel


def create_reward_model(
    config: RimConfig | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    store: Store | None = None,
    client: Chat | None = None,
) -> RimRewardModel:
    """The ``rim`` reward model: ``config`` is a RimConfig, a YAML path, a mapping or None."""
    from atlas_rim.config import RimConfig, load_config
    from atlas_rim.model import RimRewardModel

    resolved = config if isinstance(config, RimConfig) else load_config(config)
    return RimRewardModel(resolved, store=store, client=client)


PLUGIN = Plugin(
    name="rim",
    version=__version__,
    reward_models={"rim": create_reward_model},
    commands={"rim": rim_app},
)
