"""Configuration of Atlas: typed models, loading from ``atlas.yaml`` + ``ATLAS_*``, secrets.

``load_config()`` is the one entry point; ``feedback_secrets(config)`` gives the
feedback-token signing secrets (generating and persisting one on first use).
"""

from atlas_core.config.load import Config, config_path, load_config
from atlas_core.config.models import (
    AtlasConfig,
    FeedbackTokenConfig,
    MonitoringConfig,
    SdkConfig,
    ServeConfig,
    StoreConfig,
)
from atlas_core.config.token_secret import SECRET_FILE, feedback_secrets

__all__ = [
    "SECRET_FILE",
    "AtlasConfig",
    "Config",
    "FeedbackTokenConfig",
    "MonitoringConfig",
    "SdkConfig",
    "ServeConfig",
    "StoreConfig",
    "config_path",
    "feedback_secrets",
    "load_config",
]
