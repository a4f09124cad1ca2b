"""`atlas_core.kernels` exposes every kernel, and each is the native class (or a thin subclass)."""

from __future__ import annotations

from atlas_core import _native, kernels

NOT_KERNELS = {"ArrowTable"}
"""Native classes that are plumbing, not kernels: ``ArrowTable`` is the ingest decoder's
table handle, handed to polars through the Arrow C data interface (serve/column_decode.py)."""


def test_every_native_class_is_exported() -> None:
    native_classes = {
        name for name in _native.__all__ if isinstance(getattr(_native, name), type)
    } - NOT_KERNELS
    exported = set(kernels.__all__)
    assert native_classes <= exported
    for name in native_classes:
        assert issubclass(getattr(kernels, name), getattr(_native, name))
