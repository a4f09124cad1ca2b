"""An interrupted run resumes from its run directory without paying for work twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atlas_core.testing.openai_server import FakeLLMServer
from atlas_gepa.config import GepaConfig
from atlas_gepa.pipeline import optimize
from atlas_gepa.testing import FIXED, gepa_config, responder, seed_store


class Crash(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way catches it."""


class CrashAfterFirstIteration:
    """A GEPA callback that kills the run once the first iteration has done all its work."""

    def on_iteration_end(self, event: dict[str, Any]) -> None:
        raise Crash


def _spent(server: FakeLLMServer) -> tuple[int, int]:
    student = sum(1 for c in server.calls if c.model == "student")
    return student, len(server.calls) - student


def test_resume_after_an_interruption_spends_no_budget_twice(tmp_path: Path) -> None:
    # The reference: the same run, never interrupted.
    with FakeLLMServer(responder) as server:
        ref_dir = tmp_path / "ref"
        ref_dir.mkdir()
        store = seed_store(ref_dir / "atlas.db")
        reference = optimize(GepaConfig.model_validate(gepa_config(ref_dir, server)), store=store)
        ref_spent = _spent(server)
    assert reference.run.best_score == 1.0

    with FakeLLMServer(responder) as server:
        store = seed_store(tmp_path / "atlas.db")
        config = GepaConfig.model_validate(gepa_config(tmp_path, server))
        with pytest.raises(Crash):
            optimize(config, store=store, callbacks=[CrashAfterFirstIteration()])
        assert (tmp_path / "run" / "gepa_state.bin").is_file()
        assert not (tmp_path / "run" / "summary.json").exists()
        interrupted_spent = _spent(server)
        assert interrupted_spent[0] > 0
        assert interrupted_spent[1] == 1

        resumed = optimize(config, store=store)
        total_spent = _spent(server)

    # Same result, same metric calls counted, and not one more call to any model.
    assert resumed.run.best_score == 1.0
    assert resumed.run.candidates[resumed.run.best]["student"] == FIXED
    assert resumed.run.metric_calls == reference.run.metric_calls
    assert total_spent == interrupted_spent == ref_spent
    assert len(resumed.versions) == 1
