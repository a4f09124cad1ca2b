"""Rollout: shadow, canary steps, promotion, rollback, blue-green, and restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from atlas_core.config.models import RolloutConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.loop import ManualClock, Phase, Rollout, RolloutError
from atlas_core.loop.rollout_state import (
    NAMESPACE,
    load_state,
    rollout_history,
    rollout_log,
    save_state,
)
from atlas_core.store import Store, open_store
from atlas_core.types import Version, VersionKind, VersionStatus

CFG = RolloutConfig(min_samples_per_arm=30, canary_steps=(5.0, 25.0, 100.0))


def _version(store: Store, number: int) -> Version:
    v = Version(kind=VersionKind.PROMPT, name="agent", number=number, artifact_uri=f"v{number}")
    store.put_version(v)
    return v


def _production(store: Store, n: int = 1) -> Version:
    v = _version(store, n)
    Rollout(store, "default", VersionKind.PROMPT, "agent", CFG).switch(v)
    return v


def _feed(rollout: Rollout, cand_p: float, stable_p: float, n: int = 40, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for r in rng.binomial(1, cand_p, n):
        rollout.record("candidate", reward=float(r), latency_s=0.1)
    for r in rng.binomial(1, stable_p, n):
        rollout.record("stable", reward=float(r), latency_s=0.1)


def _aliases(store: Store) -> tuple[Version | None, Version | None]:
    return (
        store.resolve_alias("default", VersionKind.PROMPT, "agent", "production"),
        store.resolve_alias("default", VersionKind.PROMPT, "agent", "canary"),
    )


def test_a_good_candidate_goes_shadow_canary_steps_promoted(store: Store) -> None:
    stable = _production(store)
    cand = _version(store, 2)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
    state = r.start(cand)
    assert state.phase is Phase.SHADOW
    assert store.get_version("default", cand.id).status is VersionStatus.SHADOW  # type: ignore[union-attr]
    prod, canary = _aliases(store)
    assert prod.id == stable.id
    assert canary.id == stable.id
    assert r.analyze().action == "wait"
    seen = []
    for seed in range(3):
        _feed(r, 0.9, 0.8, seed=seed)
        out = r.analyze()
        seen.append((out.action, r.state.weight))  # type: ignore[union-attr]
        if r.state.phase is Phase.CANARY:  # type: ignore[union-attr]
            assert _aliases(store)[1].id == cand.id  # type: ignore[union-attr]
            assert store.get_version("default", cand.id).status is VersionStatus.CANARY  # type: ignore[union-attr]
    assert seen == [("advance", 5.0), ("advance", 25.0), ("promote", 100.0)]
    prod, canary = _aliases(store)
    assert prod.id == cand.id
    assert canary.id == cand.id
    assert store.get_version("default", stable.id).status is VersionStatus.RETIRED  # type: ignore[union-attr]
    assert [h["passed"] for h in r.state.history] == [True, True, True]  # type: ignore[union-attr]


def test_a_bad_candidate_is_rolled_back_automatically(store: Store) -> None:
    stable = _production(store)
    cand = _version(store, 2)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
    r.start(cand)
    _feed(r, 0.8, 0.8, seed=1)
    assert r.analyze().action == "advance"  # shadow passes: the damage shows only in canary
    _feed(r, 0.3, 0.8, seed=2)
    out = r.analyze()
    assert out.action == "rollback"
    assert "canary 5%: reward" in out.reason
    assert r.state.phase is Phase.ROLLED_BACK  # type: ignore[union-attr]
    assert store.get_version("default", cand.id).status is VersionStatus.REJECTED  # type: ignore[union-attr]
    prod, canary = _aliases(store)
    assert prod.id == stable.id
    assert canary.id == stable.id
    r.record("candidate", reward=0.0)  # traffic after the decision is ignored
    assert r.state.candidate.n == 40  # type: ignore[union-attr]


def test_first_version_is_promoted_at_once_and_cannot_be_rolled_back(store: Store) -> None:
    v = _version(store, 1)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
    assert r.start(v).phase is Phase.PROMOTED
    assert _aliases(store)[0].id == v.id  # type: ignore[union-attr]
    with pytest.raises(RolloutError, match="first version"):
        r.rollback()


def test_blue_green_switch_and_instant_rollback(store: Store) -> None:
    v1 = _production(store)
    v2 = _version(store, 2)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
    r.switch(v2)
    assert _aliases(store)[0].id == v2.id  # type: ignore[union-attr]
    r.rollback()
    assert _aliases(store)[0].id == v1.id  # type: ignore[union-attr]
    assert store.get_version("default", v1.id).status is VersionStatus.PRODUCTION  # type: ignore[union-attr]
    assert store.get_version("default", v2.id).status is VersionStatus.REJECTED  # type: ignore[union-attr]
    with pytest.raises(RolloutError, match="already rolled back"):
        r.rollback()


def test_one_rollout_at_a_time_and_bad_input(store: Store) -> None:
    _production(store)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
    r.start(_version(store, 2))
    with pytest.raises(RolloutError, match="in flight"):
        r.start(_version(store, 3))
    with pytest.raises(RolloutError, match="in flight"):
        r.switch(_version(store, 4))
    other = Version(kind=VersionKind.MODEL, name="agent", number=1, artifact_uri="m")
    store.put_version(other)
    with pytest.raises(InvalidArgumentError, match="not of this rollout's family"):
        Rollout(store, "default", VersionKind.PROMPT, "agent", CFG).switch(other)
    with pytest.raises(InvalidArgumentError, match="arm"):
        r.record("both")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="reward: must be in"):
        r.record("stable", reward=float("nan"))
    with pytest.raises(InvalidArgumentError, match="latency_s"):
        r.record("stable", latency_s=-1.0)


def test_restart_mid_canary_resumes_with_a_reopened_store(db_url: str) -> None:
    with open_store(db_url) as store:
        _production(store)
        cand = _version(store, 2)
        r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG, checkpoint_every=10)
        r.start(cand)
        _feed(r, 0.9, 0.9)
        assert r.analyze().action == "advance"  # now canary 5%
        _feed(r, 0.9, 0.9, n=25)  # 50 records: 5 checkpoints
    with open_store(db_url) as store:
        again = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
        assert again.resume().reason == "resumed canary"
        assert again.state.phase is Phase.CANARY
        assert again.state.weight == 5.0
        assert again.state.candidate.n == 25
        assert again.state.stable.n == 25
        _feed(again, 0.9, 0.9, n=10, seed=5)
        assert again.analyze().action == "advance"
        assert again.state.weight == 25.0  # type: ignore[union-attr]


def test_restart_with_revert_policy_rolls_back(db_url: str) -> None:
    with open_store(db_url) as store:
        stable = _production(store)
        Rollout(store, "default", VersionKind.PROMPT, "agent", CFG).start(_version(store, 2))
    revert = CFG.model_copy(update={"on_restart": "revert"})
    with open_store(db_url) as store:
        r = Rollout(store, "default", VersionKind.PROMPT, "agent", revert)
        out = r.resume()
        assert out.action == "rollback"
        assert "on_restart=revert" in out.reason
        assert _aliases(store)[0].id == stable.id  # type: ignore[union-attr]


def test_resume_repairs_a_switch_cut_off_between_state_and_aliases(store: Store) -> None:
    stable = _production(store)
    cand = _version(store, 2)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
    r.start(cand)
    # A crash after the state write and before the aliases: canary state, aliases not moved.
    state = r.state
    assert state is not None
    state.phase, state.step, state.weight = Phase.CANARY, 0, 5.0
    save_state(store, "default", state)
    assert _aliases(store)[1].id == stable.id  # type: ignore[union-attr]
    Rollout(store, "default", VersionKind.PROMPT, "agent", CFG).resume()
    assert _aliases(store)[1].id == cand.id  # type: ignore[union-attr]
    assert store.get_version("default", cand.id).status is VersionStatus.CANARY  # type: ignore[union-attr]


def test_resume_reverts_when_the_candidate_is_gone(store: Store) -> None:
    stable = _production(store)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
    r.start(_version(store, 2))
    state = json.loads(store.kv_items("default", NAMESPACE)["prompt/agent"])
    state["candidate_id"] = "01a20000-0000-7000-8000-000000000000"
    store.kv_put("default", NAMESPACE, {"prompt/agent": json.dumps(state)})
    out = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG).resume()
    assert out.action == "rollback"
    assert "missing version" in out.reason
    assert _aliases(store)[0].id == stable.id  # type: ignore[union-attr]


_CHILD = textwrap.dedent(
    """
    import os, sys
    from atlas_core.config.models import RolloutConfig
    from atlas_core.loop import Rollout
    from atlas_core.store import open_store
    from atlas_core.types import Version, VersionKind

    cfg = RolloutConfig(min_samples_per_arm=30, canary_steps=(5.0, 25.0, 100.0))
    store = open_store(sys.argv[1])
    v1 = Version(kind=VersionKind.PROMPT, name="agent", number=1, artifact_uri="v1")
    v2 = Version(kind=VersionKind.PROMPT, name="agent", number=2, artifact_uri="v2")
    store.put_version(v1)
    store.put_version(v2)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", cfg, checkpoint_every=1)
    r.switch(v1)
    r.start(v2)
    for _ in range(30):
        r.record("candidate", reward=1.0)
        r.record("stable", reward=1.0)
    assert r.analyze().action == "advance"
    for _ in range(12):
        r.record("candidate", reward=1.0)
        r.record("stable", reward=1.0)
    print(v2.id, flush=True)
    os.kill(os.getpid(), 9)  # die mid-canary without closing anything
    """
)


def test_a_killed_process_leaves_a_rollout_the_next_one_resumes(
    db_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    proc = subprocess.run(
        [sys.executable, str(script), db_url],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    cand_id = proc.stdout.strip()
    with open_store(db_url) as store:
        state = load_state(store, "default", VersionKind.PROMPT, "agent")
        assert state is not None
        assert str(state.candidate_id) == cand_id
        assert state.phase is Phase.CANARY
        assert state.candidate.n == 12
        r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
        r.resume()
        for _ in range(18):
            r.record("candidate", reward=1.0)
            r.record("stable", reward=1.0)
        assert r.analyze().action == "advance"
        assert r.state.weight == 25.0


def test_every_finished_rollout_is_logged(store: Store) -> None:
    clock = ManualClock()
    v1 = _version(store, 1)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG, clock=clock)
    r.start(v1)  # first version: promoted at once
    clock.advance(1)
    v2 = _version(store, 2)
    r.start(v2)
    _feed(r, 0.8, 0.8, seed=1)
    r.analyze()
    _feed(r, 0.2, 0.8, seed=2)
    assert r.analyze().action == "rollback"
    clock.advance(1)
    v3 = _version(store, 3)
    r.switch(v3)
    clock.advance(1)
    r.rollback("bad deploy")
    log = rollout_history(store, "default", VersionKind.PROMPT, "agent")
    assert [(s.candidate_id, s.phase) for s in log] == [
        (v1.id, Phase.PROMOTED),
        (v2.id, Phase.ROLLED_BACK),
        (v3.id, Phase.PROMOTED),
        (v3.id, Phase.ROLLED_BACK),
    ]
    assert "reward" in log[1].reason
    assert log[3].reason == "bad deploy"
    assert log[1].history[-1]["passed"] is False
    assert rollout_history(store, "default", VersionKind.MODEL, "agent") == []
    # The log of every family, with end times on the rollout's clock, oldest first.
    ended = rollout_log(store, "default")
    assert [s.candidate_id for _, s in ended] == [s.candidate_id for s in log]
    start = ManualClock().now()
    assert [at - start for at, _ in ended] == [0.0, 1.0, 2.0, 3.0]
