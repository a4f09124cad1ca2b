"""What atlas-rim contributes to Atlas, found through ``atlas.plugins``."""

from atlas_core.plugins import Plugin
from atlas_rim import __version__

PLUGIN = Plugin(name="rim", version=__version__)
