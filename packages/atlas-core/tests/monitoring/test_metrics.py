"""``/metrics`` of a real ``atlas serve`` (in-process and with 2 worker processes), parsed
with prometheus-client's own parser and checked against what was written to the store."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from atlas_core.config.models import MonitoringConfig
from atlas_core.monitoring import TransportCollector
from atlas_core.sdk.recorder import Recorder
from atlas_core.serve.server import AtlasServer
from atlas_core.store import open_store
from atlas_core.types import ApiKey, Reward

sys.path.insert(0, str(Path(__file__).parent))
from monitoring_data import Written, server_config, write_tenant


def _samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _value(samples: list[Sample], metric: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == metric and labels.items() <= s.labels.items()]
    assert len(found) == 1, (metric, labels, found)
    return found[0]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AtlasServer, str]]:
    monitoring = MonitoringConfig(cache_ttl_s=0, top_learning_keys=2)
    config = server_config(tmp_path, monkeypatch, monitoring)
    srv = AtlasServer(config)
    srv.start()
    try:
        yield srv, f"http://127.0.0.1:{srv.http_port}"
    finally:
        srv.stop()


def test_metrics_match_the_store(server: tuple[AtlasServer, str]) -> None:
    srv, base = server
    w: Written = write_tenant(srv.store, "acme")
    key, secret = ApiKey.issue("acme", ("ingest",))
    srv.store.put_api_key(key)
    given = str(uuid.uuid4())
    body = {
        "interactions": [
            {"id": given, "learning_key": "billing", "input": "q", "output": "a"},
            {"learning_key": "billing", "input": "q", "output": "b"},
        ],
        "feedback": [
            {"interaction_id": given, "kind": "signal", "name": "copy"},
            {"interaction_id": given, "kind": "signal", "name": "share"},
            {"interaction_id": given, "kind": "rating", "value": 2, "scale_min": 1, "scale_max": 5},
        ],
    }
    with httpx.Client(base_url=base, timeout=10) as http:
        answer = http.post("/v1/ingest", json=body, headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 200, answer.text
        text = http.get("/metrics").text
    s = _samples(text)
    # Ingested by kind (this server's pipeline).
    assert _value(s, "atlas_ingested_events_total", table="interactions", kind="interaction") == 2
    assert _value(s, "atlas_ingested_events_total", table="feedback", kind="signal") == 2
    assert _value(s, "atlas_ingested_events_total", table="feedback", kind="rating") == 1
    # Store-derived: everything in the window, whoever wrote it.
    t = {"tenant": "acme"}
    assert _value(s, "atlas_monitor_up", **t) == 1
    assert _value(s, "atlas_monitor_events", kind="interaction", **t) == 42
    assert _value(s, "atlas_monitor_events", kind="feedback", **t) == len(w.feedback) + 3
    assert _value(s, "atlas_monitor_events", kind="reward", **t) == 30
    assert _value(s, "atlas_monitor_feedback", kind="signal", name="copy", **t) == 7
    scores = list(w.rewards.values())
    assert _value(s, "atlas_monitor_reward_bucket", le="0.5", **t) == sum(x <= 0.5 for x in scores)
    assert _value(s, "atlas_monitor_reward_bucket", le="+Inf", **t) == 30
    assert _value(s, "atlas_monitor_reward_gsum", **t) == pytest.approx(sum(scores))
    # Per key and version: top 2 keys by traffic (billing got 2 more), the third is "other".
    keys = {x.labels["learning_key"] for x in s if x.name == "atlas_monitor_reward_mean"}
    assert keys == {"billing", "login", "other"}
    assert _value(
        s, "atlas_monitor_reward_mean", learning_key="billing", version="support@2", **t
    ) == pytest.approx(w.mean_reward("billing", "support@2"))
    assert _value(
        s, "atlas_monitor_reward_mean", learning_key="other", version="support@1", **t
    ) == pytest.approx(w.mean_reward("refunds", "support@1"))
    assert _value(
        s, "atlas_monitor_accuracy_ratio", learning_key="billing", version="support@1", **t
    ) == pytest.approx(1.0)  # interaction 0: billing, labelled right
    assert _value(s, "atlas_monitor_error_ratio", **t) == pytest.approx(
        sum(bool(i.metadata.get("error")) for i in w.interactions) / 42
    )
    assert _value(s, "atlas_monitor_latency_seconds", quantile="0.5", **t) > 0
    assert _value(s, "atlas_learning_runs_total", trigger="drift", outcome="skipped", **t) == 1
    assert _value(s, "atlas_learning_runs_total", trigger="drift", outcome="candidate", **t) == 1
    assert _value(s, "atlas_drift_alarms_total", trigger="drift", **t) == 2
    assert _value(s, "atlas_drift_alarms_total", trigger="error_rate", **t) == 1
    family = {"family": "model/support", **t}
    assert _value(s, "atlas_rollout_canary_weight_ratio", **family) == pytest.approx(0.05)
    assert _value(s, "atlas_rollout_phase", phase="canary", **family) == 1
    assert _value(s, "atlas_rollout_phase", phase="promoted", **family) == 0
    assert _value(s, "atlas_rollouts_finished_total", result="promoted", **family) == 1
    assert _value(s, "atlas_versions", kind="model", status="canary", **t) == 1
    # Requests per second is rate() over this counter.
    assert _value(s, "atlas_requests_total", method="POST /v1/ingest", status="200") == 1


def test_a_new_reward_shows_on_the_next_scrape(server: tuple[AtlasServer, str]) -> None:
    srv, base = server
    w = write_tenant(srv.store, "acme")
    with httpx.Client(base_url=base, timeout=10) as http:
        before = _value(_samples(http.get("/metrics").text), "atlas_monitor_events", kind="reward")
        unrewarded = next(i for i in w.interactions if i.id not in w.rewards)
        srv.store.write_rewards([Reward(tenant_id="acme", interaction_id=unrewarded.id, score=1)])
        after = _value(_samples(http.get("/metrics").text), "atlas_monitor_events", kind="reward")
    assert (before, after) == (30, 31)


def test_sdk_transport_collector(tmp_path: Path) -> None:
    with open_store("sqlite:///" + str(tmp_path / "a.db")) as store:
        recorder = Recorder.embedded(store, tenant_id="acme")
        try:
            ids = [recorder.record_interaction(input="q", output=f"a{k}") for k in range(5)]
            recorder.signal(ids[0], "copy")
            assert recorder.flush(10)
            registry = CollectorRegistry()
            registry.register(TransportCollector(recorder.transport, "embedded"))
            s = _samples(generate_latest(registry).decode())
        finally:
            recorder.close()
    labels = {"transport": "embedded"}
    assert _value(s, "atlas_sdk_events_total", state="accepted", **labels) == 6
    assert _value(s, "atlas_sdk_events_total", state="delivered", **labels) == 6
    assert _value(s, "atlas_sdk_events_total", state="dropped", **labels) == 0
    assert _value(s, "atlas_sdk_pending_events", **labels) == 0


_WORKER = """
import sys
from atlas_core.monitoring import MonitoringView, StoreCollector
from atlas_core.serve.metrics import ServeMetrics
# The SQLite store itself: open_store would load every installed plugin (seconds each).
from atlas_memory.sqlite.store import SqliteStore

store = SqliteStore(sys.argv[1])
metrics = ServeMetrics()  # what each `atlas serve --workers N` worker builds
metrics.add_collector(StoreCollector(MonitoringView(store), ["acme"]))
metrics.ingested.labels("interactions", "interaction").inc(int(sys.argv[2]))
if sys.argv[3] == "scrape":
    sys.stdout.write(metrics.exposition().decode())
"""


def test_store_series_are_not_multiplied_by_workers(tmp_path: Path) -> None:
    # Two "workers" (processes) share one multiprocess directory, as under
    # `atlas serve --workers 2`: the per-process counters add up, the store-derived series
    # (one store for all) appear once.
    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    with open_store(url) as store:
        write_tenant(store, "acme")
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    run = [sys.executable, "-c", _WORKER, str(tmp_path / "atlas.db")]
    subprocess.run([*run, "3", "quiet"], env=env, check=True, timeout=60)
    scraped = subprocess.run(
        [*run, "4", "scrape"], env=env, check=True, timeout=60, capture_output=True, text=True
    )
    s = _samples(scraped.stdout)
    assert _value(s, "atlas_ingested_events_total", kind="interaction") == 7
    assert _value(s, "atlas_monitor_events", tenant="acme", kind="reward") == 30
    assert _value(s, "atlas_monitor_events", tenant="acme", kind="interaction") == 40
