"""Export of store frames to JSONL, Parquet and Hugging Face ``datasets``.

Binary ids become canonical UUID strings (``8-4-4-4-12`` hex) in JSONL and
``datasets`` (which have no 16-byte type worth using); Parquet keeps them as
16-byte binary unless ``ids_as_strings=True``. Times stay UTC.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import datasets  # type: ignore[import-untyped]


def ids_to_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """Every binary column (the ids) as canonical UUID strings; nulls stay null."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Binary:
            hexed = pl.col(name).bin.encode("hex")
            exprs.append(
                pl.concat_str(
                    hexed.str.slice(0, 8),
                    hexed.str.slice(8, 4),
                    hexed.str.slice(12, 4),
                    hexed.str.slice(16, 4),
                    hexed.str.slice(20, 12),
                    separator="-",
                ).alias(name)
            )
        else:
            exprs.append(pl.col(name))
    return frame.select(exprs)


def to_jsonl(frame: pl.DataFrame, path: str | Path) -> Path:
    """Writes one JSON object per row; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    ids_to_strings(frame).write_ndjson(out)
    return out


def to_parquet(frame: pl.DataFrame, path: str | Path, *, ids_as_strings: bool = False) -> Path:
    """Writes a Parquet file (zstd); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    (ids_to_strings(frame) if ids_as_strings else frame).write_parquet(out, compression="zstd")
    return out


def to_hf_dataset(frame: pl.DataFrame) -> datasets.Dataset:
    """An in-memory Hugging Face ``datasets.Dataset`` sharing the frame's Arrow data."""
    import datasets  # heavy: imported only to export

    return datasets.Dataset(ids_to_strings(frame).to_arrow())
