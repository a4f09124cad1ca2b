"""The ingest pipeline shared by both transports: validate → bounded queue → group commit.

A transport authenticates the request (API key or feedback token), checks the scope, and
hands the events to :meth:`IngestPipeline.submit` (typed events as JSON-like mappings) or
:meth:`IngestPipeline.submit_columns` (the SDK's columnar encoding). The pipeline:

1. charges the caller's token bucket (``RateLimitedError`` when over its rate);
2. checks types per event (:mod:`atlas_core.serve.records`; a column batch only for its
   shape), setting ``tenant_id`` from the caller, never from the payload;
3. enqueues the request in a queue bounded by event count and bytes (``OverloadedError``
   with a retry hint when full: nothing of that request is taken);
4. two threads work on groups of queued requests (up to ``commit_max_events`` events):
   one prepares a group, once for all its requests (:mod:`atlas_core.serve.commit_batch`):
   decodes, drops feedback about interactions the tenant does not have and repeated ids,
   and has the store validate and convert it (``Store.prepare_events``); the other
   writes the previous group, interactions and feedback in one store transaction
   (``Store.write_events``), and then resolves every request's future. The native
   decoder applies the value rules to SDK column batches as it decodes them (an event
   breaking one is reported and left out) and hands the store frames it need not check
   again; the store checks typed events. When it refuses one, the rows at fault are found with
   the same rule set (:func:`atlas_core.validation.bad_rows`), reported per event
   (kind, index, field, reason) and left out, and the valid rest of the same requests
   is written.

**A request is acknowledged only after the commit that holds its events.** Ids are client
ids, so a client's retry of an acknowledged or half-written request is stored once (and
counted in ``duplicates``).

A store failure is retried a few times with back-off; if it persists, the requests of
that group fail with ``StoreUnavailableError`` (UNAVAILABLE / 503: the client retries with
the same ids) and ``ready`` turns false until a write succeeds. ``close`` stops taking
requests (``ShuttingDownError``) and drains the queue.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import numpy as np

from atlas_core.errors import InvalidArgumentError
from atlas_core.serve.commit_batch import (
    TABLES,
    PendingRequest,
    Tagged,
    check_payload_shape,
    commit_frames,
)
from atlas_core.serve.errors import (
    LimitExceededError,
    OverloadedError,
    ShuttingDownError,
    StoreUnavailableError,
)
from atlas_core.serve.ratelimit import RateLimiter
from atlas_core.serve.recent_ids import RecentIds
from atlas_core.serve.records import convert
from atlas_core.serve.results import EventError, EventKindName, IngestResult
from atlas_core.store import BatchValidationError, PreparedEvents
from atlas_core.validation import bad_rows

if TYPE_CHECKING:
    from atlas_core.config import ServeConfig
    from atlas_core.kernels.buffer import EventColumns
    from atlas_core.serve.metrics import ServeMetrics
    from atlas_core.store import Store

__all__ = ["EventError", "IngestPipeline", "IngestResult"]

log = logging.getLogger("atlas_core.serve")

_WRITE_ATTEMPTS = 4
_SHUTTING_DOWN = "server is shutting down; retry against the restarted server"
_KNOWN_CACHE = 262_144  # recently committed interaction ids remembered per process
_BYTES_PER_EVENT = 256  # rough overhead of an event beyond its text, for the byte bound
_T = TypeVar("_T")
_LINGER_BELOW_EVENTS = 64  # a group this small waits commit_linger_ms for company


class _Request(PendingRequest):
    """A pending request with the future its transport waits on."""

    def __init__(self, tenant_id: str, **fields: Any) -> None:
        super().__init__(tenant_id, **fields)
        self.future: Future[IngestResult] = Future()
        self.reserved_events = self.nevents  # what it holds of the queue's bound
        self.typed_errors = list(self.errors)  # the conversion's verdicts, kept for a redo

    def result(self) -> IngestResult:
        typed = self.typed or {}
        ids = {kind: typed[kind].ids if kind in typed else [] for kind in TABLES}
        return IngestResult(
            accepted=self.accepted,
            duplicates=self.duplicates,
            rejected=tuple(sorted(self.errors, key=lambda e: (e.kind, e.index))),
            interaction_ids=tuple(UUID(bytes=i) for i in ids["interaction"]),
            feedback_ids=tuple(UUID(bytes=i) for i in ids["feedback"]),
        )


_EMPTY = Tagged.empty()


class _Prepared:
    """A group ready to write: its valid, referenced, de-duplicated frames."""

    __slots__ = ("error", "events", "feedback", "group", "interactions")

    def __init__(
        self,
        group: list[_Request],
        interactions: Tagged,
        feedback: Tagged,
        events: PreparedEvents | None = None,
        error: BaseException | None = None,
    ) -> None:
        self.group = group
        self.interactions = interactions
        self.feedback = feedback
        self.events = events  # what the store writes: the rows above, converted
        self.error = error


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
        # Interaction ids committed lately: most feedback is about a recent interaction,
        # so this spares a store lookup.
        self._recent = RecentIds(_KNOWN_CACHE)
        # Two stages, so that preparing one group overlaps writing the one before (the
        # store): both release the GIL for their heavy part. The preparer takes its next
        # group only once the writer has taken the last one (see _prepare_loop).
        self._prepared: queue.Queue[_Prepared | None] = queue.Queue(maxsize=1)
        self._preparer = threading.Thread(
            target=self._prepare_loop, name="atlas-serve-prepare", daemon=True
        )
        self._writer = threading.Thread(
            target=self._write_loop, name="atlas-serve-writer", daemon=True
        )
        self._preparer.start()
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
        typed: dict[EventKindName, Any] = {
            "interaction": convert("interaction", tenant_id, interactions),
            "feedback": convert("feedback", tenant_id, feedback),
        }
        nevents = sum(len(c.rows) for c in typed.values())
        text = sum(
            len(v)
            for c in typed.values()
            for name in ("input", "output", "text", "metadata")
            for v in c.columns.get(name, ())
            if v
        )
        request = _Request(
            tenant_id,
            typed=typed,
            columns=None,
            nevents=nevents,
            nbytes=text + _BYTES_PER_EVENT * nevents,
            errors=[e for c in typed.values() for e in c.errors],
        )
        return self._enqueue(request)

    def submit_columns(
        self, tenant_id: str, *, rate_key: str, columns: EventColumns
    ) -> Future[IngestResult]:
        """Like :meth:`submit` for the SDK's columnar encoding (an ``EventColumns``, as the
        SDK's buffer drains it; see :mod:`atlas_core.sdk.events`). Every ``tenant_id``
        in the payloads is replaced by ``tenant_id``. ``rejected`` indexes are positions in
        the batch. ``interaction_ids``/``feedback_ids`` are empty: the client minted every
        id (they are the batch's ``event_id`` column).

        Raises InvalidArgumentError (nothing taken) when the batch is malformed: columns of
        different lengths, or a payload that is not one line; the future fails with it
        when a payload is not the SDK's JSON.
        """
        n = len(columns)
        self._admit(rate_key, n)
        check_payload_shape(columns)
        request = _Request(
            tenant_id,
            typed=None,
            columns=columns,
            nevents=n,
            nbytes=int(columns.payload_data.nbytes) + _BYTES_PER_EVENT * n,
        )
        return self._enqueue(request)

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

    def _enqueue(self, request: _Request) -> Future[IngestResult]:
        if request.nevents == 0:  # nothing valid: answer at once, nothing to commit
            self._count("rejected", len(request.errors))
            request.future.set_result(request.result())
            return request.future
        with self._cond:
            if self._closing:
                raise ShuttingDownError(_SHUTTING_DOWN)
            events = self._pending_events + request.nevents
            nbytes = self._pending_bytes + request.nbytes
            if events > self._config.buffer_capacity or nbytes > self._config.buffer_max_bytes:
                self._count("refused", request.nevents + len(request.errors))
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
        self._gauge()
        return request.future

    # -- state ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Whether new requests are taken, the writer runs and the store answered last."""
        alive = self._writer.is_alive() and self._preparer.is_alive()
        return not self._closing and alive and self._healthy

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
        deadline = None if timeout is None else time.monotonic() + timeout
        self._preparer.join(timeout)
        self._writer.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        drained = not self._writer.is_alive()
        if not drained:
            log.error("atlas serve: %d event(s) not committed at shutdown", self._pending_events)
        return drained

    # -- the writer ------------------------------------------------------------------------
    def _prepare_loop(self) -> None:
        """Stage 1: takes queued requests as a group and prepares their frames."""
        limit = self._config.commit_max_events
        linger_s = self._config.commit_linger_ms / 1000
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                # A commit's fixed cost (frames, value rules, conversion, transaction) is
                # paid per group: a short sleep (no wake-up per arriving request) lets a
                # stream of single-event requests share it.
                linger = (
                    linger_s > 0
                    and self._pending_events < _LINGER_BELOW_EVENTS
                    and not self._closing
                )
            if linger:
                time.sleep(linger_s)
            with self._cond:
                drained = not self._queue
                group: list[_Request] = []
                events = 0
                while self._queue and (not group or events + self._queue[0].nevents <= limit):
                    request = self._queue.popleft()
                    group.append(request)
                    events += request.nevents
            if drained:  # closing and nothing left: the writer may stop (put outside the lock:
                self._prepared.put(None)  # the writer takes the lock to settle its counts)
                return
            try:
                prepared = self._prepare(group)
            except BatchValidationError as err:  # the writer commits request by request
                prepared = _Prepared(group, _EMPTY, _EMPTY, error=err)
            except Exception as err:  # a bug must not kill the stage and hang every client
                log.exception("atlas serve: preparing %d request(s) failed", len(group))
                prepared = _Prepared(group, _EMPTY, _EMPTY, error=err)
            self._prepared.put(prepared)
            # Wait until the writer has taken it, so that the next group holds everything
            # that arrives while this one is written: one commit per write cycle, as
            # large as the load makes it. A commit has a few ms of fixed work (the frames,
            # the conversion, the transaction), so under load fewer, larger groups spend
            # far less CPU per event; when idle, the writer takes it at once.
            self._prepared.join()

    def _write_loop(self) -> None:
        """Stage 2: writes prepared groups in order and answers their requests."""
        while True:
            prepared = self._prepared.get()
            self._prepared.task_done()  # taken: the preparer may gather the next group
            if prepared is None:
                return
            try:
                self._commit(prepared)
            except Exception as err:  # a bug must not kill the writer and hang every client
                log.exception("atlas serve: commit of %d request(s) failed", len(prepared.group))
                for request in prepared.group:
                    if not request.future.done():
                        request.future.set_exception(err)
            finally:
                with self._cond:
                    self._pending_events -= sum(r.reserved_events for r in prepared.group)
                    self._pending_bytes -= sum(r.nbytes for r in prepared.group)
                self._gauge()

    def _prepare(self, group: list[_Request]) -> _Prepared:
        """Frames, value rules, references, repeats and the store's conversion for a whole
        group, before writing (this runs while the previous group is written)."""
        # The value rules: the decoder applied them to column batches; typed events are
        # checked by the store's prepare_events (all or nothing): in the usual all-valid
        # group that is the only pass, and when it refuses, the rows at fault are found,
        # reported and left out, and the rest is prepared again.
        errors_before = sum(len(r.errors) for r in group)
        frames = commit_frames(group)
        # Events the decoder left out (malformed, or breaking a value rule).
        self._count("rejected", sum(len(r.errors) for r in group) - errors_before)
        interactions, feedback = frames["interaction"], frames["feedback"]
        feedback = self._about_known_interactions(group, interactions, feedback)
        interactions = self._without_repeats(group, interactions)
        feedback = self._without_repeats(group, feedback)
        try:
            events = self._store.prepare_events(interactions.batch, feedback.batch)
        except BatchValidationError:
            valid = self._valid(group, "interaction", interactions)
            feedback = self._without_refused(group, interactions, valid, feedback)
            interactions = valid
            feedback = self._valid(group, "feedback", feedback)
            # A second refusal (a rule bad_rows missed) goes to the per-request fallback.
            events = self._store.prepare_events(interactions.batch, feedback.batch)
        # Remembered before the write, so that the next group (prepared while this one is
        # written) accepts feedback about them; forgotten again if the write fails.
        self._remember(group, interactions)
        return _Prepared(group, interactions, feedback, events)

    def _commit(self, prepared: _Prepared) -> None:
        group = prepared.group
        started = time.perf_counter()
        try:
            if prepared.error is not None:
                raise prepared.error
            self._write(prepared)
        except BatchValidationError:
            # The store refused a row the rules let through: commit each request on its
            # own so that only the request holding it fails.
            self._forget(group, prepared.interactions)
            for request in group:
                request.errors = list(request.typed_errors)
                request.accepted = request.duplicates = 0
                try:
                    self._write(self._prepare([request]))
                except BatchValidationError as err:
                    request.failure = err
        except StoreUnavailableError as err:
            self._forget(group, prepared.interactions)
            for request in group:
                request.future.set_exception(err)
            return
        elapsed = time.perf_counter() - started
        committed = 0
        for request in group:
            if request.failure is not None:
                request.future.set_exception(request.failure)
                continue
            committed += request.accepted
            self._count("accepted", request.accepted - request.duplicates)
            self._count("duplicate", request.duplicates)
            request.future.set_result(request.result())
        if self._metrics is not None:
            self._metrics.commit_seconds.observe(elapsed)
            self._metrics.commit_events.observe(committed)
        if committed and elapsed > 0:
            self._commit_rate = 0.8 * self._commit_rate + 0.2 * max(1000.0, committed / elapsed)

    def _write(self, prepared: _Prepared) -> None:
        """One store transaction for the group's interactions and feedback."""
        group = prepared.group
        events = prepared.events
        if events is None or not events.parts:
            return
        written = self._with_retries(functools.partial(self._store.write_events, events))
        for tagged, result, kind in zip(
            (prepared.interactions, prepared.feedback),
            written,
            ("interaction", "feedback"),
            strict=True,
        ):
            if not tagged.height:
                continue
            if self._metrics is not None:  # monitoring: committed events by kind
                self._metrics.count_ingested(kind, tagged.frame)
            for i, n in enumerate(np.bincount(tagged.req, minlength=len(group))):
                group[i].accepted += int(n)
            self._attribute_skipped(group, tagged.req, result.skipped)

    def _without_refused(
        self, group: list[_Request], before: Tagged, after: Tagged, feedback: Tagged
    ) -> Tagged:
        """Feedback of this group about interactions the rules refused (in ``before``, not
        in ``after``) is refused as about an unknown interaction."""
        if before.height == after.height or not feedback.height:
            return feedback
        dropped = set(before.frame["id"].to_list()) - set(after.frame["id"].to_list())
        targets = feedback.frame["interaction_id"].to_list()
        orphan = np.array([t in dropped for t in targets], dtype=bool)
        for j in np.flatnonzero(orphan):
            reason = f"unknown interaction {UUID(bytes=targets[j])}: it was refused"
            error = EventError("feedback", int(feedback.row[j]), "interaction_id", reason)
            group[feedback.req[j]].errors.append(error)
        self._count("rejected", int(orphan.sum()))
        return feedback.keep(~orphan)

    def _valid(self, group: list[_Request], kind: EventKindName, tagged: Tagged) -> Tagged:
        """The rows that keep every value rule; the others reported on their request."""
        if not tagged.height:
            return tagged
        bad = bad_rows(TABLES[kind], tagged.frame)
        if not bad:
            return tagged
        keep = np.ones(tagged.height, dtype=bool)
        for i, field, reason in bad:
            group[tagged.req[i]].errors.append(EventError(kind, int(tagged.row[i]), field, reason))
            keep[i] = False
        self._count("rejected", len(bad))
        return tagged.keep(keep)

    def _about_known_interactions(
        self, group: list[_Request], interactions: Tagged, feedback: Tagged
    ) -> Tagged:
        """Feedback must be about an interaction of its own tenant: one in this commit, one
        committed lately (remembered), or one the store has."""
        if not feedback.height:
            return feedback
        targets = feedback.frame["interaction_id"].to_list()
        rows_of = _rows_by_tenant(group, feedback)
        here_of = _ids_by_tenant(group, interactions)
        unknown_of: dict[str, set[bytes]] = {}
        for tenant, rows in rows_of.items():
            wanted = set(targets) if rows is None else {targets[j] for j in rows}
            unsure = self._recent.unknown(tenant, wanted - here_of.get(tenant, set()))
            if unsure:
                unsure -= set(self._store.known_interactions(tenant, list(unsure)))
            if unsure:
                unknown_of[tenant] = unsure
        if not unknown_of:
            return feedback
        missing = np.zeros(feedback.height, dtype=bool)
        for tenant, unknown in unknown_of.items():
            rows = rows_of[tenant]
            for j in range(feedback.height) if rows is None else rows:
                missing[j] = targets[j] in unknown
        for j in np.flatnonzero(missing).tolist():
            reason = f"unknown interaction {UUID(bytes=targets[j])} for this tenant"
            error = EventError("feedback", int(feedback.row[j]), "interaction_id", reason)
            group[feedback.req[j]].errors.append(error)
        self._count("rejected", int(missing.sum()))
        return feedback.keep(~missing)

    @staticmethod
    def _without_repeats(group: list[_Request], tagged: Tagged) -> Tagged:
        """Drops repeats of one id within the commit (a client's retry racing its original,
        or one id twice in a request): the first is written, the others are duplicates."""
        if not tagged.height:
            return tagged
        # Set operations on the id bytes: a polars pass costs ~0.3 ms per call however
        # few the rows, and repeats are rare.
        ids = tagged.frame["id"].to_list()
        if len(set(ids)) == len(ids):
            return tagged
        seen: set[bytes] = set()
        first = np.ones(len(ids), dtype=bool)
        for j, i in enumerate(ids):
            if i in seen:
                first[j] = False
            seen.add(i)
        for req in tagged.req[~first]:
            group[req].accepted += 1
            group[req].duplicates += 1
        return tagged.keep(first)

    @staticmethod
    def _attribute_skipped(
        group: list[_Request], reqs: np.ndarray[Any, np.dtype[np.int64]], skipped: int
    ) -> None:
        """Spreads the store's count of already-stored ids over the commit's requests.

        Exact when one request's events of this table were in the commit (the usual case
        for a retry) or when nothing was skipped; otherwise the count is given to the
        requests in order, up to each one's size. Finding out exactly which ids were
        already stored would cost a store lookup per commit (~5 ms per 1,000 ids), paid on
        every commit for a figure that is informational: storage is exactly-once anyway.
        """
        if skipped <= 0:
            return
        for i, n in enumerate(np.bincount(reqs, minlength=len(group))):
            share = min(skipped, int(n))
            group[i].duplicates += share
            skipped -= share
            if skipped <= 0:
                return

    def _with_retries(self, write: Callable[[], _T]) -> _T:
        delay = 0.05
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                result = write()
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
                return result
        raise AssertionError("unreachable")  # the loop returns or raises

    def _remember(self, group: list[_Request], interactions: Tagged) -> None:
        for tenant, ids in _ids_by_tenant(group, interactions).items():
            self._recent.add(tenant, ids)

    def _forget(self, group: list[_Request], interactions: Tagged) -> None:
        for tenant, ids in _ids_by_tenant(group, interactions).items():
            self._recent.discard(tenant, ids)

    # -- metrics ---------------------------------------------------------------------------
    def _count(self, outcome: str, n: int) -> None:
        if self._metrics is not None and n:
            self._metrics.events.labels(outcome).inc(n)

    def _gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.pending.set(self._pending_events)


def _rows_by_tenant(group: list[_Request], tagged: Tagged) -> dict[str, list[int] | None]:
    """Each tenant's row positions in ``tagged`` (``None``: every row, one tenant)."""
    tenants = {r.tenant_id for r in group}
    if len(tenants) == 1:
        return {tenants.pop(): None}
    rows: dict[str, list[int]] = {}
    for j, req in enumerate(tagged.req.tolist()):
        rows.setdefault(group[req].tenant_id, []).append(j)
    return dict(rows)


def _ids_by_tenant(group: list[_Request], tagged: Tagged) -> dict[str, set[bytes]]:
    """The ``id`` column of ``tagged`` as a set per tenant."""
    if not tagged.height:
        return {}
    ids = tagged.frame["id"].to_list()
    return {
        tenant: set(ids) if rows is None else {ids[j] for j in rows}
        for tenant, rows in _rows_by_tenant(group, tagged).items()
    }
