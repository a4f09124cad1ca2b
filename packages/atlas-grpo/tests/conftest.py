"""Shared fixtures of the atlas-grpo tests: a SQLite store, a tiny model on disk."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from atlas_core.store import Store, open_store
from atlas_grpo.testing import save_tiny_model

# Tests import shared builders from grpo_testdata.py beside this file
# (--import-mode=importlib does not put test folders on sys.path).
sys.path.insert(0, str(Path(__file__).parent))

# The machine is shared: two threads per test process, tokenizers without their pool.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(2)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store("sqlite:///" + str(tmp_path / "atlas.db"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer Llama with a character tokenizer, saved once."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
