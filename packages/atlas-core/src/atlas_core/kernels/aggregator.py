"""RewardAggregator: streaming statistics per key, with table conveniences.

The native class (``atlas_core._native.RewardAggregator``) does the work; this subclass adds
what is easier in Python: batch keys given as an Arrow or polars string column (passed to
the kernel as Arrow's offset and data buffers, without copying), snapshots as a polars
DataFrame or a pyarrow Table, and ``from_state``.

Per key: count, mean, sample variance (ddof=1), min, max; an EMA whose weights halve every
``half_life`` events *of that key*; the mean of the key's last ``last_n`` values; the mean over a
time window of ``window_seconds`` cut into ``window_buckets`` epoch-aligned buckets (the window
ending at ``now`` covers timestamps in ``[g·(⌊now/g⌋ − B + 1), g·(⌊now/g⌋ + 1))`` with
``g = window_seconds / window_buckets``); and quantiles from a DDSketch: the estimate ``v`` of the
exact lower quantile ``x`` (the value of rank ``⌊q·(n − 1)⌋``) satisfies
``|v − x| ≤ relative_accuracy·|x|`` (``|v − x| < 1e-9`` when ``|x| < 1e-9``); ranks landing on the
smallest or largest value are exact. ``relative_accuracy`` is in ``[1e-4, 1)``; the sketch keeps one
counter per bucket between the smallest and largest magnitude seen (about 350 for rewards in
``[1e-3, 1]`` at the default 0.01), never collapsed, which is what makes merging exact.

``a.merge(b)`` gives exactly the snapshot of one aggregator fed both streams for everything but
EMA and last-N (up to float rounding); for those two, ``b``'s events count as arriving after
``a``'s, i.e. the result equals feeding ``a``'s stream and then ``b``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from atlas_core import _native
from atlas_core.errors import InvalidArgumentError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MIN_INDEXABLE", "RewardAggregator"]

#: Magnitudes below this are counted as 0 by the quantile sketch (``MIN_INDEXABLE`` in
#: crates/atlas-kernels/src/aggregator/sketch.rs).
MIN_INDEXABLE = 1e-9

KeyColumn = npt.NDArray[np.int64] | Sequence[int] | Sequence[str] | pl.Series | Any


class RewardAggregator(_native.RewardAggregator):
    """Streaming per-key statistics; see the module docstring for every statistic's definition."""

    @classmethod
    def from_state(cls, state: bytes) -> Self:
        """An aggregator restored from ``save_state()`` bytes (configuration included)."""
        agg = cls()
        agg.load_state(state)
        return agg

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        """Pickles (and deep-copies) through ``save_state``."""
        return (type(self).from_state, (self.save_state(),))

    def add_batch(
        self,
        keys: KeyColumn,
        values: npt.ArrayLike,
        timestamps: npt.ArrayLike | None = None,
    ) -> None:
        """Adds a batch in order, without the GIL.

        ``keys``: an int64 NumPy array or a sequence of int (key_type "int"); a list of str, a
        pyarrow string array or a polars string Series (key_type "str"; Arrow and polars
        columns reach the kernel without a copy). ``values`` and ``timestamps`` (Unix seconds,
        default now): float64 NumPy arrays, or sequences converted to float64; an array of
        another dtype raises InvalidArgumentError naming the argument rather than being cast.
        A NaN or infinite value or timestamp raises InvalidArgumentError and nothing of the batch
        is added.
        """
        vals = _float_column("values", values)
        ts = None if timestamps is None else _float_column("timestamps", timestamps)
        if self.key_type == "int":
            super().add_batch(_int_keys(keys), vals, ts)
            return
        if isinstance(keys, pl.Series):
            keys = keys.to_arrow()
        buffers = _arrow_utf8(keys)
        if buffers is None:
            # Lists of str go straight to the kernel, which checks every element.
            super().add_batch(keys, vals, ts)  # type: ignore[arg-type]
        else:
            offsets, data = buffers
            self.add_batch_utf8(offsets, data, vals, ts)

    def to_polars(self, now: float | None = None) -> pl.DataFrame:
        """The snapshot (one row per key, sorted by key) as a polars DataFrame."""
        cols = self.snapshot(now)
        key_dtype = pl.Int64 if self.key_type == "int" else pl.String
        return pl.DataFrame(
            {
                name: pl.Series(name, col, dtype=key_dtype if name == "key" else None)
                for name, col in cols.items()
            }
        )

    def to_arrow(self, now: float | None = None) -> pa.Table:
        """The snapshot as a pyarrow Table (needs the ``arrow`` extra)."""
        return self.to_polars(now).to_arrow()


def _float_column(name: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    if isinstance(values, np.ndarray):
        # Wrong dtypes are left to the kernel, which names the argument and the dtype.
        return values
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"invalid argument `{name}`: not convertible to float64 ({exc})"
        ) from exc


def _int_keys(keys: KeyColumn) -> Any:
    if isinstance(keys, np.ndarray):
        return keys
    if isinstance(keys, pl.Series):
        return keys.to_numpy()
    arrow = _as_arrow(keys)
    if arrow is not None:
        return arrow.to_numpy(zero_copy_only=False)
    if isinstance(keys, Sequence) and all(isinstance(k, int) for k in keys):
        return np.asarray(keys, dtype=np.int64)
    return keys


def _as_arrow(obj: Any) -> Any:
    """``obj`` as a single pyarrow Array if it is a pyarrow (chunked) array, else None."""
    module = type(obj).__module__
    if not module.startswith("pyarrow"):
        return None
    import pyarrow as pa

    if isinstance(obj, pa.ChunkedArray):
        return obj.combine_chunks()
    return obj if isinstance(obj, pa.Array) else None


def _arrow_utf8(keys: Any) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint8]] | None:
    """Arrow's offsets and data buffers of a string column, or None if ``keys`` is not Arrow."""
    arr = _as_arrow(keys)
    if arr is None:
        return None
    import pyarrow as pa

    if arr.null_count:
        raise InvalidArgumentError("invalid argument `keys`: contains nulls")
    if pa.types.is_string(arr.type):
        offset_dtype: type[np.signedinteger[Any]] = np.int32
    elif pa.types.is_large_string(arr.type):
        offset_dtype = np.int64
    elif pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.large_string())
        offset_dtype = np.int64
    else:
        raise InvalidArgumentError(
            f"invalid argument `keys`: must be an Arrow string column, got {arr.type}"
        )
    _, offsets_buf, data_buf = arr.buffers()[:3]
    offsets = np.frombuffer(offsets_buf, dtype=offset_dtype)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    )
    return offsets, data
