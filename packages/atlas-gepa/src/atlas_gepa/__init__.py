"""Atlas online learning: GEPA prompt evolution over production data.

Modules: ``config`` (the run's typed YAML config), ``data`` (examples from the Store, split),
``scoring`` (reward model or gold-label scores), ``evaluation`` (a candidate served through
the runtime, batch-concurrent; ``discard``: its runs are not recorded), ``adapter`` (the
``GEPAAdapter``), ``reflection`` (the reflection model over any OpenAI-compatible
endpoint), ``cache`` (what a resume must not pay for twice), ``optimizer`` (the ``gepa``
engine with budgets and a run directory),
``versions`` (candidate prompt Versions), ``pipeline`` (a whole run from a config),
``learner`` (the learning loop's ``gepa`` learner and the gate's evaluator), ``online``
(windows of fresh traffic, honestly measured), ``cli`` (``atlas optimize gepa``),
``testing`` (a deterministic synthetic task for tests and benchmarks).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("atlas-gepa")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
