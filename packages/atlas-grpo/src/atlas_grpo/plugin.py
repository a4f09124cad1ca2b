"""What atlas-grpo contributes to Atlas, found through ``atlas.plugins``: ``atlas train``."""

from atlas_core.plugins import Plugin
from atlas_grpo import __version__
from atlas_grpo.cli import train_app

PLUGIN = Plugin(name="grpo", version=__version__, commands={"train": train_app})
"""The package is found by core through its entry point; it adds the ``train`` commands."""
