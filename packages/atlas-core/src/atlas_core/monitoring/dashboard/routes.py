"""The dashboard's HTTP routes: the page, its static assets, and its tenant-scoped JSON API.

- ``GET /dashboard``: the page. It holds no data: its script reads a credential from the
  URL fragment (a signed link, see :mod:`atlas_core.monitoring.dashboard.links`) or from
  a form where an API key is typed, and polls the JSON API with it.
- ``GET /dashboard/assets/{name}``: the page's script and style, and plotly's bundled
  ``plotly.min.js`` from the installed ``plotly`` package (served here: no CDN).
- ``GET /v1/dashboard/snapshot`` (and ``/v1/dashboard/{section}`` for one part):
  the tenant's :class:`~atlas_core.monitoring.view.TenantSnapshot` as JSON. Authorization:
  ``Bearer <API key with the read scope>`` or ``Bearer <dashboard token>``; the tenant is
  always the credential's.

Every answer carries a strict Content-Security-Policy (scripts and connections to this
origin only), ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store`` on data.
"""

from __future__ import annotations

import html
import importlib.util
from functools import cache
from importlib import resources
from pathlib import Path

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from atlas_core.auth import KeyVerifier, bearer_secret
from atlas_core.monitoring.dashboard.links import DashboardLinks
from atlas_core.monitoring.view import MonitoringView
from atlas_core.serve.http_errors import NotFoundError
from atlas_core.serve.http_openapi import BEARER

__all__ = ["SECTIONS", "dashboard_router", "dashboard_tenant"]

SECTIONS = ("performance", "feedback", "learning")
"""Parts of the snapshot served on their own at ``/v1/dashboard/{section}``."""

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
        "style-src 'self' 'unsafe-inline'; font-src 'self' data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_SECURED: dict[str, object] = {"security": [{BEARER: []}]}
_ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "plotly.min.js": "text/javascript; charset=utf-8",
}


@cache
def _asset(name: str) -> bytes:
    if name == "plotly.min.js":
        # plotly's own bundle (the package is a dependency only for this file).
        spec = importlib.util.find_spec("plotly")
        if spec is None or spec.origin is None:
            raise NotFoundError("plotly is not installed")
        return (Path(spec.origin).parent / "package_data" / "plotly.min.js").read_bytes()
    return resources.files("atlas_core.monitoring.dashboard").joinpath("static", name).read_bytes()


def dashboard_tenant(
    verifier: KeyVerifier, links: DashboardLinks | None, authorization: str | None
) -> str:
    """The tenant whose dashboard the ``Authorization`` header may read: an API key with
    the ``read`` scope, or a valid dashboard token. Raises AuthenticationError (401) or
    PermissionDeniedError (403)."""
    secret = bearer_secret(authorization)
    if secret.startswith("atlas_") or links is None:
        return verifier.authenticate(secret, "read").tenant_id
    return links.verify(secret).tenant_id


def _page(poll_interval_s: float) -> bytes:
    template = _asset("index.html").decode()
    return template.replace("{{POLL_MS}}", html.escape(str(int(poll_interval_s * 1000)))).encode()


def dashboard_router(
    view: MonitoringView,
    verifier: KeyVerifier,
    links: DashboardLinks | None,
    *,
    poll_interval_s: float = 3.0,
) -> APIRouter:
    """The routes above over one monitoring view. Data handlers are plain functions:
    FastAPI runs them in its thread pool, since the snapshot reads the store."""
    router = APIRouter(tags=["dashboard"], default_response_class=Response)
    page = _page(poll_interval_s)

    @router.get("/dashboard", summary="The live dashboard page (no data without a credential)")
    async def dashboard_page() -> Response:
        headers = {**_SECURITY_HEADERS, "Cache-Control": "no-store"}
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    @router.get("/dashboard/assets/{name}", summary="The dashboard's script, style and plotly")
    async def dashboard_asset(name: str) -> Response:
        media_type = _ASSETS.get(name)
        if media_type is None:
            raise NotFoundError(f"name: no dashboard asset {name[:64]!r}")
        headers = {**_SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
        return Response(_asset(name), media_type=media_type, headers=headers)

    def tenant_of(request: Request) -> str:
        return dashboard_tenant(verifier, links, request.headers.get("authorization"))

    def json_answer(body: object) -> Response:
        headers = {**_SECURITY_HEADERS, "Cache-Control": "no-store"}
        return Response(orjson.dumps(body), media_type="application/json", headers=headers)

    @router.get(
        "/v1/dashboard/snapshot",
        summary="Everything the dashboard shows (JSON)",
        openapi_extra=_SECURED,
    )
    def dashboard_snapshot(request: Request) -> Response:
        return json_answer(view.snapshot(tenant_of(request)).to_dict())

    @router.get(
        "/v1/dashboard/{section}",
        summary="One part of the snapshot: performance, feedback or learning (JSON)",
        openapi_extra=_SECURED,
    )
    def dashboard_section(request: Request, section: str) -> Response:
        tenant = tenant_of(request)  # authenticated first: nothing is said to strangers
        if section not in SECTIONS:
            raise NotFoundError(f"section: one of {', '.join(SECTIONS)}; got {section[:64]!r}")
        return json_answer(view.snapshot(tenant).to_dict()[section])

    return router
