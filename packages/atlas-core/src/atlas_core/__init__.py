"""Atlas core: domain types, native kernels, plugin registry, the SDK and the ``atlas`` CLI.

The SDK names (``wrap``, ``rate``, ``signal``, ``edit``, ``comment``, ``label``, their async
``a*`` variants, ``flush``, ``configure``, ``last_interaction_id``, ``Recorder``) are loaded
on first use, so ``import atlas_core`` stays light (no native extension, no polars).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from atlas_core import errors
from atlas_core._version import __version__

if TYPE_CHECKING:
    from atlas_core.sdk import (
        Recorder,
        acomment,
        aedit,
        aflush,
        alabel,
        arate,
        asignal,
        call_context,
        comment,
        configure,
        edit,
        flush,
        label,
        last_interaction_id,
        rate,
        signal,
        wrap,
    )

_SDK_NAMES = frozenset(
    {
        "Recorder",
        "acomment",
        "aedit",
        "aflush",
        "alabel",
        "arate",
        "asignal",
        "call_context",
        "comment",
        "configure",
        "edit",
        "flush",
        "label",
        "last_interaction_id",
        "rate",
        "signal",
        "wrap",
    }
)

__all__ = [
    "Recorder",
    "__version__",
    "acomment",
    "aedit",
    "aflush",
    "alabel",
    "arate",
    "asignal",
    "call_context",
    "comment",
    "configure",
    "edit",
    "errors",
    "flush",
    "label",
    "last_interaction_id",
    "rate",
    "signal",
    "wrap",
]


def __getattr__(name: str) -> Any:
    # PEP 562: the SDK (and with it the native buffer) is imported only when first used.
    if name in _SDK_NAMES:
        from atlas_core import sdk

        value = getattr(sdk, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'atlas_core' has no attribute {name!r}")
