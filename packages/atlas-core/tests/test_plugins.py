"""The plugin registry loads entry points and refuses malformed or clashing ones."""

from __future__ import annotations

import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from atlas_core import plugins
from atlas_core.errors import PluginError

FAKE_PLUGINS = textwrap.dedent(
    """
    from atlas_core.plugins import Plugin

    GOOD = Plugin(name="good", version="1.0", stores={"mem": dict})
    CLASH = Plugin(name="clash", version="1.0", stores={"mem": list})
    NOT_A_PLUGIN = 42


    def make_good():
        return Plugin(name="made", version="2.0", learners={"x": dict})
    """
)


@pytest.fixture(autouse=True)
def fake_plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real importable module for the entry points below to point at."""
    (tmp_path / "atlas_fake_plugins.py").write_text(FAKE_PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))


def ep(name: str, attr: str) -> EntryPoint:
    value = f"atlas_fake_plugins:{attr}"
    return EntryPoint(name=name, value=value, group=plugins.ENTRY_POINT_GROUP)


def test_discover_loads_objects_and_factories() -> None:
    found = plugins.discover([ep("good", "GOOD"), ep("made", "make_good")])
    assert set(found) == {"good", "made"}
    assert plugins.stores(found) == {"mem": dict}
    assert plugins.learners(found) == {"x": dict}


def test_installed_siblings_are_found() -> None:
    assert {"memory", "rim", "gepa", "grpo"} <= set(plugins.discover())


def test_wrong_object_is_named_in_error() -> None:
    with pytest.raises(PluginError, match=r"'bad'.*gave int, expected Plugin"):
        plugins.discover([ep("bad", "NOT_A_PLUGIN")])


def test_unimportable_entry_point_is_named_in_error() -> None:
    broken = EntryPoint(name="broken", value="no_such_xyz:P", group=plugins.ENTRY_POINT_GROUP)
    with pytest.raises(PluginError, match="'broken'"):
        plugins.discover([broken])


def test_two_plugins_providing_one_store_scheme_is_an_error() -> None:
    found = plugins.discover([ep("good", "GOOD"), ep("clash", "CLASH")])
    with pytest.raises(PluginError, match="'mem' is provided by more than one plugin"):
        plugins.stores(found)
