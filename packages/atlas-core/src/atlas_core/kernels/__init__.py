"""Atlas's native kernels (Rust, `atlas_core._native`) with their Python conveniences.

One module per kernel family: ``buffer`` (FeedbackBuffer), ``aggregator`` (RewardAggregator),
``replay`` (replay samplers) and ``drift`` (drift detectors).
"""
