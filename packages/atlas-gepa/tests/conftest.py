"""Fixtures of the GEPA tests: the fixture LLM server answering the synthetic task."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atlas_core.testing.openai_server import FakeLLMServer
from atlas_gepa.testing import responder


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder) as srv:
        yield srv
