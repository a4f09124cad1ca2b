"""End to end with the real RIM reward model: judges served by the fixture server score the
answers, their rationales reach the reflection model, and GEPA finds the better template."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from atlas_core.testing.openai_server import ChatCall, FakeLLMServer, Reply
from atlas_core.types import Interaction
from atlas_gepa.config import GepaConfig
from atlas_gepa.data import GepaExample
from atlas_gepa.pipeline import optimize
from atlas_gepa.scoring import RewardModelScorer
from atlas_gepa.testing import FIXED, gepa_config, responder, seed_store

RAMBLES = "the answer rambles; the user wants only the number"


def judge(call: ChatCall) -> str:
    """A judge that dislikes the rambling answers and likes the terse ones."""
    rambling = "Let me think about it" in call.last_user
    return json.dumps(
        {
            "principles": ["concise: " + ("no" if rambling else "yes")],
            "score": 0.1 if rambling else 0.95,
            "rationale": RAMBLES if rambling else "exact and terse",
            "uncertainty": 0.05,
        }
    )


def routed(call: ChatCall) -> Reply | str:
    return judge(call) if call.model == "judge" else responder(call)


def test_gepa_with_rim_judges(tmp_path: Path) -> None:
    with FakeLLMServer(routed) as server:
        store = seed_store(tmp_path / "atlas.db")
        rim = {
            "endpoint": {"base_url": server.base_url, "max_retries": 0, "timeout_s": 5.0},
            "judges": [{"name": "j", "model": "judge", "principles": ["concise", "correct"]}],
            "combine": {"judge_weight": 1.0, "feedback_weight": 0.0},
        }
        data = gepa_config(
            tmp_path,
            server,
            scoring={"method": "reward_model", "reward_model": "rim", "options": {"config": rim}},
        )
        result = optimize(GepaConfig.model_validate(data), store=store)

        judged = [c for c in server.calls if c.model == "judge"]
        reflections = [c for c in server.calls if c.model == "reflector"]
    run = result.run
    assert judged  # RIM's judges were asked over HTTP
    assert run.initial_score < 0.5 < run.best_score
    assert run.candidates[run.best]["student"] == FIXED
    assert RAMBLES in reflections[0].last_user  # the judges' rationale reached reflection
    [version] = result.versions
    assert version.metrics["gepa.improvement"] == run.improvement


def test_a_failing_reward_model_scores_zero_with_the_reason() -> None:
    class Broken:
        name = "broken@1"

        async def score(self, cases: object) -> list[object]:
            raise RuntimeError("judge endpoint down")

        async def rank(self, *args: object, **kwargs: object) -> list[float]:
            return []

    scorer = RewardModelScorer(Broken())  # type: ignore[arg-type]
    example = GepaExample(id="e", learning_key="k", task="t")
    inter = Interaction.model_validate({"input": [], "output": "x"})
    [scored] = asyncio.run(scorer.score([(example, inter)]))
    assert scored.score == 0.0
    assert "judge endpoint down" in scored.rationale
