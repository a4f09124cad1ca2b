"""The monitoring view over a real SQLite store: every figure checked against what was written."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from atlas_core.config.models import MonitoringConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.monitoring import MonitoringView
from atlas_core.monitoring.performance import OTHER, bucket_width
from atlas_core.store import Store, open_store
from atlas_core.types import Interaction, Reward, utcnow

sys.path.insert(0, str(Path(__file__).parent))
from monitoring_data import Written, write_tenant


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store("sqlite:///" + str(tmp_path / "a.db")) as s:
        yield s


@pytest.fixture
def written(store: Store) -> Written:
    return write_tenant(store)


def test_performance_totals_match_the_rows_written(store: Store, written: Written) -> None:
    snap = MonitoringView(store).snapshot("acme")
    totals = snap.performance.totals
    assert snap.counts == {"interactions": 40, "feedback": len(written.feedback), "rewards": 30}
    assert totals["interactions"] == 40
    assert totals["rewarded"] == 30
    assert totals["mean_reward"] == pytest.approx(written.mean_reward())
    assert totals["error_rate"] == pytest.approx(written.error_rate())
    lat = written.latencies()
    assert totals["latency_p50_ms"] == pytest.approx(float(np.quantile(lat, 0.5)))
    assert totals["latency_p99_ms"] == pytest.approx(float(np.quantile(lat, 0.99)))
    # Accuracy: 3 labelled interactions, 2 right (one only after normalising case/spaces).
    assert totals["labelled"] == 3
    assert totals["accuracy"] == pytest.approx(2 / 3)


def test_per_key_and_version_figures_use_version_labels(store: Store, written: Written) -> None:
    perf = MonitoringView(store).snapshot("acme").performance
    assert set(perf.versions) == {"support@1", "support@2"}
    assert set(perf.learning_keys) == {"billing", "refunds", "login"}
    rows = {(r["learning_key"], r["version"]): r for r in perf.by_key_version}
    assert len(rows) == 6
    for (key, version), row in rows.items():
        assert row["mean_reward"] == pytest.approx(written.mean_reward(key, version))
        expected_n = sum(
            1 for i in written.interactions if i.learning_key == key and written.label(i) == version
        )
        assert row["interactions"] == expected_n
    # Over time, per version: the buckets add up to the totals.
    per_version = {}
    for row in perf.over_time:
        per_version[row["version"]] = per_version.get(row["version"], 0) + row["interactions"]
    assert per_version == {"support@1": 20, "support@2": 20}
    assert perf.bucket_s == bucket_width(39 * 30, 60) == 30


def test_top_n_folds_the_rest_into_other(store: Store, written: Written) -> None:
    config = MonitoringConfig(top_learning_keys=1, top_versions=1, top_signal_names=1)
    snap = MonitoringView(store, config).snapshot("acme")
    perf = snap.performance
    assert perf.learning_keys[-1] == OTHER
    assert len(perf.learning_keys) == 2
    assert perf.versions[-1] == OTHER
    assert len(perf.versions) == 2
    keys = {r["learning_key"] for r in perf.by_key_version}
    assert keys == set(perf.learning_keys)
    assert sum(r["interactions"] for r in perf.by_key_version) == 40
    signals = {r["name"]: r["count"] for r in snap.feedback.by_kind if r["kind"] == "signal"}
    assert signals == {"copy": 6, OTHER: 6}  # copy 6, retry 3, share 3


def test_feedback_mix_and_rating_histogram(store: Store, written: Written) -> None:
    mix = MonitoringView(store).snapshot("acme").feedback
    counts = {(r["kind"], r["name"]): r["count"] for r in mix.by_kind}
    assert counts == {
        ("rating", ""): 12,
        ("signal", "copy"): 6,
        ("signal", "retry"): 3,
        ("signal", "share"): 3,
        ("label", ""): 3,
        ("edit", ""): 1,
    }
    # Ratings 1..5 on a 1..5 scale: positions 0, .25, .5, .75, 1 (1 falls in the last bin).
    hist = {round(b["low"], 1): b["count"] for b in mix.rating_histogram if b["count"]}
    values = [1 + k % 5 for k in range(12)]
    assert hist == {
        0.0: values.count(1),
        0.2: values.count(2),
        0.5: values.count(3),
        0.7: values.count(4),
        0.9: values.count(5),
    }
    assert mix.mean_rating == pytest.approx(statistics.fmean((v - 1) / 4 for v in values))


def test_learning_activity_rollouts_and_markers(store: Store, written: Written) -> None:
    learning = MonitoringView(store).snapshot("acme").learning
    runs = {(r["trigger"], r["outcome"]): r["count"] for r in learning.runs_by_trigger_outcome}
    assert runs == {
        ("sample_count", "skipped"): 1,
        ("drift", "skipped"): 1,
        ("drift", "candidate"): 1,
        ("error_rate", "no_change"): 1,
    }
    # Learning events leave out skipped checks, newest first; alarms keep them.
    assert [e["outcome"] for e in learning.recent_events] == ["no_change", "candidate"]
    fired = learning.recent_events[1]
    assert fired["candidate"] == "support@2"
    assert fired["metrics_before"] == {"reward": 0.4}
    assert fired["metrics_after"] == {"reward": 0.6}
    assert [(a["trigger"], a["outcome"]) for a in learning.drift_alarms] == [
        ("error_rate", "no_change"),
        ("drift", "candidate"),
        ("drift", "skipped"),
    ]
    assert learning.alarm_total == 3
    versions = {v["label"]: v for v in learning.versions}
    assert versions["support@1"]["status"] == "production"
    assert versions["support@1"]["aliases"] == ["production"]
    assert versions["support@2"]["status"] == "canary"
    (rollout,) = learning.rollouts
    assert rollout["family"] == "model/support"
    assert (rollout["phase"], rollout["weight"], rollout["candidate"]) == (
        "canary",
        5.0,
        "support@2",
    )
    assert [s["weight"] for s in rollout["steps"]] == [0.0, 1.0]
    (done,) = learning.finished_rollouts
    assert (done["phase"], done["candidate"]) == ("promoted", "support@1")
    kinds = [m["kind"] for m in learning.markers]
    assert kinds.count("learning") == 2
    assert kinds.count("promoted") == 1
    assert kinds.count("first_served") == 1  # support@2 went live mid-window
    assert [m["t"] for m in learning.markers] == sorted(m["t"] for m in learning.markers)


def test_window_leaves_out_older_rows_and_other_tenants(store: Store, written: Written) -> None:
    old = Interaction(
        tenant_id="acme",
        input=[{"role": "user", "content": "old"}],
        output="x",
        created_at=utcnow() - timedelta(days=3),
    )
    store.write_interactions([old])
    write_tenant(store, "globex", n=6)
    view = MonitoringView(store, MonitoringConfig(window_s=86_400))
    assert view.snapshot("acme").counts["interactions"] == 40
    assert view.snapshot("globex").counts["interactions"] == 6
    assert MonitoringView(store).snapshot("nobody").counts == {
        "interactions": 0,
        "feedback": 0,
        "rewards": 0,
    }


def test_cache_serves_within_ttl_and_refreshes_after(store: Store, written: Written) -> None:
    cached = MonitoringView(store, MonitoringConfig(cache_ttl_s=3600))
    live = MonitoringView(store, MonitoringConfig(cache_ttl_s=0))
    first = cached.snapshot("acme")
    assert cached.snapshot("acme") is first
    extra = Interaction(tenant_id="acme", input=[{"role": "user", "content": "x"}], output="y")
    store.write_interactions([extra])
    store.write_rewards([Reward(tenant_id="acme", interaction_id=extra.id, score=1.0)])
    assert cached.snapshot("acme").counts["interactions"] == 40
    assert live.snapshot("acme").counts["interactions"] == 41
    assert live.snapshot("acme").counts["rewards"] == 31


def test_reward_histogram_is_cumulative(store: Store, written: Written) -> None:
    snap = MonitoringView(store).snapshot("acme")
    scores = list(written.rewards.values())
    for bucket in snap.reward_histogram:
        bound = float("inf") if bucket["le"] == "+Inf" else float(bucket["le"])
        assert bucket["count"] == sum(s <= bound for s in scores)
    assert snap.reward_sum == pytest.approx(sum(scores))


def test_bad_tenant_is_a_typed_error(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="tenant"):
        MonitoringView(store).snapshot("")


@pytest.mark.parametrize(
    ("span", "buckets", "width"),
    [
        (0, 60, 1),
        (59, 60, 1),
        (61, 60, 2),
        (3600, 60, 60),
        (86_400, 60, 1800),
        (10**7, 10, 86400 * 12),
    ],
)
def test_bucket_width_is_nice_and_bounds_the_bucket_count(
    span: int, buckets: int, width: int
) -> None:
    assert bucket_width(span, buckets) == width
    assert span / width <= buckets
