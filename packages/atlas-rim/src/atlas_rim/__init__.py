"""Atlas reward system (RIM): feedback signals and an LLM judge ensemble with escalation.

The names below are imported on first use, so that discovering the plugin (which every
``atlas`` command does) does not load polars, httpx and the judges.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("atlas-rim")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from atlas_rim.config import RimConfig, load_config
    from atlas_rim.model import RimRewardModel, is_trainable
    from atlas_rim.signals import score_events
    from atlas_rim.store_scoring import score_store

_EXPORTS = {
    "RimConfig": "atlas_rim.config",
    "load_config": "atlas_rim.config",
    "RimRewardModel": "atlas_rim.model",
    "is_trainable": "atlas_rim.model",
    "score_events": "atlas_rim.signals",
    "score_store": "atlas_rim.store_scoring",
}

__all__ = [
    "RimConfig",
    "RimRewardModel",
    "__version__",
    "is_trainable",
    "load_config",
    "score_events",
    "score_store",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'atlas_rim' has no attribute {name!r}")
