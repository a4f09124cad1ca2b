"""Authentication for the ingestion service: API keys and browser feedback tokens.

- :mod:`atlas_core.auth.keys`: API-key secret -> :class:`Principal` (tenant, key, scopes).
- :mod:`atlas_core.auth.feedback_tokens`: signed, expiring, per-interaction tokens.
"""

from atlas_core.auth.feedback_tokens import FeedbackGrant, FeedbackTokens
from atlas_core.auth.keys import SCOPES, KeyVerifier, Principal, bearer_secret, check_scopes

__all__ = [
    "SCOPES",
    "FeedbackGrant",
    "FeedbackTokens",
    "KeyVerifier",
    "Principal",
    "bearer_secret",
    "check_scopes",
]
