"""The ingest pipeline shared by both transports: validate → bounded queue → group commit.

A transport authenticates the request (API key or feedback token), checks the scope, and
hands the events to :meth:`IngestPipeline.submit` (typed events as JSON-like mappings) or
:meth:`IngestPipeline.submit_columns` (the SDK's columnar encoding). The pipeline:

1. charges the caller's token bucket (``RateLimitedError`` when over its rate);
2. validates every event, setting ``tenant_id`` from the caller (never from the payload):
   types per event (:mod:`atlas_core.serve.records`), value rules column-wise with the
   store's own rule set (:func:`atlas_core.validation.bad_rows`). Invalid events are
   reported per event (kind, index, field, reason) and left out; the valid ones go on;
3. enqueues the valid events in a queue bounded by event count and bytes
   (``OverloadedError`` with a retry hint when full: nothing of that request is taken);
4. one writer thread takes everything queued (many requests, up to ``commit_max_events``),
   drops feedback about interactions the tenant does not have (reported per event), writes
   each table with one store call — one transaction — and then resolves every request's
   future. **A request is acknowledged only after the commit that holds its events.** Ids
   are client ids, so a client's retry of an acknowledged or half-written request is
   stored once (and counted in ``duplicates``).

A store failure is retried a few times with back-off; if it persists, the requests of
that group fail with ``StoreUnavailableError`` (UNAVAILABLE / 503: the client retries with
the same ids) and ``ready`` turns false until a write succeeds. ``close`` stops taking
requests (``ShuttingDownError``) and drains the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any
from uuid import UUID

import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventKind
from atlas_core.sdk.events import decode
from atlas_core.serve.errors import (
    LimitExceededError,
    OverloadedError,
    ShuttingDownError,
    StoreUnavailableError,
)
from atlas_core.serve.ratelimit import RateLimiter
from atlas_core.serve.records import Converted, convert
from atlas_core.serve.results import EventError, EventKindName, IngestResult
from atlas_core.store import BatchValidationError
from atlas_core.validation import bad_rows

if TYPE_CHECKING:
    from atlas_core.config import ServeConfig
    from atlas_core.kernels.buffer import EventColumns
    from atlas_core.serve.metrics import ServeMetrics
    from atlas_core.store import Store

__all__ = ["EventError", "IngestPipeline", "IngestResult"]

log = logging.getLogger("atlas_core.serve")

_TABLES: dict[EventKindName, str] = {"interaction": "interactions", "feedback": "feedback"}
_WRITE_ATTEMPTS = 4
_SHUTTING_DOWN = "server is shutting down; retry against the restarted server"
_KNOWN_CACHE = 262_144  # recently committed interaction ids remembered per process


class _Part:
    """One kind of event of one request: its valid rows and what became of the others."""

    __slots__ = ("duplicates", "errors", "frame", "ids", "rows")

    def __init__(
        self, frame: pl.DataFrame, rows: list[int], ids: list[bytes], errors: list[EventError]
    ) -> None:
        self.frame = frame  # storage columns of the valid events
        self.rows = rows  # request index of each frame row
        self.ids = ids  # every event's id, in request order
        self.errors = errors
        self.duplicates = 0


class _Request:
    __slots__ = ("feedback", "future", "interactions", "nbytes", "nevents")

    def __init__(self, interactions: _Part, feedback: _Part) -> None:
        self.interactions = interactions
        self.feedback = feedback
        self.nevents = interactions.frame.height + feedback.frame.height
        self.nbytes = int(interactions.frame.estimated_size() + feedback.frame.estimated_size())
        self.future: Future[IngestResult] = Future()

    def result(self) -> IngestResult:
        rejected = sorted(
            self.interactions.errors + self.feedback.errors, key=lambda e: (e.kind, e.index)
        )
        return IngestResult(
            accepted=self.nevents,
            duplicates=self.interactions.duplicates + self.feedback.duplicates,
            rejected=tuple(rejected),
            interaction_ids=tuple(UUID(bytes=i) for i in self.interactions.ids),
            feedback_ids=tuple(UUID(bytes=i) for i in self.feedback.ids),
        )


class IngestPipeline:
    """See the module docstring. Thread-safe; one per server process.

    Typed event mappings use the field names of :class:`atlas_core.types.Interaction` and
    :class:`atlas_core.types.Feedback` (without ``tenant_id``, which comes from the caller):
    ``id`` (UUID or its text; minted when absent), ``created_at`` (datetime, RFC 3339 text
    or Unix nanoseconds; now when absent), ``input`` (a JSON array of messages, or a string
    taken as one user message), ``metadata`` (a JSON object).
    """

    def __init__(
        self, store: Store, config: ServeConfig, metrics: ServeMetrics | None = None
    ) -> None:
        self._store = store
        self._config = config
        self._metrics = metrics
        self._limiter = RateLimiter(config.rate_limit_events_per_s, config.rate_limit_burst)
        self._cond = threading.Condition()
        self._queue: deque[_Request] = deque()
        self._pending_events = 0
        self._pending_bytes = 0
        self._commit_rate = 50_000.0  # events/s committed, smoothed: sizes the retry hint
        self._closing = False
        self._healthy = True
        # Interaction ids committed lately, per tenant: most feedback is about a recent
        # interaction, so this spares a store lookup. Insertion-ordered for eviction.
        self._known: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._writer = threading.Thread(target=self._run, name="atlas-serve-writer", daemon=True)
        self._writer.start()

    # -- submitting --------------------------------------------------------------------
    def submit(
        self,
        tenant_id: str,
        *,
        rate_key: str,
        interactions: Sequence[Mapping[str, Any]] = (),
        feedback: Sequence[Mapping[str, Any]] = (),
    ) -> Future[IngestResult]:
        """Validates and enqueues; the future resolves once the events are committed.

        ``rate_key`` names the token bucket charged (the API key id, or the interaction
        of a browser feedback token). Raises at once (nothing taken): ``RateLimitedError``,
        ``OverloadedError``, ``LimitExceededError`` (more than ``max_batch_events``),
        ``ShuttingDownError``. Per-event problems are in the result's ``rejected``.
        """
        self._admit(rate_key, len(interactions) + len(feedback))
        request = _Request(
            self._validated("interaction", convert("interaction", tenant_id, interactions)),
            self._validated("feedback", convert("feedback", tenant_id, feedback)),
        )
        return self._enqueue(request)

    def submit_columns(
        self, tenant_id: str, *, rate_key: str, columns: EventColumns
    ) -> Future[IngestResult]:
        """Like :meth:`submit` for the SDK's columnar encoding (an ``EventColumns``, as the
        SDK's buffer drains it; see :mod:`atlas_core.sdk.events`). Every ``tenant_id``
        in the payloads is replaced by ``tenant_id``. ``rejected`` indexes are positions in
        the batch; ``interaction_ids``/``feedback_ids`` list the ids per kind in order.

        Raises InvalidArgumentError when the payloads are not the SDK's encoding at all.
        """
        n = len(columns)
        self._admit(rate_key, n)
        batch = decode(columns, keep_rows=True)
        interactions = self._validated("interaction", _columnar(batch.interactions, tenant_id))
        feedback = self._validated("feedback", _columnar(batch.feedback, tenant_id))
        if batch.invalid:  # events decode left out: not a kind or shape the SDK writes
            taken = set(interactions.rows) | set(feedback.rows)
            taken.update(e.index for e in interactions.errors + feedback.errors)
            for row in sorted(set(range(n)) - taken):
                kind: EventKindName = "feedback"
                part = feedback
                if int(columns.kind[row]) == EventKind.INTERACTION:
                    part, kind = interactions, "interaction"
                part.errors.append(
                    EventError(kind, row, "payload", "unknown event kind or missing fields")
                )
        return self._enqueue(_Request(interactions, feedback))

    def _admit(self, rate_key: str, n: int) -> None:
        if self._closing:
            raise ShuttingDownError(_SHUTTING_DOWN)
        limit = self._config.max_batch_events
        if n > limit:
            raise LimitExceededError(
                f"events: {n} events in one request; at most {limit} (serve.max_batch_events)"
            )
        try:
            self._limiter.acquire(rate_key, n)
        except OverloadedError:
            self._count("refused", n)
            raise

    def _validated(self, kind: EventKindName, converted: Converted) -> _Part:
        """Leaves out the rows that break a value rule, each reported with its field."""
        frame, rows, errors = converted.frame, converted.rows, converted.errors
        bad = bad_rows(_TABLES[kind], frame) if frame.height else []
        if bad:
            for row, field, reason in bad:
                errors.append(EventError(kind, rows[row], field, reason))
            drop = {row for row, _, _ in bad}
            frame = frame.filter(pl.Series([i not in drop for i in range(frame.height)]))
            rows = [r for i, r in enumerate(rows) if i not in drop]
        return _Part(frame, rows, converted.ids, errors)

    def _enqueue(self, request: _Request) -> Future[IngestResult]:
        rejected = len(request.interactions.errors) + len(request.feedback.errors)
        if request.nevents == 0:  # nothing valid: answer at once, nothing to commit
            self._count("rejected", rejected)
            request.future.set_result(request.result())
            return request.future
        with self._cond:
            if self._closing:
                raise ShuttingDownError(
                    "server is shutting down; retry against the restarted server"
                )
            events = self._pending_events + request.nevents
            nbytes = self._pending_bytes + request.nbytes
            if events > self._config.buffer_capacity or nbytes > self._config.buffer_max_bytes:
                self._count("refused", request.nevents + rejected)
                wait = min(5.0, max(0.05, self._pending_events / self._commit_rate))
                raise OverloadedError(
                    f"server overloaded: {self._pending_events} events waiting to be stored; "
                    f"retry in {wait:.2f}s",
                    retry_after_s=wait,
                )
            self._pending_events = events
            self._pending_bytes = nbytes
            self._queue.append(request)
            self._cond.notify()
        self._count("rejected", rejected)
        self._gauge()
        return request.future

    # -- state ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Whether new requests are taken, the writer runs and the store answered last."""
        return not self._closing and self._writer.is_alive() and self._healthy

    @property
    def pending_events(self) -> int:
        """Events accepted and not committed yet."""
        return self._pending_events

    def close(self, timeout: float | None = None) -> bool:
        """Refuses new requests, commits everything queued (up to ``timeout``), stops the
        writer. True when the queue was drained. Idempotent. Does not close the store."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join(timeout)
        drained = not self._writer.is_alive()
        if not drained:
            log.error("atlas serve: %d event(s) not committed at shutdown", self._pending_events)
        return drained

    # -- the writer ------------------------------------------------------------------------
    def _run(self) -> None:
        limit = self._config.commit_max_events
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return  # closing and drained
                group: list[_Request] = []
                events = 0
                while self._queue and (not group or events + self._queue[0].nevents <= limit):
                    request = self._queue.popleft()
                    group.append(request)
                    events += request.nevents
            try:
                self._commit(group)
            except Exception as err:  # a bug must not kill the writer and hang every client
                log.exception("atlas serve: commit of %d request(s) failed", len(group))
                for request in group:
                    if not request.future.done():
                        request.future.set_exception(err)
            finally:
                with self._cond:
                    self._pending_events -= events
                    self._pending_bytes -= sum(r.nbytes for r in group)
                self._gauge()

    def _commit(self, group: list[_Request]) -> None:
        started = time.perf_counter()
        self._drop_unknown_interactions(group)
        try:
            self._write_group(group)
        except BatchValidationError:
            # The store's rules refused a row the pipeline let through: write each request
            # on its own so that only the request holding the bad row fails.
            if len(group) == 1:
                raise
            for request in group:
                try:
                    self._write_group([request])
                except BatchValidationError as err:
                    request.future.set_exception(err)
        except StoreUnavailableError as err:
            for request in group:
                request.future.set_exception(err)
            return
        elapsed = time.perf_counter() - started
        committed = 0
        for request in group:
            if not request.future.done():
                committed += request.nevents
                result = request.result()
                self._count("accepted", result.accepted - result.duplicates)
                self._count("duplicate", result.duplicates)
                request.future.set_result(result)
        if self._metrics is not None:
            self._metrics.commit_seconds.observe(elapsed)
            self._metrics.commit_events.observe(committed)
        if committed and elapsed > 0:
            self._commit_rate = 0.8 * self._commit_rate + 0.2 * max(1000.0, committed / elapsed)

    def _write_group(self, group: list[_Request]) -> None:
        interactions = [request.interactions for request in group]
        feedback = [request.feedback for request in group]
        for table, parts, write in (
            ("interactions", interactions, self._store.write_interactions),
            ("feedback", feedback, self._store.write_feedback),
        ):
            self._count_duplicates(table, parts)
            frames = [part.frame for part in parts if part.frame.height]
            if not frames:
                continue
            frame = pl.concat(frames, how="vertical", rechunk=False)
            self._with_retries(lambda frame=frame, write=write: write(frame))
            if table == "interactions":
                self._remember(frame)

    def _with_retries(self, write: Any) -> None:
        delay = 0.05
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                write()
            except InvalidArgumentError:
                raise
            except Exception as err:
                self._healthy = False
                if self._metrics is not None:
                    self._metrics.store_errors.inc()
                if attempt == _WRITE_ATTEMPTS:
                    raise StoreUnavailableError(
                        f"store unavailable after {attempt} attempts: {err!r}"
                    ) from err
                log.warning("atlas serve: store write failed (%r); retry in %.2fs", err, delay)
                time.sleep(delay)
                delay *= 4
            else:
                self._healthy = True
                return

    def _count_duplicates(self, table: str, parts: list[_Part]) -> None:
        """Counts, per request, the events whose id is already stored (a client's retry),
        and drops repeats of one id within the group (a retry racing its original)."""
        by_tenant: dict[str, list[bytes]] = {}
        for part in parts:
            if part.frame.height:
                tenant = part.frame["tenant_id"][0]
                by_tenant.setdefault(tenant, []).extend(part.frame["id"].to_list())
        stored: set[bytes] = set()
        for tenant, ids in by_tenant.items():
            stored |= self._store.known_ids(tenant, table, ids)
        seen: set[bytes] = set()
        for part in parts:
            if not part.frame.height:
                continue
            ids = part.frame["id"].to_list()
            repeat = [i in stored or i in seen for i in ids]
            seen.update(ids)
            dup = sum(repeat)
            part.duplicates += dup
            if dup:
                part.frame = part.frame.filter(~pl.Series(repeat))

    def _drop_unknown_interactions(self, group: list[_Request]) -> None:
        """Feedback must be about an interaction of the same tenant: stored, or in this group."""
        pending: dict[str, set[bytes]] = {}
        for request in group:
            frame = request.interactions.frame
            if frame.height:
                pending.setdefault(frame["tenant_id"][0], set()).update(frame["id"].to_list())
        for request in group:
            part = request.feedback
            if not part.frame.height:
                continue
            tenant = part.frame["tenant_id"][0]
            targets = part.frame["interaction_id"].to_list()
            here = pending.get(tenant, set())
            lookup = {t for t in targets if t not in here and (tenant, t) not in self._known}
            found = self._store.known_ids(tenant, "interactions", list(lookup)) if lookup else set()
            missing = [t in lookup and t not in found for t in targets]
            if not any(missing):
                continue
            for i, bad in enumerate(missing):
                if bad:
                    part.errors.append(
                        EventError(
                            "feedback",
                            part.rows[i],
                            "interaction_id",
                            f"unknown interaction {UUID(bytes=targets[i])} for this tenant",
                        )
                    )
            keep = [i for i, bad in enumerate(missing) if not bad]
            part.frame = part.frame[keep]
            part.rows = [part.rows[i] for i in keep]
            request.nevents -= len(missing) - len(keep)
            self._count("rejected", len(missing) - len(keep))

    def _remember(self, interactions: pl.DataFrame) -> None:
        known = self._known
        for tenant, key in zip(
            interactions["tenant_id"].to_list(), interactions["id"].to_list(), strict=True
        ):
            known[(tenant, key)] = None
        overflow = len(known) - _KNOWN_CACHE
        for _ in range(max(0, overflow)):
            known.popitem(last=False)

    # -- metrics ---------------------------------------------------------------------------
    def _count(self, outcome: str, n: int) -> None:
        if self._metrics is not None and n:
            self._metrics.events.labels(outcome).inc(n)

    def _gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.pending.set(self._pending_events)


def _columnar(frame: pl.DataFrame, tenant_id: str) -> Converted:
    """A decoded SDK frame (with its ``row`` column) as a Converted of ``tenant_id``."""
    rows: list[int] = frame["row"].to_list()
    frame = frame.drop("row").with_columns(pl.lit(tenant_id, dtype=pl.String).alias("tenant_id"))
    return Converted(frame, rows, frame["id"].to_list(), [])
