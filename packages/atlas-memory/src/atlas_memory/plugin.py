"""What atlas-memory contributes to Atlas, found through ``atlas.plugins``."""

from atlas_core.plugins import Plugin
from atlas_memory import __version__

PLUGIN = Plugin(name="memory", version=__version__)
