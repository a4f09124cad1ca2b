"""The feedback-token signing secrets: configured, or generated once and kept under home.

A generated secret is written with mode 0600 (created exclusively, so two processes
starting together agree on one secret) and refused later if others can read it,
as ssh refuses a private key that is too open.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from atlas_core.config.models import AtlasConfig
from atlas_core.errors import ConfigError

__all__ = ["SECRET_FILE", "feedback_secrets"]

SECRET_FILE = "feedback_token.secret"
_MIN_LENGTH = 32  # bytes of an HS256 key: shorter ones are guessable and PyJWT warns


def _read(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"feedback_tokens.secret: {path} is readable by others (mode {oct(mode & 0o777)}); "
            "run chmod 600 on it"
        )
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < _MIN_LENGTH:
        raise ConfigError(f"feedback_tokens.secret: {path} holds fewer than {_MIN_LENGTH} chars")
    return value


def _generated(home: Path) -> str:
    path = home / SECRET_FILE
    if path.exists():
        return _read(path)
    home.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its secret
        return _read(path)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def feedback_secrets(config: AtlasConfig) -> list[str]:
    """Signing secrets, newest first: the first signs new tokens, all of them verify.

    The configured ``feedback_tokens.secret`` if set, else the one persisted under
    ``home`` (generated on the first call). ``previous_secrets`` follow it.
    """
    section = config.feedback_tokens
    if section.secret is not None:
        current = section.secret.get_secret_value()
        if len(current) < _MIN_LENGTH:
            raise ConfigError(f"feedback_tokens.secret: give at least {_MIN_LENGTH} characters")
    else:
        current = _generated(Path(config.home))
    return [current, *(s.get_secret_value() for s in section.previous_secrets)]
