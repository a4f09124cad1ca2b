"""Atlas's native kernels (Rust, `atlas_core._native`) with their Python conveniences.

One module per kernel family, each importable on its own:

- ``buffer``: :class:`FeedbackBuffer`, the bounded many-producer event buffer (drained as columns);
- ``aggregator``: :class:`RewardAggregator`, streaming per-key reward statistics and quantiles;
- ``replay``: uniform, prioritized, reservoir and stratified replay samplers;
- ``drift``: the ADWIN and Page–Hinkley drift detectors.
"""

from atlas_core.kernels.aggregator import RewardAggregator
from atlas_core.kernels.buffer import EventColumns, EventKind, FeedbackBuffer
from atlas_core.kernels.drift import ADWIN, PageHinkley
from atlas_core.kernels.replay import (
    PrioritizedReplay,
    ReservoirSampler,
    StratifiedReplay,
    UniformReplay,
)

__all__ = [
    "ADWIN",
    "EventColumns",
    "EventKind",
    "FeedbackBuffer",
    "PageHinkley",
    "PrioritizedReplay",
    "ReservoirSampler",
    "RewardAggregator",
    "StratifiedReplay",
    "UniformReplay",
]
