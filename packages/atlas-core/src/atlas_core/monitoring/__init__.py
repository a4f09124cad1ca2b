"""Monitoring: the store-derived view of a tenant, Prometheus series, and the live dashboard.

- :class:`MonitoringView`: one cached snapshot per tenant (performance over time per
  version and learning key, feedback mix, learning events, versions, rollouts, drift
  alarms, latency and errors); ``/metrics`` and the dashboard both read it.
- :class:`StoreCollector` / :class:`TransportCollector`: Prometheus collectors over a view
  and over an SDK transport's buffer.
- :func:`dashboard_router`, :class:`DashboardLinks`: the dashboard of ``atlas serve`` and
  its signed links; :func:`serve_dashboard`: the dashboard in a background thread.

See README.md in this folder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atlas_core.monitoring.dashboard.embedded import DashboardHandle, serve_dashboard
    from atlas_core.monitoring.dashboard.links import DashboardGrant, DashboardLinks
    from atlas_core.monitoring.dashboard.routes import dashboard_router, dashboard_tenant
    from atlas_core.monitoring.prometheus import StoreCollector, TransportCollector
    from atlas_core.monitoring.view import MonitoringView, TenantSnapshot

# Imported on first use: a process that only exports metrics (a serving worker, an SDK
# embedding) does not pay for the web framework the dashboard needs.
_WHERE = {
    "DashboardHandle": "dashboard.embedded",
    "serve_dashboard": "dashboard.embedded",
    "DashboardGrant": "dashboard.links",
    "DashboardLinks": "dashboard.links",
    "dashboard_router": "dashboard.routes",
    "dashboard_tenant": "dashboard.routes",
    "StoreCollector": "prometheus",
    "TransportCollector": "prometheus",
    "MonitoringView": "view",
    "TenantSnapshot": "view",
}

__all__ = [
    "DashboardGrant",
    "DashboardHandle",
    "DashboardLinks",
    "MonitoringView",
    "StoreCollector",
    "TenantSnapshot",
    "TransportCollector",
    "dashboard_router",
    "dashboard_tenant",
    "serve_dashboard",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{where}"), name)
