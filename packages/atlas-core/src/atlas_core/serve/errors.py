"""Errors the ingestion service answers with, and how each transport spells them.

The pipeline raises these; the gRPC and HTTP layers map every ``AtlasError`` through
:func:`grpc_status_name` / :func:`http_status` so both transports answer the same way.
"""

from __future__ import annotations

from atlas_core.errors import (
    AtlasError,
    AuthenticationError,
    FeedbackTokenError,
    InvalidArgumentError,
    PermissionDeniedError,
)

__all__ = [
    "LimitExceededError",
    "OverloadedError",
    "RateLimitedError",
    "ShuttingDownError",
    "StoreUnavailableError",
    "grpc_status_name",
    "http_status",
]


class OverloadedError(AtlasError):
    """The server's buffer is full: retry after ``retry_after_s`` seconds (HTTP 429,
    gRPC RESOURCE_EXHAUSTED). Nothing of the request was accepted."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimitedError(OverloadedError):
    """The API key sent more than its rate allows: retry after ``retry_after_s``."""


class LimitExceededError(InvalidArgumentError):
    """The request is larger than a configured limit (bytes or events); not retryable
    as is (HTTP 413, gRPC INVALID_ARGUMENT)."""


class ShuttingDownError(AtlasError):
    """The server is draining for shutdown and accepts nothing new (HTTP 503, gRPC
    UNAVAILABLE): retry against another instance or after the restart."""


class StoreUnavailableError(AtlasError):
    """The store kept failing; nothing of the request was committed (HTTP 503, gRPC
    UNAVAILABLE): retry with the same ids."""


def grpc_status_name(err: BaseException) -> str:
    """The ``grpc.StatusCode`` member name that answers ``err``."""
    if isinstance(err, OverloadedError):
        return "RESOURCE_EXHAUSTED"
    if isinstance(err, PermissionDeniedError):  # before auth: a token's scope error is both
        return "PERMISSION_DENIED"
    if isinstance(err, AuthenticationError | FeedbackTokenError):
        return "UNAUTHENTICATED"
    if isinstance(err, InvalidArgumentError):
        return "INVALID_ARGUMENT"
    if isinstance(err, ShuttingDownError | StoreUnavailableError):
        return "UNAVAILABLE"
    return "INTERNAL"


def http_status(err: BaseException) -> int:
    """The HTTP status code that answers ``err``."""
    if isinstance(err, OverloadedError):
        return 429
    if isinstance(err, PermissionDeniedError):
        return 403
    if isinstance(err, AuthenticationError | FeedbackTokenError):
        return 401
    if isinstance(err, LimitExceededError):
        return 413
    if isinstance(err, InvalidArgumentError):
        return 422
    if isinstance(err, ShuttingDownError | StoreUnavailableError):
        return 503
    return 500
