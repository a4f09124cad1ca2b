"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Playwright): it loads
without console errors, its charts render the API's data points, the numbers shown are
the API's, and new data written to the store appears without a reload.

Chromium: ``ATLAS_TEST_CHROMIUM``, else ``chromium`` on the PATH (Playwright's own browsers
are never installed). Skipped when it is absent locally; under CI (``CI=true``) that fails.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from atlas_core.config.models import MonitoringConfig
from atlas_core.monitoring import DashboardHandle, serve_dashboard
from atlas_core.serve.server import AtlasServer
from atlas_core.store import Store, open_store
from atlas_core.types import ApiKey, Interaction, Reward, utcnow

sys.path.insert(0, str(Path(__file__).parent))
from monitoring_data import server_config, write_tenant

CHROMIUM = os.environ.get("ATLAS_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[DashboardHandle, Store]]:
    _require_chromium()
    url = "sqlite:///" + str(tmp_path / "a.db")
    store = open_store(url)  # the writer, as the demo process is; the dashboard reads apart
    write_tenant(store, "acme")
    handle = serve_dashboard(
        url, "acme", config=MonitoringConfig(cache_ttl_s=0, poll_interval_s=0.3)
    )
    try:
        yield handle, store
    finally:
        handle.stop()
        store.close()


@pytest.fixture
def page() -> Iterator[tuple[Page, list[str]]]:
    _require_chromium()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            tab = browser.new_page()

            def on_console(message: ConsoleMessage) -> None:
                if message.type in ("error", "warning"):
                    errors.append(f"{message.type}: {message.text}")

            tab.on("console", on_console)
            tab.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            tab.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            yield tab, errors
        finally:
            browser.close()


def _api(handle: DashboardHandle) -> dict[str, Any]:
    token = handle.url.split("#token=", 1)[1]
    answer = httpx.get(
        handle.base_url + "/v1/dashboard/snapshot",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def _stat(tab: Page, name: str) -> str:
    return tab.inner_text(f'[data-testid="stat-{name}"]')


def _points(rows: list[dict[str, Any]], field: str) -> int:
    return sum(row[field] is not None for row in rows)


def test_page_renders_the_api_numbers_and_charts(
    served: tuple[DashboardHandle, Store], page: tuple[Page, list[str]]
) -> None:
    handle, _ = served
    tab, errors = page
    tab.goto(handle.url)
    tab.wait_for_selector("body[data-refreshes]")
    api = _api(handle)
    totals = api["performance"]["totals"]
    # The credential left the address bar once read.
    assert "#token" not in tab.url
    # Numbers shown = the API's.
    assert _stat(tab, "interactions") == str(api["counts"]["interactions"]) == "40"
    assert float(_stat(tab, "mean_reward")) == pytest.approx(totals["mean_reward"], abs=5e-4)
    assert float(_stat(tab, "error_rate")) == pytest.approx(totals["error_rate"], abs=5e-4)
    accuracy, labelled = _stat(tab, "accuracy").split(" ")
    assert float(accuracy) == pytest.approx(totals["accuracy"], abs=5e-4)
    assert labelled == f"({totals['labelled']})"
    p50, p99 = (float(x) for x in _stat(tab, "latency").split(" / "))
    assert p50 == pytest.approx(totals["latency_p50_ms"], abs=0.05)
    assert p99 == pytest.approx(totals["latency_p99_ms"], abs=0.05)
    assert _stat(tab, "feedback") == str(api["counts"]["feedback"])
    assert _stat(tab, "rewards") == str(api["counts"]["rewards"])
    assert _stat(tab, "drift_alarms") == str(api["learning"]["alarm_total"]) == "3"
    # Charts: plotly drew one marker per data point the API gave.
    over_time = api["performance"]["over_time"]
    expected = _points(over_time, "mean_reward") + _points(over_time, "accuracy")
    assert expected > 10
    assert tab.locator("#chart-performance .scatterlayer .point").count() == expected
    by_key = api["performance"]["over_time_by_key"]
    assert tab.locator("#chart-keys .scatterlayer .point").count() == _points(by_key, "mean_reward")
    bars = tab.locator("#chart-feedback .barlayer .point")
    assert bars.count() == len(api["feedback"]["by_kind"])
    # Update markers drawn as annotations on the performance chart.
    markers = api["learning"]["markers"]
    assert markers
    assert tab.locator("#chart-performance .annotation").count() == len(markers)
    # Tables: one row per version, learning event, alarm; the rollout's phase and weight.
    assert tab.locator("#versions tr").count() == len(api["learning"]["versions"])
    assert tab.locator("#learning tr").count() == len(api["learning"]["recent_events"])
    assert tab.locator("#alarms tr").count() == len(api["learning"]["drift_alarms"])
    rollout = tab.inner_text("#rollouts tr")
    assert "canary" in rollout
    assert "5%" in rollout
    assert errors == []


def test_new_data_appears_live(
    served: tuple[DashboardHandle, Store], page: tuple[Page, list[str]]
) -> None:
    handle, store = served
    tab, errors = page
    tab.goto(handle.url)
    tab.wait_for_selector("body[data-refreshes]")
    assert _stat(tab, "interactions") == "40"
    later = utcnow() + timedelta(minutes=5)
    fresh = [
        Interaction(
            tenant_id="acme",
            learning_key="billing",
            input=[{"role": "user", "content": "new"}],
            output="x",
            created_at=later,
        )
        for _ in range(5)
    ]
    store.write_interactions(fresh)
    store.write_rewards([Reward(tenant_id="acme", interaction_id=i.id, score=1.0) for i in fresh])
    # (Playwright's expect polls from its own world: the page's CSP forbids eval.)
    expect(tab.locator('[data-testid="stat-interactions"]')).to_have_text("45", timeout=15_000)
    expect(tab.locator('[data-testid="stat-rewards"]')).to_have_text("35", timeout=15_000)
    over_time = _api(handle)["performance"]["over_time"]
    after = _points(over_time, "mean_reward") + _points(over_time, "accuracy")
    points = tab.locator("#chart-performance .scatterlayer .point")
    expect(points).to_have_count(after, timeout=15_000)
    # The new rows name no version: a new line appears for them.
    legend = tab.locator("#chart-performance .legendtext")
    expect(legend.filter(has_text="reward · unversioned")).to_have_count(1)
    assert errors == []


def test_typed_read_key_opens_the_dashboard_and_a_bad_one_does_not(
    served: tuple[DashboardHandle, Store], page: tuple[Page, list[str]]
) -> None:
    handle, store = served
    tab, _ = page
    key, secret = ApiKey.issue("acme", ("read",))
    store.put_api_key(key)
    tab.goto(handle.base_url + "/dashboard")
    tab.wait_for_selector("#login:not([hidden])")
    assert tab.locator("#content").is_hidden()
    tab.fill("#credential", "atlas_wrong")
    tab.click("#login button")
    expect(tab.locator('[data-testid="login-error"]')).to_contain_text("unknown")
    assert tab.locator("#content").is_hidden()
    tab.fill("#credential", secret)
    tab.click("#login button")
    tab.wait_for_selector("body[data-refreshes]")
    assert _stat(tab, "interactions") == "40"
    assert tab.inner_text('[data-testid="tenant"]').endswith("acme")


def test_atlas_serve_dashboard_via_a_signed_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: tuple[Page, list[str]]
) -> None:
    # The same page behind the full `atlas serve` app (its fast path and middleware).
    config = server_config(tmp_path, monkeypatch, MonitoringConfig(cache_ttl_s=0))
    server = AtlasServer(config)
    server.start()
    tab, errors = page
    try:
        write_tenant(server.store, "acme")
        base = f"http://127.0.0.1:{server.http_port}"
        tab.goto(server.dashboard_links.url(base, "acme"))
        tab.wait_for_selector("body[data-refreshes]")
        assert _stat(tab, "interactions") == "40"
        assert tab.locator("#chart-performance .scatterlayer .point").count() > 10
    finally:
        server.stop()
    assert errors == []
