"""The dashboard in a background thread of the calling process (``atlas demo`` uses it).

:func:`serve_dashboard` opens its own connection to the store (SQLite in WAL mode: its
reads never block the writer of the process, and each read sees a consistent snapshot),
serves ``/dashboard``, its JSON API, ``/metrics`` (that tenant's store-derived series) and
``/healthz``, and returns a handle whose ``url`` opens the dashboard signed in: the link
carries a dashboard token signed with a secret made for this server alone, so it is
valid only while the server runs (and for at most ``link_ttl_s``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.responses import Response

from atlas_core.auth import KeyVerifier
from atlas_core.config.models import MonitoringConfig
from atlas_core.monitoring.dashboard.links import DashboardLinks
from atlas_core.monitoring.dashboard.routes import dashboard_router
from atlas_core.monitoring.prometheus import StoreCollector
from atlas_core.monitoring.view import MonitoringView
from atlas_core.serve.http_errors import install_error_handlers
from atlas_core.serve.http_server import HttpServer
from atlas_core.store import Store, open_store

__all__ = ["DashboardHandle", "serve_dashboard"]


@dataclass
class DashboardHandle:
    """A running dashboard server: open ``url``; :meth:`stop` when done (idempotent)."""

    url: str
    """The dashboard, signed in for the tenant (the token is in the URL fragment)."""
    base_url: str
    """``http://host:port`` of the server (``/metrics``, ``/v1/dashboard/snapshot``)."""
    tenant: str
    links: DashboardLinks
    """Issues further links to this server (e.g. another lifetime)."""
    view: MonitoringView
    _server: HttpServer = field(repr=False)
    _store: Store = field(repr=False)

    def url_for(self, tenant: str) -> str:
        """A signed-in link to another tenant's dashboard on this server (the demo's arms)."""
        return self.links.url(self.base_url, tenant)

    def stop(self) -> None:
        """Stops the server and closes its store connection."""
        self._server.stop()
        self._store.close()


def serve_dashboard(
    store_url: str,
    tenant: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    config: MonitoringConfig | None = None,
    link_ttl_s: int = 86_400,
    metrics_tenants: Sequence[str] = (),
) -> DashboardHandle:
    """Serves the tenant's dashboard over the store at ``store_url`` in a daemon thread
    (``port`` 0: a free port) and returns its handle once it answers. ``/metrics`` reports
    ``tenant`` and ``metrics_tenants``; :meth:`DashboardHandle.url_for` links any tenant."""
    config = config or MonitoringConfig()
    store = open_store(store_url)
    try:
        view = MonitoringView(store, config)
        links = DashboardLinks([secrets.token_urlsafe(32)], ttl_s=link_ttl_s)
        app = FastAPI(title="Atlas dashboard", docs_url=None, redoc_url=None, openapi_url=None)
        install_error_handlers(app)
        app.include_router(
            dashboard_router(
                view, KeyVerifier(store), links, poll_interval_s=config.poll_interval_s
            )
        )
        registry = CollectorRegistry()
        registry.register(StoreCollector(view, [tenant, *metrics_tenants]))

        @app.get("/metrics")
        async def metrics() -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

        @app.get("/healthz")
        async def healthz() -> Response:
            return Response(b'{"status":"ok"}', media_type="application/json")

        server = HttpServer(app, host, port)
        bound = server.start()
    except BaseException:
        store.close()
        raise
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{bound}"
    return DashboardHandle(
        url=links.url(base, tenant),
        base_url=base,
        tenant=tenant,
        links=links,
        view=view,
        _server=server,
        _store=store,
    )
