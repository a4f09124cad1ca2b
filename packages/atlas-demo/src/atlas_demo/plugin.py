"""What atlas-demo contributes to Atlas, found through ``atlas.plugins``: ``atlas demo``."""

from atlas_core.plugins import Plugin
from atlas_demo import __version__
from atlas_demo.cli import demo_app

PLUGIN = Plugin(name="demo", version=__version__, commands={"demo": demo_app})
"""The ``demo`` command group (runs on its own: ``atlas demo``, ``atlas demo --fast``)."""
