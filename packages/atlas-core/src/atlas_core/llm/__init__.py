"""A client for any OpenAI-compatible chat endpoint (httpx; no vendor SDK in core).

Used by the reasoning core's model adapter and by the reward system's judges.
"""

from atlas_core.llm.client import ChatClient, SyncChatClient
from atlas_core.llm.endpoint import Endpoint
from atlas_core.llm.errors import LLMError, LLMResponseError, LLMStatusError, LLMTimeoutError
from atlas_core.llm.wire import ChatResponse, Usage

__all__ = [
    "ChatClient",
    "ChatResponse",
    "Endpoint",
    "LLMError",
    "LLMResponseError",
    "LLMStatusError",
    "LLMTimeoutError",
    "SyncChatClient",
    "Usage",
]
