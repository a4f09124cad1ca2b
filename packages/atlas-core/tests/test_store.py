"""The Store entry point: URL resolution and plugin dispatch (core imports no back-end)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from atlas_core import store as store_module
from atlas_core.errors import InvalidArgumentError
from atlas_core.plugins import Plugin
from atlas_core.store import Store, StoreError, default_store_url, open_store


def test_default_url_uses_atlas_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ATLAS_STORE_URL", raising=False)
    monkeypatch.setenv("ATLAS_HOME", str(tmp_path))
    assert default_store_url() == f"sqlite:///{tmp_path / 'atlas.db'}"
    monkeypatch.setenv("ATLAS_STORE_URL", "postgresql://db/atlas")
    assert default_store_url() == "postgresql://db/atlas"


def test_open_store_dispatches_by_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []

    class Fake:
        url = "fake://x"

    def factory(url: str) -> object:
        opened.append(url)
        return Fake()

    fake_plugin = Plugin(name="fake", version="0", stores={"fake": factory})
    monkeypatch.setattr(store_module.plugins, "discover", lambda: {"fake": fake_plugin})
    # Fake lacks the Store methods: open_store refuses it rather than hand it out.
    with pytest.raises(StoreError, match="returned Fake"):
        open_store("fake://x")
    assert opened == ["fake://x"]
    with pytest.raises(InvalidArgumentError, match="no store for scheme 'mysql'; installed: fake"):
        open_store("mysql://x")


def test_installed_sqlite_store_satisfies_the_protocol(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert isinstance(store, Store)
        assert store.schema_version() >= 1
    finally:
        store.close()


def test_core_never_imports_a_back_end() -> None:
    source = Path(store_module.__file__).read_text()
    imported = {
        node.module.split(".")[0] if isinstance(node, ast.ImportFrom) and node.module else ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    }
    assert "atlas_memory" not in imported
