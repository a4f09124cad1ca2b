"""What atlas-gepa contributes to Atlas, found through ``atlas.plugins``: the ``gepa``
learner of the learning loop and the ``atlas optimize`` command group."""

from atlas_core.plugins import Plugin
from atlas_gepa import __version__
from atlas_gepa.cli import optimize_app
from atlas_gepa.learner import GepaLearner

PLUGIN = Plugin(
    name="gepa",
    version=__version__,
    learners={"gepa": GepaLearner},
    commands={"optimize": optimize_app},
)
