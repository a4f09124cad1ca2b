"""Online mode: each window is scored before it is learned from, so the gain is honest."""

from __future__ import annotations

from pathlib import Path

from atlas_core.llm import Endpoint
from atlas_core.loop.examples import load_examples
from atlas_core.runtime import ChatAgent, Role, TemplateRegistry
from atlas_core.testing.openai_server import FakeLLMServer
from atlas_gepa.config import BudgetConfig
from atlas_gepa.online import OnlineGepa
from atlas_gepa.scoring import GoldScorer
from atlas_gepa.testing import FIXED, seed_store


def test_windows_are_scored_unseen_before_they_are_learned_from(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    store = seed_store(tmp_path / "atlas.db", n=16)
    examples = load_examples(store, "default")
    first, second = examples[:8], examples[8:]

    def online() -> OnlineGepa:
        return OnlineGepa(
            store,
            student=ChatAgent(Endpoint(server.base_url, "student")),
            scorer=GoldScorer(),
            reflection=Endpoint(server.base_url, "reflector"),
            run_root=tmp_path / "online",
            lane="auto",
            budget_per_window=BudgetConfig(max_metric_calls=30),
            minibatch_size=2,
            use_merge=False,
        )

    one = online().step(first)
    # Nothing learned yet: the champion is production, and the gain on the window is 0.
    assert (one.window, one.examples) == (1, 8)
    assert one.production_score == one.champion_score == 0.0
    assert one.gain == 0.0
    assert one.optimized
    assert one.new_champion
    assert one.champion_val_score == 1.0  # in-sample: not what is reported as the gain

    again = online()  # as after a restart: the champion and the pool were kept in the store
    assert again.champion == FIXED
    two = again.step(second)
    # The champion found on window 1 meets window 2 before anything learns from it.
    assert two.window == 2
    assert two.production_score == 0.0
    assert two.champion_score == 1.0
    assert two.gain == 1.0
    assert [r.window for r in again.reports()] == [1, 2]

    version = again.publish()
    assert version is not None
    registry = TemplateRegistry(store, "default", "atlas.runtime")
    assert registry.load_version(Role.STUDENT, version).text == FIXED
    assert version.metrics["gepa.online.gain"] == 1.0
    assert again.publish() is None  # already the latest version
