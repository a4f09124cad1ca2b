"""`atlas tenants` and `atlas keys` against a real SQLite store."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atlas_core.auth.keys import KeyVerifier
from atlas_core.cli import build_app
from atlas_core.errors import AuthenticationError
from atlas_core.store import open_store
from atlas_core.types import ApiKey

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in list(os.environ):
        if name.startswith("ATLAS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path / 'atlas.db'}"


def _ok(*args: str) -> str:
    result = runner.invoke(build_app(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _create(url: str, *extra: str) -> tuple[str, str]:
    out = _ok("keys", "create", "--tenant", "acme", "--store", url, *extra)
    key_id = re.search(r"key id:\s+(\S+)", out)
    secret = re.search(r"secret:\s+(atlas_\S+)", out)
    assert key_id is not None
    assert secret is not None
    return key_id.group(1), secret.group(1)


def test_create_list_revoke(url: str) -> None:
    _ok("tenants", "create", "acme", "--name", "Acme Inc", "--store", url)
    assert "acme" in _ok("tenants", "list", "--store", url)
    key_id, secret = _create(url, "--scope", "ingest", "--scope", "read", "--name", "web")

    with open_store(url) as store:
        principal = KeyVerifier(store).authenticate(secret, scope="read")
        assert str(principal.key_id) == key_id
        assert principal.scopes == {"ingest", "read"}
        key = store.find_api_key(ApiKey.hash_secret(secret))
        assert key is not None

    listing = _ok("keys", "list", "--tenant", "acme", "--store", url)
    assert key_id in listing
    assert "active" in listing
    assert "web" in listing
    assert secret not in listing
    assert key.key_hash not in listing  # only a short prefix
    assert key.key_hash[:8] in listing

    _ok("keys", "revoke", key_id, "--tenant", "acme", "--store", url)
    assert "revoked" in _ok("keys", "list", "--tenant", "acme", "--store", url)
    with open_store(url) as store, pytest.raises(AuthenticationError, match="revoked"):
        KeyVerifier(store).authenticate(secret)


def test_store_defaults_to_config(url: str, tmp_path: Path) -> None:
    (tmp_path / "atlas.yaml").write_text(f"store:\n  url: {url}\n", encoding="utf-8")
    _ok("tenants", "create", "acme")
    _, secret = _create(url, "--scope", "admin")
    with open_store(url) as store:
        assert KeyVerifier(store).authenticate(secret).tenant_id == "acme"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--tenant", "ghost", "--scope", "read"], "no tenant 'ghost'"),
        (["keys", "create", "--tenant", "acme", "--scope", "write"], "unknown scope 'write'"),
        (["keys", "revoke", "nope", "--tenant", "acme"], "not a key id"),
        (
            ["keys", "revoke", "0190b6a0-0000-7000-8000-000000000000", "--tenant", "acme"],
            "no key",
        ),
        (["tenants", "create", "bad tenant!"], "id"),
    ],
)
def test_errors_exit_1_with_a_message(url: str, args: list[str], message: str) -> None:
    _ok("tenants", "create", "acme", "--store", url)
    result = runner.invoke(build_app(), [*args, "--store", url])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_revoke_is_tenant_scoped(url: str) -> None:
    _ok("tenants", "create", "acme", "--store", url)
    _ok("tenants", "create", "globex", "--store", url)
    key_id, secret = _create(url, "--scope", "read")
    result = runner.invoke(
        build_app(), ["keys", "revoke", key_id, "--tenant", "globex", "--store", url]
    )
    assert result.exit_code == 1
    with open_store(url) as store:
        KeyVerifier(store).authenticate(secret)  # still valid
    assert key_id not in _ok("keys", "list", "--tenant", "globex", "--store", url)


def test_bad_config_is_a_clean_error(url: str, tmp_path: Path) -> None:
    (tmp_path / "atlas.yaml").write_text("store: [\n", encoding="utf-8")
    result = runner.invoke(build_app(), ["tenants", "list"])
    assert result.exit_code == 1
    assert "malformed YAML" in result.output
