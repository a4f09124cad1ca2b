"""Prometheus collectors: the store-derived series of :class:`MonitoringView` snapshots, and
the counters of an SDK transport's FeedbackBuffer.

Store-derived series describe the store, not this process, so they are computed at scrape
time from the (cached) snapshot and never kept in prometheus-client's per-process files:
with ``atlas serve --workers N`` the worker that answers a scrape reports them once.
Series over the monitoring window (``atlas_monitor_*``) are gauges (a window forgets, so
they may go down); totals over everything recorded are counters (``_total``).

Label cardinality is bounded: ``tenant`` by ``monitoring.max_metrics_tenants``,
``learning_key`` and ``version`` by the top-N folding of
:mod:`atlas_core.monitoring.performance`, signal ``name`` by ``top_signal_names``;
``trigger``, ``outcome``, ``phase``, ``kind`` and ``status`` are small closed sets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from atlas_core.loop.rollout_state import Phase
from atlas_core.monitoring.learning import ALARM_TRIGGERS
from atlas_core.monitoring.view import MonitoringView, TenantSnapshot
from atlas_core.sdk.transport import Transport

__all__ = ["StoreCollector", "TransportCollector"]

log = logging.getLogger("atlas_core.monitoring")


def _quantile_s(value: float | None) -> float:
    return float("nan") if value is None else value / 1000.0


class StoreCollector(Collector):
    """The store-derived series of every monitored tenant (see the module docstring).

    ``tenants``: a fixed list, or a function returning the tenants to report (called at
    every scrape, capped at ``max_metrics_tenants``). A tenant whose snapshot fails is
    reported with ``atlas_monitor_up{tenant} 0`` instead of failing the scrape.
    """

    def __init__(
        self, view: MonitoringView, tenants: Sequence[str] | Callable[[], Sequence[str]]
    ) -> None:
        self.view = view
        self._tenants = tenants

    def tenants(self) -> list[str]:
        """The tenants reported at the next scrape."""
        chosen = self._tenants() if callable(self._tenants) else self._tenants
        return list(chosen)[: self.view.config.max_metrics_tenants]

    def collect(self) -> Iterable[Metric]:
        """Every series, from one snapshot per tenant."""
        families = _Families()
        families.window.add_metric([], self.view.config.window_s)
        try:
            tenants = self.tenants()
        except Exception:  # the store is down: the process's own series still go out
            log.exception("atlas monitoring: listing the tenants failed")
            tenants = []
        for tenant in tenants:
            try:
                snapshot = self.view.snapshot(tenant)
            except Exception:  # a broken tenant must not take the other series down
                log.exception("atlas monitoring: snapshot of tenant %r failed", tenant)
                families.up.add_metric([tenant], 0.0)
                continue
            families.up.add_metric([tenant], 1.0)
            families.add(snapshot)
        return families.all()


class _Families:
    def __init__(self) -> None:
        t = ["tenant"]
        kv = [*t, "learning_key", "version"]
        self.window = GaugeMetricFamily(
            "atlas_monitor_window_seconds", "Length of the window the atlas_monitor_* series cover."
        )
        self.up = GaugeMetricFamily(
            "atlas_monitor_up", "1 when the tenant's monitoring snapshot was computed.", labels=t
        )
        self.events = GaugeMetricFamily(
            "atlas_monitor_events",
            "Rows recorded in the window, by kind (interaction, feedback, reward).",
            labels=[*t, "kind"],
        )
        self.feedback = GaugeMetricFamily(
            "atlas_monitor_feedback",
            "Feedback in the window by kind and name (signal name, rating scale name).",
            labels=[*t, "kind", "name"],
        )
        self.reward = GaugeHistogramMetricFamily(
            "atlas_monitor_reward", "Rewards computed in the window (scores in [0, 1]).", labels=t
        )
        self.interactions = GaugeMetricFamily(
            "atlas_monitor_interactions", "Interactions in the window.", labels=kv
        )
        self.mean_reward = GaugeMetricFamily(
            "atlas_monitor_reward_mean",
            "Mean latest reward of the window's rewarded interactions.",
            labels=kv,
        )
        self.accuracy = GaugeMetricFamily(
            "atlas_monitor_accuracy_ratio",
            "Share of labelled interactions (label feedback) whose output equals the label.",
            labels=kv,
        )
        self.latency = GaugeMetricFamily(
            "atlas_monitor_latency_seconds",
            "Agent latency of the window's interactions (quantile 0.5 and 0.99).",
            labels=[*t, "quantile"],
        )
        self.errors = GaugeMetricFamily(
            "atlas_monitor_error_ratio",
            'Share of the window\'s interactions recorded with metadata "error".',
            labels=t,
        )
        self.runs = CounterMetricFamily(
            "atlas_learning_runs",
            "Learning runs recorded, by trigger and outcome (outcome skipped: a check that "
            "did not learn).",
            labels=[*t, "trigger", "outcome"],
        )
        self.alarms = CounterMetricFamily(
            "atlas_drift_alarms",
            "Drift and error-rate triggers recorded (fired or held back).",
            labels=[*t, "trigger"],
        )
        self.versions = GaugeMetricFamily(
            "atlas_versions", "Versions by status.", labels=[*t, "kind", "status"]
        )
        self.weight = GaugeMetricFamily(
            "atlas_rollout_canary_weight_ratio",
            "Share of users the family's candidate serves (0 in shadow, 1 once promoted).",
            labels=[*t, "family"],
        )
        self.phase = GaugeMetricFamily(
            "atlas_rollout_phase",
            "1 for the phase the family's latest rollout is in, 0 for the others.",
            labels=[*t, "family", "phase"],
        )
        self.finished = CounterMetricFamily(
            "atlas_rollouts_finished",
            "Finished rollouts by result (promoted, rolled_back).",
            labels=[*t, "family", "result"],
        )

    def add(self, s: TenantSnapshot) -> None:
        t = s.tenant
        for kind, table in (("interaction", "interactions"), ("feedback", "feedback")):
            self.events.add_metric([t, kind], s.counts[table])
        self.events.add_metric([t, "reward"], s.counts["rewards"])
        for row in s.feedback.by_kind:
            self.feedback.add_metric([t, row["kind"], row["name"]], row["count"])
        buckets = [(b["le"], float(b["count"])) for b in s.reward_histogram]
        self.reward.add_metric([t], buckets, s.reward_sum)
        for row in s.performance.by_key_version:
            labels = [t, row["learning_key"], row["version"]]
            self.interactions.add_metric(labels, row["interactions"])
            if row["mean_reward"] is not None:
                self.mean_reward.add_metric(labels, row["mean_reward"])
            if row["accuracy"] is not None:
                self.accuracy.add_metric(labels, row["accuracy"])
        totals = s.performance.totals
        if totals["interactions"]:
            self.latency.add_metric([t, "0.5"], _quantile_s(totals["latency_p50_ms"]))
            self.latency.add_metric([t, "0.99"], _quantile_s(totals["latency_p99_ms"]))
            self.errors.add_metric([t], totals["error_rate"])
        learning = s.learning
        for row in learning.runs_by_trigger_outcome:
            self.runs.add_metric([t, row["trigger"], row["outcome"]], row["count"])
        alarms: dict[str, int] = {}
        for row in learning.runs_by_trigger_outcome:
            if row["trigger"] in ALARM_TRIGGERS:
                alarms[row["trigger"]] = alarms.get(row["trigger"], 0) + row["count"]
        for trigger, n in sorted(alarms.items()):
            self.alarms.add_metric([t, trigger], n)
        statuses: dict[tuple[str, str], int] = {}
        for v in learning.versions:
            statuses[(v["kind"], v["status"])] = statuses.get((v["kind"], v["status"]), 0) + 1
        for (kind, status), n in sorted(statuses.items()):
            self.versions.add_metric([t, kind, status], n)
        for r in learning.rollouts:
            self.weight.add_metric([t, r["family"]], r["weight"] / 100.0)
            for phase in Phase:
                self.phase.add_metric([t, r["family"], phase.value], float(r["phase"] == phase))
        results: dict[tuple[str, str], int] = {}
        for r in learning.finished_rollouts:
            results[(r["family"], r["phase"])] = results.get((r["family"], r["phase"]), 0) + 1
        for (family, result), n in sorted(results.items()):
            self.finished.add_metric([t, family, result], n)

    def all(self) -> list[Metric]:
        return [value for value in vars(self).values() if isinstance(value, Metric)]


class TransportCollector(Collector):
    """The counters of an SDK transport (its FeedbackBuffer and flusher), for a process
    that embeds the SDK: ``registry.register(TransportCollector(recorder.transport))``.

    Series carry ``transport`` = ``name``, so several transports of one process can be
    registered side by side.
    """

    def __init__(self, transport: Transport, name: str = "default") -> None:
        self.transport = transport
        self.name = name

    def collect(self) -> Iterable[Metric]:
        """The transport's counters at this instant."""
        s = self.transport.stats()
        events = CounterMetricFamily(
            "atlas_sdk_events",
            "SDK events by state: accepted (sent), delivered, duplicates (delivered, "
            "already stored), dropped (evicted by drop_oldest), rejected (refused by send), "
            "failed (given up).",
            labels=["transport", "state"],
        )
        for state in ("accepted", "delivered", "duplicates", "dropped", "rejected", "failed"):
            events.add_metric([self.name, state], getattr(s, state))
        retries = CounterMetricFamily(
            "atlas_sdk_retries", "Transient delivery failures retried.", labels=["transport"]
        )
        retries.add_metric([self.name], s.retries)
        pending = GaugeMetricFamily(
            "atlas_sdk_pending_events",
            "Events accepted and not settled yet (the buffer's depth plus those in flight).",
            labels=["transport"],
        )
        pending.add_metric([self.name], s.pending)
        return [events, retries, pending]
