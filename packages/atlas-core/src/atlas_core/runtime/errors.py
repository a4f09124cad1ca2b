"""Errors of the reasoning-core runtime: what an agent call can fail with.

Every adapter turns its own failures (an HTTP status, a timeout, a body that is not what
was promised, an exception in a user's function) into one of these, so the protocol can
degrade on any of them without knowing which adapter it is talking to.
"""

from __future__ import annotations

from atlas_core.errors import AtlasError, InvalidArgumentError

__all__ = [
    "AgentError",
    "AgentResponseError",
    "AgentStatusError",
    "AgentTimeoutError",
    "TemplateError",
]


class AgentError(AtlasError):
    """An agent call failed; the message names the agent and why."""


class AgentTimeoutError(AgentError, TimeoutError):
    """Every attempt of an agent call ran past its timeout."""


class AgentStatusError(AgentError):
    """The agent answered with an error status (after any retries)."""

    def __init__(self, message: str, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AgentResponseError(AgentError):
    """The agent answered, but not with something the adapter can read as an answer."""


class TemplateError(InvalidArgumentError):
    """A prompt template is malformed, uses unknown variables, or is not registered."""
