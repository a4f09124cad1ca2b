"""The package is found by core through its entry point."""

from atlas_core import plugins
from atlas_gepa import __version__


def test_entry_point_is_discovered() -> None:
    found = plugins.discover()
    assert "gepa" in found
    assert found["gepa"].version == __version__
