"""The typed exception hierarchy of Atlas.

Native kernels raise these (the Rust binding imports them from here), and so does
the Python code. Each class also derives from the built-in exception a caller
would naturally catch (``ValueError`` for bad input, ``TimeoutError`` for a
timeout), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class AtlasError(Exception):
    """Base class of every error Atlas raises on purpose."""


class InvalidArgumentError(AtlasError, ValueError):
    """An argument is outside its domain: wrong dtype, mismatched lengths, NaN, capacity 0, ..."""


class EmptyError(AtlasError, LookupError):
    """Sampling or reading from something that holds no items."""


class BufferFullError(AtlasError):
    """A bounded buffer with the ``reject`` policy refused events; nothing was partly accepted."""


class BufferTimeoutError(AtlasError, TimeoutError):
    """A bounded buffer with the ``block`` policy stayed full for the whole timeout."""


class BufferClosedError(AtlasError):
    """The buffer was closed and accepts no more events."""


class StateError(AtlasError, ValueError):
    """Saved kernel state could not be decoded, or belongs to another kind of kernel."""


class InternalError(AtlasError, RuntimeError):
    """A bug inside a native kernel, caught before it could crash the interpreter."""


class PluginError(AtlasError):
    """An ``atlas.plugins`` entry point could not be loaded or is malformed."""


class ConfigError(AtlasError, ValueError):
    """The configuration (``atlas.yaml`` or an ``ATLAS_*`` variable) is malformed or invalid."""


class AuthenticationError(AtlasError):
    """The caller is not who it claims: unknown, revoked or malformed credentials."""


class PermissionDeniedError(AtlasError):
    """The caller is authenticated but lacks the scope the operation needs."""


class FeedbackTokenError(AuthenticationError):
    """A feedback token was refused; the subclasses say why."""


class TokenMalformedError(FeedbackTokenError):
    """The token is not a well-formed Atlas feedback token (bad encoding, missing claims)."""


class TokenSignatureError(FeedbackTokenError):
    """The token's signature does not verify under any configured secret (tampered or foreign)."""


class TokenExpiredError(FeedbackTokenError):
    """The token was valid but its ``exp`` has passed."""


class TokenScopeError(FeedbackTokenError, PermissionDeniedError):
    """A valid token used for another tenant, interaction or feedback kind than it grants."""


__all__ = [
    "AtlasError",
    "AuthenticationError",
    "BufferClosedError",
    "BufferFullError",
    "BufferTimeoutError",
    "ConfigError",
    "EmptyError",
    "FeedbackTokenError",
    "InternalError",
    "InvalidArgumentError",
    "PermissionDeniedError",
    "PluginError",
    "StateError",
    "TokenExpiredError",
    "TokenMalformedError",
    "TokenScopeError",
    "TokenSignatureError",
]
