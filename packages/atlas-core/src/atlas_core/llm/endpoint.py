"""Where a chat model lives and how patiently to call it."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from atlas_core.errors import ConfigError


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, a test fixture, ...)."""

    base_url: str
    """The API root, e.g. ``http://localhost:8000/v1``; ``/chat/completions`` is appended."""
    model: str
    """Model name sent with every request (a call may override it)."""
    api_key: str | None = None
    """Sent as ``Authorization: Bearer ...`` when set."""
    timeout_s: float = 30.0
    """Limit for one attempt (connect, send, wait, read)."""
    max_retries: int = 3
    """Further attempts after a timeout, a connection error, a 429 or a 5xx."""
    backoff_s: float = 0.25
    """First back-off; doubled on each retry (with jitter) unless the server sends Retry-After."""
    max_concurrency: int = 16
    """Most requests one client has in flight; further calls wait their turn."""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url: expected an http(s) URL, got {self.base_url!r}")
        if not self.model:
            raise ConfigError("model: must not be empty")
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout_s: must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries: must be >= 0, got {self.max_retries}")
        if not self.backoff_s >= 0:
            raise ConfigError(f"backoff_s: must be >= 0, got {self.backoff_s}")
        if self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency: must be >= 1, got {self.max_concurrency}")

    @property
    def chat_url(self) -> str:
        """The full chat-completions URL."""
        return self.base_url.rstrip("/") + "/chat/completions"

    @classmethod
    def from_env(cls, prefix: str = "ATLAS_LLM", **overrides: Any) -> Endpoint:
        """Reads ``{prefix}_BASE_URL``, ``{prefix}_MODEL`` and ``{prefix}_API_KEY``;
        keyword arguments win over the environment."""
        values: dict[str, Any] = {
            "base_url": os.environ.get(f"{prefix}_BASE_URL"),
            "model": os.environ.get(f"{prefix}_MODEL"),
            "api_key": os.environ.get(f"{prefix}_API_KEY") or None,
        }
        values.update(overrides)
        for field, var in (("base_url", "BASE_URL"), ("model", "MODEL")):
            if not values.get(field):
                raise ConfigError(f"{prefix}_{var} is not set (and no {field}= was given)")
        return cls(**values)

    def with_model(self, model: str) -> Endpoint:
        """The same endpoint serving another model (e.g. a stronger arbiter)."""
        return replace(self, model=model)
