"""`atlas versions list|promote|rollback` against a real SQLite store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atlas_core.cli import build_app
from atlas_core.config.models import RolloutConfig
from atlas_core.loop import Rollout
from atlas_core.store import open_store
from atlas_core.types import Version, VersionKind, VersionStatus

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in list(os.environ):
        if name.startswith("ATLAS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path / 'atlas.db'}"


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(build_app(), list(args))
    assert result.exit_code == code, result.output
    return result.output


def _versions(url: str) -> tuple[Version, Version]:
    with open_store(url) as store:
        v1 = Version(
            kind=VersionKind.PROMPT,
            name="agent",
            number=1,
            artifact_uri="a",
            metrics={"gate.candidate": 0.7},
        )
        v2 = Version(
            kind=VersionKind.PROMPT,
            name="agent",
            number=2,
            artifact_uri="b",
            metrics={"gate.candidate": 0.81, "gate.bwt": -0.01},
        )
        store.put_version(v1)
        store.put_version(v2)
    return v1, v2


def test_list_promote_rollback(url: str) -> None:
    v1, v2 = _versions(url)
    out = _run("versions", "list", "--store", url)
    assert str(v1.id) in out
    assert str(v2.id) in out
    assert "0.810" in out
    assert "-0.010" in out
    assert "candidate" in out

    out = _run("versions", "promote", str(v1.id), "--store", url)
    assert f"({v1.id}) is production" in out
    out = _run("versions", "promote", str(v2.id), "--store", url)
    assert f"previous: {v1.id}" in out
    with open_store(url) as store:
        prod = store.resolve_alias("default", VersionKind.PROMPT, "agent", "production")
        assert prod is not None
        assert prod.id == v2.id
    out = _run("versions", "list", "--store", url)
    assert "production" in out
    assert "retired" in out
    assert "rollout prompt/agent: promoted" in out

    assert "finished rollouts: 2 promoted, 0 rolled back" in out
    out = _run("versions", "rollback", "prompt", "agent", "--store", url)
    assert f"production is {v1.id}" in out
    out = _run("versions", "list", "--store", url)
    assert "finished rollouts: 2 promoted, 1 rolled back" in out
    with open_store(url) as store:
        prod = store.resolve_alias("default", VersionKind.PROMPT, "agent", "production")
        assert prod is not None
        assert prod.id == v1.id
        assert store.get_version("default", v2.id).status is VersionStatus.REJECTED  # type: ignore[union-attr]


def test_store_from_the_environment_and_an_in_flight_canary(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, v2 = _versions(url)
    with open_store(url) as store:
        r = Rollout(store, "default", VersionKind.PROMPT, "agent", RolloutConfig())
        r.switch(v1)
        r.start(v2)
    monkeypatch.setenv("ATLAS_STORE_URL", url)
    assert "rollout prompt/agent: shadow at 0%" in _run("versions", "list")
    # Promoting the in-flight candidate ends its rollout with a switch.
    _run("versions", "promote", str(v2.id))
    with open_store(url) as store:
        prod = store.resolve_alias("default", VersionKind.PROMPT, "agent", "production")
        assert prod is not None
        assert prod.id == v2.id


def test_errors_are_one_line_and_exit_1(url: str) -> None:
    out = _run("versions", "promote", "nope", "--store", url, code=1)
    assert "version_id: not a version id: 'nope'" in out
    out = _run(
        "versions", "promote", "01a20000-0000-7000-8000-000000000000", "--store", url, code=1
    )
    assert "no version 01a20000-0000-7000-8000-000000000000" in out
    out = _run("versions", "rollback", "prompt", "agent", "--store", url, code=1)
    assert "no rollout of prompt/agent" in out
    _run("versions", "rollback", "bogus", "agent", "--store", url, code=2)
