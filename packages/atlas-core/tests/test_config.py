"""Configuration: defaults < atlas.yaml < ATLAS_* environment, clear errors, the token secret."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import BaseModel

from atlas_core.config import (
    SECRET_FILE,
    AtlasConfig,
    config_path,
    feedback_secrets,
    load_config,
)
from atlas_core.errors import ConfigError


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ATLAS_* variable of the outer environment, and a cwd without atlas.yaml."""
    for name in list(os.environ):
        if name.startswith("ATLAS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file() -> None:
    config = load_config()
    assert config.serve.http_port == 8080
    assert config.serve.grpc_port == 50051
    assert config.home == Path(".atlas")
    assert config.store.url == f"sqlite:///{Path('.atlas').resolve() / 'atlas.db'}"
    assert config.sdk.buffer_policy == "block"
    assert config.feedback_tokens.secret is None


def test_yaml_overrides_defaults_and_env_overrides_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(
        tmp_path / "conf.yaml",
        "serve:\n  http_port: 9000\n  grpc_port: 9001\nsdk:\n  batch_size: 50\n",
    )
    monkeypatch.setenv("ATLAS_SERVE__HTTP_PORT", "8081")
    config = load_config(path)
    assert config.serve.http_port == 8081  # env beats YAML
    assert config.serve.grpc_port == 9001  # YAML beats default, sibling kept
    assert config.sdk.batch_size == 50
    assert config.serve.max_batch_events == 10_000  # default


def test_file_found_via_env_then_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "atlas.yaml", "serve:\n  http_port: 7001\n")
    assert config_path() == Path("atlas.yaml")
    assert load_config().serve.http_port == 7001
    other = _write(tmp_path / "other.yaml", "serve:\n  http_port: 7002\n")
    monkeypatch.setenv("ATLAS_CONFIG", str(other))
    assert load_config().serve.http_port == 7002
    explicit = _write(tmp_path / "explicit.yaml", "serve:\n  http_port: 7003\n")
    assert load_config(explicit).serve.http_port == 7003


def test_home_moves_the_default_store(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.yaml", f"home: {tmp_path / 'h'}\n")
    config = load_config(path)
    assert config.store.url == f"sqlite:///{tmp_path / 'h' / 'atlas.db'}"
    explicit = _write(tmp_path / "b.yaml", f"home: {tmp_path}\nstore:\n  url: sqlite:///x.db\n")
    assert load_config(explicit).store.url == "sqlite:///x.db"


def test_unknown_key_names_field_and_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "atlas.yaml", "serve:\n  htp_port: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "serve.htp_port" in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("serve:\n  http_port: -1\n", "serve.http_port"),
        ("serve:\n  grpc_port: 70000\n", "serve.grpc_port"),
        ("serve:\n  commit_max_events: many\n", "serve.commit_max_events"),
        ("sdk:\n  buffer_policy: spill\n", "sdk.buffer_policy"),
        ("feedback_tokens:\n  ttl_s: 0\n", "feedback_tokens.ttl_s"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config(_write(tmp_path / "atlas.yaml", text))


def test_bad_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLAS_SERVE__HTTP_PORT", "eighty")
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "serve.http_port" in str(info.value)
    assert "ATLAS_SERVE__HTTP_PORT" in str(info.value)


@pytest.mark.parametrize("text", ["serve: [\n", "- a\n- b\n", "serve:\n\tport: 1\n"])
def test_malformed_yaml_names_the_file(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path / "atlas.yaml", text)
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_secret_value_is_never_echoed(tmp_path: Path) -> None:
    path = _write(tmp_path / "atlas.yaml", "feedback_tokens:\n  secret: [hunter2-secret]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "feedback_tokens.secret" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_every_field_is_documented() -> None:
    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            assert field.description, f"{prefix}{name} has no description"
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name}.")

    walk(AtlasConfig, "")


def test_secret_generated_once_with_0600(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = load_config(_write(tmp_path / "atlas.yaml", f"home: {home}\n"))
    first = feedback_secrets(config)
    assert len(first) == 1
    assert len(first[0]) >= 32
    path = home / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert feedback_secrets(load_config(tmp_path / "atlas.yaml")) == first  # persisted, reused


def test_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = load_config(_write(tmp_path / "atlas.yaml", f"home: {home}\n"))
    feedback_secrets(config)
    (home / SECRET_FILE).chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        feedback_secrets(config)


def test_configured_secret_and_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLAS_FEEDBACK_TOKENS__SECRET", "n" * 40)
    path = _write(
        tmp_path / "atlas.yaml",
        f"home: {tmp_path / 'h'}\nfeedback_tokens:\n  previous_secrets: ['{'o' * 40}']\n",
    )
    config = load_config(path)
    assert feedback_secrets(config) == ["n" * 40, "o" * 40]
    assert not (tmp_path / "h" / SECRET_FILE).exists()  # nothing generated
    assert "nnnn" not in repr(config)
    monkeypatch.setenv("ATLAS_FEEDBACK_TOKENS__SECRET", "short")
    with pytest.raises(ConfigError, match=r"feedback_tokens\.secret"):
        feedback_secrets(load_config(path))


def test_unknown_env_field_and_top_level_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATLAS_SERVE__HTTP_PROT", "1")
    with pytest.raises(ConfigError, match="ATLAS_SERVE__HTTP_PROT"):
        load_config()
    monkeypatch.delenv("ATLAS_SERVE__HTTP_PROT")
    with pytest.raises(ConfigError, match="servr"):
        load_config(_write(tmp_path / "atlas.yaml", "servr:\n  http_port: 1\n"))
