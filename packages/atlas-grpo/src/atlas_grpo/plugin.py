"""What atlas-grpo contributes to Atlas, found through ``atlas.plugins``."""

from atlas_core.plugins import Plugin
from atlas_grpo import __version__

PLUGIN = Plugin(name="grpo", version=__version__)
