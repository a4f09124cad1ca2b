# Hand-written stub of the native extension `atlas_core._native` (crates/atlas-py).
# Checked against the built module by `mypy.stubtest` in packages/atlas-core/tests/test_stubs.py.

__all__ = [
    "__version__",
]

__version__: str
