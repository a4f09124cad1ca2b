"""The package is found by core through its entry point."""

from atlas_core import plugins
from atlas_memory import __version__


def test_entry_point_is_discovered() -> None:
    found = plugins.discover()
    assert "memory" in found
    assert found["memory"].version == __version__
