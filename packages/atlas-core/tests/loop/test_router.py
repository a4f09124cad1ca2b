"""The router: sticky arms, canary share, monotone growth, shadow mirroring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from atlas_core.config.models import RolloutConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.loop import ManualClock, Rollout, Router
from atlas_core.loop.rollout_state import RolloutState, save_state
from atlas_core.loop.router import bucket
from atlas_core.store import Store, open_store
from atlas_core.types import Version, VersionKind

CFG = RolloutConfig(min_samples_per_arm=5, canary_steps=(10.0, 50.0, 100.0))
USERS = [f"user-{i}" for i in range(4000)]


def _setup(store: Store) -> tuple[Version, Version, Rollout]:
    v1 = Version(kind=VersionKind.PROMPT, name="agent", number=1, artifact_uri="v1")
    v2 = Version(kind=VersionKind.PROMPT, name="agent", number=2, artifact_uri="v2")
    store.put_version(v1)
    store.put_version(v2)
    r = Rollout(store, "default", VersionKind.PROMPT, "agent", CFG)
    r.switch(v1)
    return v1, v2, r


def _pass_step(r: Rollout) -> None:
    for _ in range(5):
        r.record("candidate", reward=1.0)
        r.record("stable", reward=1.0)
    assert r.analyze().action in ("advance", "promote")


def test_bucket_is_uniform_and_deterministic() -> None:
    points = np.array([bucket(u, "salt") for u in USERS])
    assert points.min() >= 0
    assert points.max() < 1
    assert abs(points.mean() - 0.5) < 0.02
    assert bucket("user-1", "salt") == bucket("user-1", "salt") != bucket("user-1", "other")


def test_no_rollout_serves_production(store: Store) -> None:
    router = Router(store, "default", VersionKind.PROMPT, "agent")
    assert router.route("u").version_id is None
    v1, _, _ = _setup(store)
    router.refresh()
    route = router.route("u")
    assert route.version_id == v1.id
    assert route.arm == "stable"
    assert route.shadow_id is None


def test_shadow_mirrors_to_the_candidate_without_serving_it(store: Store) -> None:
    v1, v2, r = _setup(store)
    r.start(v2)
    router = Router(store, "default", VersionKind.PROMPT, "agent")
    routes = [router.route(u) for u in USERS[:200]]
    assert all(rt.version_id == v1.id and rt.shadow_id == v2.id for rt in routes)


def test_canary_share_is_the_weight_and_users_keep_their_arm(store: Store) -> None:
    v1, v2, r = _setup(store)
    r.start(v2)
    clock = ManualClock()
    router = Router(store, "default", VersionKind.PROMPT, "agent", refresh_s=5.0, clock=clock)
    _pass_step(r)  # shadow -> canary 10%
    clock.advance(5)
    at10 = {u: router.route(u).arm for u in USERS}
    share10 = sum(a == "candidate" for a in at10.values()) / len(USERS)
    assert 0.08 < share10 < 0.12
    # Sticky: asking again (and by session id alone) gives the same arm.
    assert all(router.route(u).arm == at10[u] for u in USERS[:500])
    assert all(router.route(session_id=u).arm == at10[u] for u in USERS[:500])
    _pass_step(r)  # canary 50%
    assert router.route(USERS[0]).arm == at10[USERS[0]]  # cached until refresh_s passes
    clock.advance(5)
    at50 = {u: router.route(u) for u in USERS}
    assert 0.46 < sum(rt.arm == "candidate" for rt in at50.values()) / len(USERS) < 0.54
    # Monotone: every canary user at 10% is still a canary user at 50%.
    assert all(at50[u].arm == "candidate" for u, a in at10.items() if a == "candidate")
    assert {rt.version_id for rt in at50.values() if rt.arm == "candidate"} == {v2.id}
    assert {rt.version_id for rt in at50.values() if rt.arm == "stable"} == {v1.id}
    _pass_step(r)  # promoted
    clock.advance(5)
    assert {router.route(u).version_id for u in USERS[:300]} == {v2.id}


def test_a_route_needs_a_unit(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="user_id or a session_id"):
        Router(store, "default", VersionKind.PROMPT, "agent").route()


def test_users_are_picked_by_the_candidates_name_and_number_not_its_random_id(
    tmp_path: Path,
) -> None:
    """The same traffic picks the same canary users in every run (ids carry random bits);
    a state saved before the salt existed keeps routing by the candidate id."""
    arms: list[dict[str, str]] = []
    for run in range(2):
        with open_store(f"sqlite:///{tmp_path}/run{run}.db") as fresh:
            _v1, v2, r = _setup(fresh)  # fresh versions: new random ids in each run
            r.start(v2)
            _pass_step(r)  # canary 10%
            router = Router(fresh, "default", VersionKind.PROMPT, "agent", refresh_s=0.0)
            arms.append({u: router.route(u).arm for u in USERS[:2000]})
            state = r.state
            assert state is not None
            assert state.salt == "agent/2"
            # An old state (no salt saved): the candidate id decides, as before.
            old = json.loads(state.to_json())
            del old["salt"]
            legacy = RolloutState.from_json(json.dumps(old))
            assert legacy.routing_salt == str(v2.id)
            save_state(fresh, "default", legacy)
            router.refresh()
            expected = {u: bucket(u, str(v2.id)) < 0.1 for u in USERS[:2000]}
            assert {u: router.route(u).arm == "candidate" for u in USERS[:2000]} == expected
    assert arms[0] == arms[1]
    assert 0.07 < sum(a == "candidate" for a in arms[0].values()) / 2000 < 0.13
