"""Loading the configuration: defaults < ``atlas.yaml`` < ``ATLAS_*`` environment.

Which file: the ``path`` argument (``--config``), else ``ATLAS_CONFIG``, else
``./atlas.yaml`` if it exists, else none (defaults and environment only). Nested
fields come from the environment as ``ATLAS_<SECTION>__<FIELD>``, e.g.
``ATLAS_SERVE__HTTP_PORT=8081``. Any problem raises :class:`ConfigError` naming
the field path and where the bad value came from (the file or the variable).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
)

from atlas_core.config.models import AtlasConfig
from atlas_core.errors import ConfigError

__all__ = ["ENV_PREFIX", "Config", "config_path", "load_config"]

ENV_PREFIX = "ATLAS_"
DEFAULT_FILE = "atlas.yaml"

# The YAML layer of the load in progress; a context variable because pydantic-settings
# builds its sources in a classmethod that cannot take arguments.
_yaml_layer: ContextVar[dict[str, Any] | None] = ContextVar("_yaml_layer", default=None)


class Config(AtlasConfig):
    """:class:`AtlasConfig` with the YAML layer under the environment; ``load_config`` builds it."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest priority first: explicit arguments, environment, then the YAML file."""
        return (
            init_settings,
            env_settings,
            InitSettingsSource(settings_cls, _yaml_layer.get() or {}),
        )

    @model_validator(mode="before")
    @classmethod
    def _store_under_home(cls, data: Any) -> Any:
        # A home set in the file or the environment moves the default store with it,
        # unless a store URL is given (ATLAS_STORE_URL keeps its historical meaning).
        if isinstance(data, Mapping) and "home" in data and not os.environ.get("ATLAS_STORE_URL"):
            store = data.get("store")
            if store is None or (isinstance(store, Mapping) and "url" not in store):
                home = Path(str(data["home"])).expanduser().resolve()
                data = {**data, "store": {**(store or {}), "url": f"sqlite:///{home / 'atlas.db'}"}}
        return data


def config_path(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The file to read: ``path``, else ``ATLAS_CONFIG``, else ``./atlas.yaml`` if present."""
    if path is not None:
        return Path(path)
    from_env = os.environ.get("ATLAS_CONFIG")
    if from_env:
        return Path(from_env)
    local = Path(DEFAULT_FILE)
    return local if local.is_file() else None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot be read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: malformed YAML: {exc}") from exc
    if data is None:  # an empty file means "all defaults"
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path}: the top level must be a mapping of sections, "
            f"got {type(data).__name__}"
        )
    return data


def _origin(loc: tuple[int | str, ...], path: Path | None) -> str:
    """Where the value at ``loc`` came from: its environment variable if set, else the file."""
    variable = ENV_PREFIX + "__".join(str(part) for part in loc).upper()
    if variable in os.environ:
        return f"environment variable {variable}"
    if path is not None:
        return f"config file {path}"
    return "defaults"


def _explain(exc: ValidationError, path: Path | None) -> ConfigError:
    # The messages name the field and the source but never echo the value: it may be a secret.
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "<top>"
        lines.append(f"{field}: {err['msg']} ({_origin(err['loc'], path)})")
    where = f" (file {path})" if path is not None else ""
    return ConfigError(f"invalid configuration{where}:\n  " + "\n  ".join(lines))


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """The configuration: defaults, overlaid by the YAML file, overlaid by ``ATLAS_*`` variables.

    Raises :class:`ConfigError` for a missing or malformed file, an unknown key, a value of
    the wrong type or out of range; the message names the field path and its source.
    """
    resolved = config_path(path)
    layer = _read_yaml(resolved) if resolved is not None else {}
    token = _yaml_layer.set(layer)
    try:
        return Config()
    except ValidationError as exc:
        raise _explain(exc, resolved) from None
    finally:
        _yaml_layer.reset(token)
