"""What atlas-gepa contributes to Atlas, found through ``atlas.plugins``."""

from atlas_core.plugins import Plugin
from atlas_gepa import __version__

PLUGIN = Plugin(name="gepa", version=__version__)
