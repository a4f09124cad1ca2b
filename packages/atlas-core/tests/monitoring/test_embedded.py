"""``serve_dashboard`` beside a process that writes the same SQLite file: consistent reads
while the writer runs, links per tenant, and its ``/metrics``."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from atlas_core.config.models import MonitoringConfig
from atlas_core.monitoring import MonitoringView, serve_dashboard
from atlas_core.store import open_store
from atlas_core.types import Interaction, Tenant

BATCH = 50


def _batch(tenant: str) -> list[Interaction]:
    return [
        Interaction(tenant_id=tenant, input=[{"role": "user", "content": "q"}], output="a")
        for _ in range(BATCH)
    ]


def test_reads_while_another_connection_writes_see_whole_batches(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "a.db")
    with open_store(url) as writer, open_store(url) as reader:
        view = MonitoringView(reader, MonitoringConfig(cache_ttl_s=0))
        done = threading.Event()
        failures: list[BaseException] = []

        def write() -> None:
            try:
                for _ in range(20):
                    writer.write_interactions(_batch("acme"))
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=write)
        thread.start()
        seen = []
        while not done.is_set():
            seen.append(view.snapshot("acme").counts["interactions"])
        thread.join()
        seen.append(view.snapshot("acme").counts["interactions"])
    assert failures == []
    assert all(n % BATCH == 0 for n in seen), seen  # each read is one consistent snapshot
    assert seen == sorted(seen)
    assert seen[-1] == 20 * BATCH


def test_handle_links_each_tenant_and_serves_their_metrics(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "a.db")
    with open_store(url) as store:
        for tenant, batches in (("arm-a", 1), ("arm-b", 2)):
            store.put_tenant(Tenant(id=tenant))
            for _ in range(batches):
                store.write_interactions(_batch(tenant))
    handle = serve_dashboard(url, "arm-a", metrics_tenants=["arm-b"])
    try:
        assert handle.url.startswith(handle.base_url + "/dashboard#token=")
        for tenant, expected in (("arm-a", BATCH), ("arm-b", 2 * BATCH)):
            token = handle.url_for(tenant).split("#token=", 1)[1]
            answer = httpx.get(
                handle.base_url + "/v1/dashboard/snapshot",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert answer.json()["counts"]["interactions"] == expected
        text = httpx.get(handle.base_url + "/metrics", timeout=10).text
    finally:
        handle.stop()
    counts = {
        s.labels["tenant"]: s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "atlas_monitor_events" and s.labels["kind"] == "interaction"
    }
    assert counts == {"arm-a": BATCH, "arm-b": 2 * BATCH}
