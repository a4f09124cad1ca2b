"""A whole optimization over stored interactions: the engine finds, accepts and publishes."""

from __future__ import annotations

import json
from pathlib import Path

from atlas_core.runtime import Role, TemplateRegistry
from atlas_core.testing.openai_server import FakeLLMServer
from atlas_core.types import VersionKind, VersionStatus
from atlas_gepa.config import GepaConfig
from atlas_gepa.pipeline import optimize
from atlas_gepa.testing import FIXED, FIXED_BY_ROLE, gepa_config, seed_store
from atlas_gepa.versions import instance_scores


def test_optimization_accepts_the_better_template_and_stores_it(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    store = seed_store(tmp_path / "atlas.db")
    config = GepaConfig.model_validate(gepa_config(tmp_path, server))

    result = optimize(config, store=store)

    run = result.run
    assert run.initial_score == 0.0  # the rambling seed never matches the gold answer
    assert run.best_score == 1.0
    assert run.improvement == 1.0
    assert run.candidates[run.best]["student"] == FIXED
    assert run.best in run.frontier
    assert 0 < run.metric_calls <= 40
    # The reflection model was asked, with the users' comments and the gold answers in view.
    reflections = [c for c in server.calls if c.model == "reflector"]
    assert reflections
    assert "just give me the number" in reflections[0].last_user
    assert "The correct answer is" in reflections[0].last_user

    # One candidate Version of the student template, with its scores, not deployed.
    [version] = result.versions
    registry = TemplateRegistry(store, "default", "atlas.runtime")
    assert version.name == registry.name(Role.STUDENT)
    assert version.status is VersionStatus.CANDIDATE
    assert version.aliases == ()
    assert version.metrics["gepa.val_score"] == 1.0
    assert version.metrics["gepa.initial_score"] == 0.0
    assert registry.load_version(Role.STUDENT, version).text == FIXED
    stored = store.versions("default", VersionKind.PROMPT, version.name)
    assert [v.id for v in stored] == [version.id]
    scores = instance_scores(store, version)
    assert scores
    assert set(scores.values()) == {1.0}

    summary = json.loads(result.summary_path.read_text())
    assert summary["initial_score"] == 0.0
    assert summary["best_score"] == 1.0
    assert summary["improvement"] == 1.0
    assert summary["pareto_frontier"][-1]["changed"] == {"student": FIXED}
    assert summary["versions"][0]["id"] == str(version.id)

    # Started again on the finished run directory: nothing re-spent, nothing re-published.
    calls_before = len(server.calls)
    again = optimize(config, store=store)
    assert [v.id for v in again.versions] == [version.id]
    assert again.run.metric_calls == run.metric_calls
    assert len(server.calls) == calls_before
    assert len(store.versions("default", VersionKind.PROMPT, version.name)) == 1


def test_the_token_budget_stops_the_run(tmp_path: Path, server: FakeLLMServer) -> None:
    store = seed_store(tmp_path / "atlas.db")
    data = gepa_config(tmp_path, server, budget={"max_metric_calls": 200, "max_tokens": 50})
    result = optimize(GepaConfig.model_validate(data), store=store)
    # The seed's validation pass alone spends more than 50 tokens: nothing more is bought.
    assert result.run.tokens >= 50
    assert result.run.metric_calls == 4  # the 4 validation examples, once
    assert not [c for c in server.calls if c.model == "reflector"]
    assert result.versions == []
    assert json.loads(result.summary_path.read_text())["improvement"] == 0.0


def test_teacher_roles_are_targets_too(tmp_path: Path, server: FakeLLMServer) -> None:
    store = seed_store(tmp_path / "atlas.db")
    data = gepa_config(
        tmp_path,
        server,
        target_roles=["teacher_guidance", "student_with_guidance"],
        lane="coach",
        runtime={
            "student": {"base_url": server.base_url, "model": "student"},
            "teacher": {"base_url": server.base_url, "model": "teacher"},
        },
        budget={"max_metric_calls": 60},
        use_merge=True,
    )
    result = optimize(GepaConfig.model_validate(data), store=store)
    run = result.run
    assert run.initial_score == 0.0
    assert run.best_score == 1.0
    best = run.candidates[run.best]
    assert best["student_with_guidance"] == FIXED_BY_ROLE["student_with_guidance"]
    # Each changed role is its own candidate Version, under its own name.
    names = {v.name for v in result.versions}
    assert "atlas.runtime.student_with_guidance" in names
    teacher_calls = [c for c in server.calls if c.model == "teacher"]
    assert teacher_calls  # the coach lane was really served: the teacher guided
