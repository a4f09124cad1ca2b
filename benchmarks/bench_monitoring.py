"""The monitoring snapshot of one tenant: what one refresh of ``/metrics`` or the dashboard
costs on SQLite (the view caches it for ``cache_ttl_s``, so this is paid at most that often).

Run: ``uv run pytest benchmarks/bench_monitoring.py --benchmark-enable``.

Hot path (``benchmark.group``): ``monitoring.snapshot_20k``: :meth:`MonitoringView.compute`
over 20,000 interactions (3 versions, 12 learning keys), 15,000 rewards and 8,000 feedback
rows in the window, plus 500 learning runs: the store reads (polars) and every figure.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from atlas_core.config.models import MonitoringConfig
from atlas_core.ids import new_id
from atlas_core.monitoring import MonitoringView
from atlas_core.store import Store, open_store
from atlas_core.types import LearningRun, to_ns, utcnow

N = 20_000


def _frame(columns: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(columns)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = Path(tmp_path_factory.mktemp("monitoring")) / "a.db"
    s = open_store(f"sqlite:///{path}")
    rng = np.random.default_rng(0)
    start = to_ns(utcnow() - timedelta(hours=6))
    created = np.sort(start + rng.integers(0, 6 * 3600 * 10**9, N))
    ids = [new_id().bytes for _ in range(N)]
    template = s.interactions("t").schema
    rows = {
        "id": ids,
        "tenant_id": ["t"] * N,
        "session_id": [None] * N,
        "user_id": [f"u{k % 300}" for k in range(N)],
        "learning_key": [f"key{k % 12}" for k in range(N)],
        "model_version": [f"m{k * 3 // N}" for k in range(N)],
        "prompt_version": [None] * N,
        "input": ['[{"role":"user","content":"q"}]'] * N,
        "output": [f"a{k % 7}" for k in range(N)],
        "latency_ms": rng.gamma(2.0, 50.0, N).tolist(),
        "prompt_tokens": [None] * N,
        "completion_tokens": [None] * N,
        "metadata": ['{"error":true}' if k % 50 == 0 else "{}" for k in range(N)],
        "created_at": created.tolist(),
    }
    s.write_interactions(_frame(rows).cast(dict(template.items()), strict=False))
    rewarded = rng.choice(N, 15_000, replace=False)
    s.write_rewards(
        pl.DataFrame(
            {
                "id": [new_id().bytes for _ in rewarded],
                "tenant_id": ["t"] * len(rewarded),
                "interaction_id": [ids[i] for i in rewarded],
                "score": rng.random(len(rewarded)).tolist(),
                "components": ["{}"] * len(rewarded),
                "rationale": [None] * len(rewarded),
                "uncertainty": [None] * len(rewarded),
                "escalated": [False] * len(rewarded),
                "reward_model": [None] * len(rewarded),
                "created_at": [int(created[i]) + 10**9 for i in rewarded],
            }
        ).cast(dict(s.rewards("t").schema.items()), strict=False)
    )
    rated = rng.choice(N, 8_000, replace=False)
    kinds = ["rating", "signal", "label", "edit"]
    s.write_feedback(
        pl.DataFrame(
            {
                "id": [new_id().bytes for _ in rated],
                "tenant_id": ["t"] * len(rated),
                "interaction_id": [ids[i] for i in rated],
                "user_id": [None] * len(rated),
                "kind": [kinds[k % 4] for k in range(len(rated))],
                "name": ["copy" if k % 4 == 1 else None for k in range(len(rated))],
                "value": [float(1 + k % 5) if k % 4 < 2 else None for k in range(len(rated))],
                "scale_min": [1.0 if k % 4 == 0 else None for k in range(len(rated))],
                "scale_max": [5.0 if k % 4 == 0 else None for k in range(len(rated))],
                "text": ["a1" if k % 4 >= 2 else None for k in range(len(rated))],
                "source": ["user"] * len(rated),
                "metadata": ["{}"] * len(rated),
                "created_at": [int(created[i]) + 2 * 10**9 for i in rated],
            }
        ).cast(dict(s.feedback("t").schema.items()), strict=False)
    )
    for k in range(500):
        s.record_run(
            LearningRun.model_validate(
                {
                    "tenant_id": "t",
                    "trigger": "sample_count" if k % 10 else "drift",
                    "learner": "gepa",
                    "outcome": "skipped" if k % 5 else "candidate",
                }
            )
        )
    yield s
    s.close()


def test_snapshot_20k(benchmark: Any, store: Store) -> None:
    view = MonitoringView(store, MonitoringConfig())
    snap = view.compute("t")
    assert snap.counts == {"interactions": N, "rewards": 15_000, "feedback": 8_000}
    assert snap.performance.totals["rewarded"] == 15_000
    assert snap.performance.totals["labelled"] == 2_000
    assert len(snap.performance.versions) == 3
    assert sum(r["count"] for r in snap.learning.runs_by_trigger_outcome) == 500
    benchmark.group = "monitoring.snapshot_20k"
    benchmark.extra_info["impl"] = "atlas MonitoringView (SQLite + polars)"
    benchmark(view.compute, "t")
