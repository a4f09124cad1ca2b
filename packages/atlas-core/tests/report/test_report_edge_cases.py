"""Reports of tenants with little history: clear statements, never a crash or a NaN."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from atlas_core.loop import LearningLoop, ManualClock
from atlas_core.report import write_report
from atlas_core.store import Store, open_store
from atlas_core.types import Interaction, Reward, VersionKind


def _store(tmp_path: Path) -> Store:
    return open_store("sqlite:///" + str(tmp_path / "a.db"))


def _no_nan(*paths: Path | None) -> None:
    for path in paths:
        assert path is not None
        text = re.sub(r'src="data:[^"]*"', "", path.read_text()).lower()
        assert not re.search(r"\b(nan|inf|-inf)\b", text), path


def test_a_tenant_with_nothing(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        files = write_report(store, "empty", tmp_path / "out")
    r = files.report
    assert r.interactions == 0
    assert r.counts.runs == 0
    assert r.updates == ()
    assert r.average_live_improvement is None
    assert r.stability.variance is None
    assert r.stability.rollback_share is None
    assert r.velocity.per_hour is None
    assert files.images == []
    assert any("No learning runs are recorded yet" in n for n in r.notes)
    assert any("No interactions are recorded" in n for n in r.notes)
    assert files.markdown is not None
    text = files.markdown.read_text()
    assert "Note: No learning runs are recorded yet" in text
    assert "No rollout has been rolled back." in text
    assert "![" not in text  # no plot without data
    _no_nan(files.markdown, files.html)


def test_a_single_key_without_rewards(tmp_path: Path, helpers: Any) -> None:
    """One key, gold labels only: a first version is learned, nothing is ever rewarded."""
    with _store(tmp_path) as store:
        clock = ManualClock()
        loop = LearningLoop(
            store,
            helpers.TENANT,
            kind=VersionKind.PROMPT,
            name="agent",
            learner=helpers.LookupLearner(),
            evaluator=helpers.LookupEvaluator(store),
            config=helpers.CONFIG,
            clock=clock,
        )
        helpers.History(store, loop, clock).teach("capitals", 20)
        assert loop.step().outcome == "promoted"
        files = write_report(store, helpers.TENANT, tmp_path / "out", window=5)
    r = files.report
    assert (r.interactions, r.rewarded) == (20, 0)
    assert r.counts.promotions == 1
    assert [u.fate for u in r.updates] == ["promoted"]
    assert r.updates[0].live is None  # the first version replaced nothing
    assert r.average_live_improvement is None
    assert r.average_gate_improvement == 1.0  # the table answers every held-out label
    assert [k.key for k in r.keys] == ["capitals"]
    assert r.keys[0].mean is None
    assert any("No interaction has a reward" in n for n in r.notes)
    assert any("Only one learning key" in n for n in r.notes)
    assert sorted(p.name for p in files.images) == [
        "feedback_mix.png",
        "improvement_per_update.png",
    ]
    _no_nan(files.markdown, files.html)


def test_rewards_without_version_tags(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        rows = [
            Interaction(tenant_id="t", learning_key="k", input=[], output="x") for _ in range(30)
        ]
        store.write_interactions(rows)
        store.write_rewards([Reward(tenant_id="t", interaction_id=r.id, score=0.5) for r in rows])
        files = write_report(store, "t", tmp_path / "out", window=10)
    r = files.report
    assert r.stability.windows == 3
    assert r.stability.variance == 0.0
    assert r.keys[0].mean == 0.5
    assert [p.name for p in files.images] == ["reward_over_time.png"]
    _no_nan(files.markdown, files.html)
