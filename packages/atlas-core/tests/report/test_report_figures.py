"""Every figure of the report, checked against values computed by hand from the history.

The history (conftest.py) is written by the real LearningLoop on a real SQLite store; the
expected figures below come from the scripted rewards and the loop's own verdicts.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

import pytest

from atlas_core.report import LearningReport, build_report

WINDOW = 10


@pytest.fixture(scope="module")
def report(history: Any) -> LearningReport:
    return build_report(history.store, "acme", window=WINDOW, title="Acme")


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_updates_counts_by_trigger_and_outcome(report: LearningReport) -> None:
    c = report.counts
    assert (c.runs, c.skipped, c.updates, c.candidates) == (6, 1, 5, 5)
    assert (c.gate_passed, c.gate_rejected) == (4, 1)
    assert (c.promotions, c.rollbacks, c.in_rollout) == (2, 2, 0)
    assert c.by_trigger_outcome == {
        ("manual", "rejected"): 1,
        ("none", "skipped"): 1,
        ("sample_count", "promoted"): 1,
        ("sample_count", "rollout"): 3,
    }
    assert [u.number for u in report.updates] == [1, 2, 3, 4, 5]
    assert [u.fate for u in report.updates] == [
        "promoted",
        "promoted",
        "rolled back",
        "rejected by the gate",
        "rolled back",
    ]


def test_gate_figures_are_the_loops_verdicts(report: LearningReport, history: Any) -> None:
    for update, result in zip(report.updates, history.results, strict=True):
        assert update.candidate_id == result.candidate.id
        assert update.at == result.run.created_at
        assert update.gate_stable == pytest.approx(result.verdict.stable)
        assert update.gate_candidate == pytest.approx(result.verdict.candidate)
        if result.verdict.backward_transfer is None:
            assert update.gate_bwt is None
        else:
            assert update.gate_bwt == pytest.approx(result.verdict.backward_transfer)
    # By hand: the gate sees the held-out labels only (conftest: every 4th label; served
    # traffic never). A key's mean is 1 where the version's table knows its questions.
    # v1: capitals 0 -> 1. v2: capitals (replay) 1 -> 1, math (new) 0 -> 1. v3 and v5: +
    # colors 0 -> 1 (v5 also replays v4's colors: bwt 1). v4 (forgetful): capitals and
    # math 1 -> 0, colors 0 -> 1.
    third = 1 / 3
    expected = [
        (0.0, 1.0, None),
        (0.5, 1.0, 0.0),
        (2 * third, 1.0, 0.0),
        (2 * third, third, -1.0),
        (2 * third, 1.0, third),
    ]
    got = [(u.gate_stable, u.gate_candidate, u.gate_bwt) for u in report.updates]
    assert [g[0] for g in got] == pytest.approx([e[0] for e in expected])
    assert [g[1] for g in got] == pytest.approx([e[1] for e in expected])
    assert got[0][2] is None
    assert [g[2] for g in got[1:]] == pytest.approx([e[2] for e in expected[1:]])
    assert report.average_gate_improvement == pytest.approx(((1 - 0) + (1 - 0.5)) / 2)


def test_live_improvement_on_comparable_windows(report: LearningReport) -> None:
    v1, v2, v3, v4, v5 = report.updates
    assert v1.live is None  # the first version replaced nothing
    assert v4.live is None  # rejected: never served
    # v2 vs v1: v2's first 10 per key (canary) against v1's last 10 before them (canary).
    assert v2.live is not None
    assert [(k.key, k.n) for k in v2.live.keys] == [("capitals", 10), ("math", 10)]
    assert [k.before for k in v2.live.keys] == pytest.approx([0.7, 0.2])
    assert [k.after for k in v2.live.keys] == pytest.approx([0.6, 0.9])
    assert v2.live.improvement == pytest.approx((-0.1 + 0.7) / 2)
    # Standard errors: v1's windows are constant; v2's capitals alternate 0.55/0.65.
    var = statistics.variance([0.55, 0.65] * 5)
    assert [k.se for k in v2.live.keys] == pytest.approx([(var / 10) ** 0.5, 0.0])
    # The rolled-back ones against the stable v2 during their canaries.
    assert v3.live is not None
    assert v5.live is not None
    assert [k.delta for k in v3.live.keys] == pytest.approx([0.3 - 0.8, 0.4 - 0.9])
    assert [k.delta for k in v5.live.keys] == pytest.approx([0.5 - 0.8, 0.5 - 0.9])
    # Only promoted updates count towards the average.
    assert report.average_live_improvement == pytest.approx(0.3)


def test_learning_velocity(report: LearningReport, history: Any) -> None:
    v = report.velocity
    assert v.total_improvement == pytest.approx(0.3)
    assert v.per_update == pytest.approx(0.3 / 5)
    assert report.interactions == history.interactions == 100 + 160
    assert v.per_1000_interactions == pytest.approx(0.3 / (260 / 1000))
    hours = (history.times[-1] - history.times[0]) / 3600
    assert v.per_hour == pytest.approx(0.3 / hours)
    assert report.first_interaction == _at(history.times[0])
    assert report.last_interaction == _at(history.times[-1])


def test_stability(report: LearningReport, history: Any) -> None:
    s = report.stability
    rewards = [r for _, _, r in history.served]
    assert report.rewarded == len(rewards) == 160
    means = [statistics.fmean(rewards[i : i + 10]) for i in range(0, 160, 10)]
    assert s.windows == 16
    assert list(s.window_means) == pytest.approx(means)
    assert s.variance == pytest.approx(statistics.variance(means))
    assert s.rollback_share == pytest.approx(2 / 4)
    # Two regressions (both rollbacks; the one promoted update improved).
    assert s.regressions == 2
    t3, t5 = history.rollback_times
    assert s.mean_time_between_regressions_s == pytest.approx(t5 - t3)


def test_rewards_per_key(report: LearningReport, history: Any) -> None:
    by_key = {k.key: k for k in report.keys}
    assert set(by_key) == {"capitals", "math", "colors"}
    for key in ("capitals", "math"):
        rewards = [r for _, k, r in history.served if k == key]
        row = by_key[key]
        assert row.rewarded == len(rewards) == 80
        assert row.mean == pytest.approx(statistics.fmean(rewards))
        assert row.first_window == pytest.approx(statistics.fmean(rewards[:10]))
        assert row.last_window == pytest.approx(statistics.fmean(rewards[-10:]))
        means = [statistics.fmean(rewards[i : i + 10]) for i in range(0, 80, 10)]
        assert row.variance == pytest.approx(statistics.variance(means))
    assert by_key["capitals"].interactions == 20 + 80
    colors = by_key["colors"]
    assert (colors.interactions, colors.rewarded, colors.mean, colors.variance) == (
        60,
        0,
        None,
        None,
    )


def test_forgetting_per_key(report: LearningReport, history: Any) -> None:
    rows = {f.key: f for f in report.forgetting}
    gate: dict[str, list[float]] = {}
    passed: dict[str, list[float]] = {}
    caught: dict[str, int] = {}
    for result in history.results:
        for key, ks in result.verdict.keys.items():
            if ks.backward_transfer is None:
                continue
            gate.setdefault(key, []).append(ks.backward_transfer)
            if result.verdict.passed:
                passed.setdefault(key, []).append(ks.backward_transfer)
            else:
                caught[key] = caught.get(key, 0) + (ks.backward_transfer < -0.05)
    assert set(rows) == set(gate) | {"capitals", "math"}
    for key, row in rows.items():
        assert list(row.gate_bwt) == pytest.approx(gate.get(key, []))
        assert list(row.gate_bwt_passed) == pytest.approx(passed.get(key, []))
        assert row.caught == caught.get(key, 0)
    assert rows["capitals"].gate_bwt == pytest.approx((0.0, 0.0, -1.0, 0.0))
    assert rows["math"].gate_bwt == pytest.approx((0.0, -1.0, 0.0))
    assert rows["colors"].gate_bwt == pytest.approx((1.0,))
    # The forgetful v4 lost what v1 and v2 had learned; the gate measured it and rejected it.
    v4 = history.results[3].verdict
    assert v4.keys["capitals"].backward_transfer < -0.05
    assert v4.keys["math"].backward_transfer < -0.05
    assert rows["capitals"].caught == rows["math"].caught == 1
    assert rows["capitals"].gate_worst == pytest.approx(min(gate["capitals"]))
    # Live: v2 (the one promotion over a version) changed capitals by -0.1, math by +0.7.
    assert list(rows["capitals"].live_deltas) == pytest.approx([-0.1])
    assert list(rows["math"].live_deltas) == pytest.approx([0.7])
    # v2's capitals drop: (-0.1 + 0.05) / se = -3 < -1.645, a significant drop.
    assert (rows["capitals"].live_drops, rows["math"].live_drops) == (1, 0)
    for key, row in rows.items():
        shipped = any(b < -0.05 for b in passed.get(key, [])) or row.live_drops > 0
        assert row.forgetting == shipped, key
    # Capitals forgot on live traffic after v2; math's only loss was caught by the gate.
    assert rows["capitals"].forgetting
    assert not rows["math"].forgetting


def test_rollbacks_when_why_which_step(report: LearningReport, history: Any) -> None:
    assert [(b.number, b.step) for b in report.rollbacks] == [(3, "canary 50%"), (5, "canary 50%")]
    assert [b.at for b in report.rollbacks] == [_at(t) for t in history.rollback_times]
    v2 = history.results[1].candidate.id
    for b in report.rollbacks:
        assert b.family == "prompt/agent"
        assert b.stable_id == v2
        assert b.reason.startswith("canary 50%: ")
        assert "reward" in b.reason


def test_feedback_mix(report: LearningReport, history: Any) -> None:
    assert (
        report.feedback_mix
        == history.feedback
        == {
            "label": 100,
            "rating": 3,
            "signal:copy": 5,
        }
    )
    assert report.notes == ()
    assert report.title == "Acme"


def test_since_limits_each_source_on_its_own_clock(history: Any) -> None:
    # From just before the third update on: v3, v4, v5 and the served traffic since.
    since = history.results[2].run.created_at
    late = build_report(history.store, "acme", window=WINDOW, since=since)
    assert [u.number for u in late.updates] == [3, 4, 5]
    assert late.counts.promotions == 0
    assert late.counts.rollbacks == 2
    assert late.interactions == sum(1 for t in history.times if _at(t) >= since)
    assert late.average_live_improvement is None
    assert late.velocity.total_improvement is None


def test_versions_and_the_traffic_they_served(report: LearningReport, history: Any) -> None:
    rows = [(v.number, v.status, v.served, v.rewarded) for v in report.versions]
    served: dict[str, list[float]] = {}
    for label, _, reward in history.served:
        served.setdefault(label, []).append(reward)
    assert rows == [
        (1, "retired", 40, 40),
        (2, "production", 80, 80),
        (3, "rejected", 20, 20),
        (4, "rejected", 0, 0),
        (5, "rejected", 20, 20),
    ]
    means = [v.mean_reward for v in report.versions]
    assert means[:3] == pytest.approx([statistics.fmean(served[f"v{n}"]) for n in (1, 2, 3)])
    assert means[3] is None
    assert means[0] == pytest.approx((0.6 + 0.2 + 0.7 + 0.2) / 4)
