"""``atlas config``: show the effective configuration and document every field.

``show`` prints the merged configuration (defaults < file < ``ATLAS_*``) as YAML with
secrets masked; ``fields`` lists every field with its environment variable, default
and description (the reference for ``atlas.yaml``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer
import yaml
from pydantic import BaseModel
from rich.console import Console

from atlas_core.config import AtlasConfig, load_config
from atlas_core.config.load import ENV_PREFIX
from atlas_core.errors import ConfigError

__all__ = ["config_app", "field_docs"]

config_app = typer.Typer(help="Show and document the configuration.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="atlas.yaml to read (default: ATLAS_CONFIG).")
]


def field_docs(model: type[BaseModel] = AtlasConfig, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted field path, description) for every leaf field, in declaration order."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from field_docs(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field.description or ""


def _masked(config: AtlasConfig) -> dict[str, Any]:
    # mode="json" renders SecretStr as '**********'; a password in the store URL is masked too.
    data: dict[str, Any] = config.model_dump(mode="json")
    url = urlsplit(data["store"]["url"])
    if url.password:
        netloc = url.netloc.replace(f":{url.password}@", ":***@", 1)
        data["store"]["url"] = urlunsplit(url._replace(netloc=netloc))
    return data


@config_app.command("show")
def show(config: ConfigOption = None) -> None:
    """Print the effective configuration as YAML (secrets masked)."""
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        _err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    text = yaml.safe_dump(_masked(loaded), sort_keys=False)
    _out.print(text, markup=False, highlight=False, soft_wrap=True, end="")


@config_app.command("fields")
def fields() -> None:
    """List every field: dotted path, environment variable and description."""
    for path, description in field_docs():
        variable = ENV_PREFIX + path.replace(".", "__").upper()
        _out.print(f"{path}  ({variable})\n    {description}", markup=False, soft_wrap=True)
