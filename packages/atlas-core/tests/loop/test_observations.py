"""A rollout analysed from the interactions in the store (traffic from many processes)."""

from __future__ import annotations

import numpy as np

from atlas_core.config.models import RolloutConfig
from atlas_core.loop import Phase, Rollout
from atlas_core.loop.observations import arm_stats_from_store, version_tag
from atlas_core.store import Store
from atlas_core.types import Interaction, Reward, Version, VersionKind

CFG = RolloutConfig(min_samples_per_arm=30, canary_steps=(10.0, 100.0), shadow=False)


def _serve(
    store: Store, version: Version, n: int, p_good: float, seed: int, error_every: int = 0
) -> None:
    """``n`` interactions served by ``version`` (as a server records them), rewarded."""
    rng = np.random.default_rng(seed)
    rows = [
        Interaction(
            input=[{"role": "user", "content": "q"}],
            output="a",
            prompt_version=version_tag(version.id),
            latency_ms=100.0 + float(rng.normal(0, 5)),
            metadata={"error": bool(error_every and i % error_every == 0)},
        )
        for i in range(n)
    ]
    store.write_interactions(rows)
    store.write_rewards(
        [Reward(interaction_id=r.id, score=float(rng.random() < p_good)) for r in rows]
    )


def _family(store: Store) -> tuple[Version, Version, Rollout]:
    v1 = Version(kind=VersionKind.PROMPT, name="agent", number=1, artifact_uri="a")
    v2 = Version(kind=VersionKind.PROMPT, name="agent", number=2, artifact_uri="b")
    store.put_version(v1)
    store.put_version(v2)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
    r.switch(v1)
    _serve(store, v1, 50, 0.0, seed=9)  # before the rollout: must not count
    r.start(v2)
    return v1, v2, r


def test_arm_stats_come_from_the_recorded_interactions(store: Store) -> None:
    v1, v2, r = _family(store)
    _serve(store, v1, 40, 0.8, seed=1, error_every=10)
    _serve(store, v2, 35, 0.8, seed=2)
    assert r.state is not None
    cand, stable = arm_stats_from_store(store, "default", r.state)
    assert (cand.n, stable.n) == (35, 40)
    assert stable.errors == 4
    assert cand.errors == 0
    assert abs(cand.latency[0] - 0.1) < 0.01


def test_a_good_candidate_advances_and_a_bad_one_is_rolled_back(store: Store) -> None:
    v1, v2, r = _family(store)
    assert r.analyze(from_store=True).action == "wait"
    _serve(store, v1, 60, 0.8, seed=3)
    _serve(store, v2, 60, 0.8, seed=4)
    assert r.analyze(from_store=True).action == "promote"

    v3 = Version(kind=VersionKind.PROMPT, name="agent", number=3, artifact_uri="c")
    store.put_version(v3)
    r.start(v3)
    _serve(store, v2, 60, 0.8, seed=5)
    _serve(store, v3, 60, 0.3, seed=6)
    out = r.analyze(from_store=True)
    assert out.action == "rollback"
    assert "reward" in out.reason
    assert r.state is not None
    assert r.state.phase is Phase.ROLLED_BACK
