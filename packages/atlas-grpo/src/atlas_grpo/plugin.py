"""What atlas-grpo contributes to Atlas, found through ``atlas.plugins``: ``atlas train``."""

from atlas_core.plugins import Plugin
from atlas_grpo import __version__
from atlas_grpo.cli import train_app
from atlas_grpo.grpo_learner import create_grpo_learner
from atlas_grpo.learner import create_sft_learner

PLUGIN = Plugin(
    name="grpo",
    version=__version__,
    learners={"sft": create_sft_learner, "grpo": create_grpo_learner},
    commands={"train": train_app},
)
"""The package is found by core through its entry point: the ``train`` commands and the
``sft`` and ``grpo`` learners of the continual-learning loop."""
