"""Errors of the chat client: one base class, and a subclass per way a call can fail."""

from __future__ import annotations

from atlas_core.errors import AtlasError


class LLMError(AtlasError):
    """A chat completion could not be obtained."""


class LLMTimeoutError(LLMError, TimeoutError):
    """Every attempt timed out (or the connection kept failing) within the retry budget."""


class LLMStatusError(LLMError):
    """The endpoint answered an HTTP error: one not worth retrying, or retries ran out."""

    def __init__(self, status: int, body: str, url: str, attempts: int) -> None:
        self.status = status
        self.body = body
        self.url = url
        self.attempts = attempts
        excerpt = body if len(body) <= 300 else body[:300] + "..."
        super().__init__(f"{url} answered HTTP {status} after {attempts} attempt(s): {excerpt}")


class LLMResponseError(LLMError):
    """The endpoint answered 200 with a body that is not a chat completion."""
