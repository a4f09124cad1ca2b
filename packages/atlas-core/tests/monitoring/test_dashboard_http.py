"""The dashboard's routes on the real HTTP app of ``atlas serve``: who may read what, the
signed links (and the CLI that prints them), the page and its assets."""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from atlas_core.auth import FeedbackTokens
from atlas_core.cli import build_app
from atlas_core.config import AtlasConfig, feedback_secrets
from atlas_core.config.models import MonitoringConfig
from atlas_core.errors import TokenExpiredError, TokenMalformedError, TokenSignatureError
from atlas_core.monitoring import DashboardLinks
from atlas_core.serve.server import AtlasServer
from atlas_core.types import ApiKey

sys.path.insert(0, str(Path(__file__).parent))
from monitoring_data import server_config, write_tenant


class Harness:
    def __init__(self, server: AtlasServer, config: AtlasConfig) -> None:
        self.server = server
        self.config = config
        self.base = f"http://127.0.0.1:{server.http_port}"
        self.keys: dict[tuple[str, str], str] = {}
        for tenant in ("acme", "globex"):
            for scope in ("read", "ingest"):
                key, secret = ApiKey.issue(tenant, (scope,))
                server.store.put_api_key(key)
                self.keys[(tenant, scope)] = secret

    def get(self, path: str, credential: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        return httpx.get(self.base + path, headers=headers, timeout=10)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    config = server_config(tmp_path, monkeypatch, MonitoringConfig(cache_ttl_s=0))
    server = AtlasServer(config)
    server.start()
    try:
        write_tenant(server.store, "acme")
        write_tenant(server.store, "globex", n=6)
        yield Harness(server, config)
    finally:
        server.stop()


def test_read_key_sees_its_own_tenant_only(api: Harness) -> None:
    acme = api.get("/v1/dashboard/snapshot", api.keys[("acme", "read")])
    assert acme.status_code == 200
    assert acme.headers["cache-control"] == "no-store"
    assert acme.json()["tenant"] == "acme"
    assert acme.json()["counts"]["interactions"] == 40
    globex = api.get("/v1/dashboard/snapshot", api.keys[("globex", "read")]).json()
    assert (globex["tenant"], globex["counts"]["interactions"]) == ("globex", 6)


def test_without_read_scope_or_credential_nothing_is_shown(api: Harness) -> None:
    assert api.get("/v1/dashboard/snapshot").status_code == 401
    assert api.get("/v1/dashboard/snapshot", "atlas_not-a-key").status_code == 401
    ingest_only = api.get("/v1/dashboard/snapshot", api.keys[("acme", "ingest")])
    assert ingest_only.status_code == 403
    assert "interactions" not in ingest_only.text


def test_signed_link_grants_its_tenant_and_nothing_else(api: Harness) -> None:
    links = api.server.dashboard_links
    token = links.issue("globex")
    answer = api.get("/v1/dashboard/performance", token)
    assert answer.status_code == 200
    assert answer.json()["totals"]["interactions"] == 6
    # Read-only and dashboard-only: the other read endpoints and ingest refuse it.
    assert api.get("/v1/interactions", token).status_code == 401
    post = httpx.post(
        api.base + "/v1/ingest",
        json={"interactions": [{"input": "q", "output": "a"}]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert post.status_code == 401


def test_feedback_tokens_and_foreign_or_expired_links_are_refused(api: Harness) -> None:
    feedback = FeedbackTokens(feedback_secrets(api.config)).issue("acme", uuid.uuid4())
    assert api.get("/v1/dashboard/snapshot", feedback).status_code == 401
    foreign = DashboardLinks(["another-secret-0123456789abcdef-0123456789"]).issue("acme")
    assert api.get("/v1/dashboard/snapshot", foreign).status_code == 401
    past = DashboardLinks(feedback_secrets(api.config), clock=lambda: time.time() - 7200)
    expired = past.issue("acme", ttl_s=3600)
    answer = api.get("/v1/dashboard/snapshot", expired)
    assert answer.status_code == 401
    assert "expired" in answer.json()["error"]["message"]


def test_unknown_section_is_404_naming_it(api: Harness) -> None:
    answer = api.get("/v1/dashboard/secrets", api.keys[("acme", "read")])
    assert answer.status_code == 404
    assert "section" in answer.json()["error"]["message"]


def test_page_holds_no_data_and_a_strict_policy(api: Harness) -> None:
    page = api.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "acme" not in page.text
    assert 'data-poll-ms="3000"' in page.text
    plotly = api.get("/dashboard/assets/plotly.min.js")
    assert plotly.status_code == 200
    assert plotly.headers["content-type"].startswith("text/javascript")
    assert len(plotly.content) > 1_000_000  # the full bundle, served locally
    assert api.get("/dashboard/assets/../../atlas.yaml").status_code == 404
    assert api.get("/dashboard/assets/secret.key").status_code == 404


def test_links_verify_and_fail_with_typed_errors() -> None:
    now = [1_900_000_000.0]
    links = DashboardLinks(
        [
            "new-secret-0123456789-0123456789-0123456789",
            "old-secret-0123456789-0123456789-0123456789",
        ],
        ttl_s=60,
        clock=lambda: now[0],
    )
    grant = links.verify(links.issue("acme"))
    assert (grant.tenant_id, grant.expires_at) == ("acme", now[0] + 60)
    rotated = DashboardLinks(
        ["old-secret-0123456789-0123456789-0123456789"], clock=lambda: now[0]
    ).issue("acme")
    assert links.verify(rotated).tenant_id == "acme"  # an older secret still verifies
    token = links.issue("acme")
    head, _, signature = token.split(".")
    other_tenant = links.issue("globex").split(".")[1]
    with pytest.raises(TokenSignatureError):  # claims swapped under acme's signature
        links.verify(f"{head}.{other_tenant}.{signature}")
    with pytest.raises(TokenMalformedError):
        links.verify("not-a-token")
    now[0] += 61
    with pytest.raises(TokenExpiredError):
        links.verify(token)


def test_cli_prints_a_link_the_server_accepts(api: Harness) -> None:
    result = CliRunner().invoke(
        build_app(),
        [
            "keys",
            "dashboard-link",
            "--tenant",
            "acme",
            "--base-url",
            api.base,
            "--store",
            api.config.store.url,
            "--ttl",
            "600",
        ],
        env={"ATLAS_HOME": str(api.config.home)},
    )
    assert result.exit_code == 0, result.output
    found = re.search(r"(http://\S+/dashboard#token=\S+)", result.output)
    assert found is not None
    link = urlsplit(found.group(1))
    token = unquote(link.fragment.removeprefix("token="))
    assert api.get("/v1/dashboard/snapshot", token).json()["tenant"] == "acme"
    unknown = CliRunner().invoke(
        build_app(),
        ["keys", "dashboard-link", "--tenant", "nobody", "--store", api.config.store.url],
        env={"ATLAS_HOME": str(api.config.home)},
    )
    assert unknown.exit_code == 1
    assert "nobody" in unknown.output


def test_dashboard_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = server_config(tmp_path, monkeypatch, MonitoringConfig(dashboard=False))
    server = AtlasServer(config)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.http_port}"
        assert httpx.get(base + "/dashboard", timeout=10).status_code == 404
        assert httpx.get(base + "/v1/dashboard/snapshot", timeout=10).status_code == 404
        assert httpx.get(base + "/metrics", timeout=10).status_code == 200
    finally:
        server.stop()
