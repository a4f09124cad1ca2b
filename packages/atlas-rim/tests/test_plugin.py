"""The package is found by core through its entry point."""

from atlas_core import plugins
from atlas_rim import __version__


def test_entry_point_is_discovered() -> None:
    found = plugins.discover()
    assert "rim" in found
    assert found["rim"].version == __version__
