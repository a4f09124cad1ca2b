"""The package is found by core through its entry point."""

from atlas_core import plugins
from atlas_grpo import __version__


def test_entry_point_is_discovered() -> None:
    found = plugins.discover()
    assert "grpo" in found
    assert found["grpo"].version == __version__
