"""User feedback to a score in [0, 1], columnar (polars), for millions of events at once.

The combination rule (a Beta–Bernoulli posterior mean):

Each event adds *positive* evidence ``p`` and *negative* evidence ``n`` (both >= 0):

- ``rating`` on [min, max]: ``u = (value - min) / (max - min)``; ``p = w_r·u``, ``n = w_r·(1 - u)``.
- ``signal`` named s with weight ``w_s`` (``weights``, else ``unknown_signal_weight``) and
  intensity ``i`` in [0, 1]: ``i = clip(value / saturation_s)`` for dwell signals (their value
  is seconds), else ``clip(value)`` (a missing value counts as 1); ``p = max(w_s, 0)·i``,
  ``n = max(-w_s, 0)·i``.
- ``edit`` / ``label``: ``u`` = the kept fraction of the response (:mod:`atlas_rim.similarity`)
  against the correction / gold answer; ``p = w·u``, ``n = w·(1 - u)``.
- ``comment`` and any other kind carry no numeric evidence (judges read comments).

With decay, both are multiplied by ``0.5 ** (age / half_life)``, age = ``now - created_at``
(never negative). Per interaction, with ``P = Σp``, ``N = Σn`` and prior ``π`` of strength ``α``::

    score = (P + π·α) / (P + N + α)            (π when P + N + α = 0)

It is bounded in [0, 1]; monotone (more positive evidence never lowers it, a higher rating
or kept fraction never lowers it); and independent of event order (sums). Its uncertainty is
the standard deviation of Beta(P + π·α, N + (1 - π)·α) (0.5 when both are 0). Components are
the net evidence ``Σ(p - n)`` per source: ``rating``, ``edit``, ``label``, ``signal.<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
import numpy.typing as npt
import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.types import to_ns, utcnow
from atlas_rim.config import SignalConfig
from atlas_rim.similarity import kept_fractions

__all__ = ["EVENT_COLUMNS", "SignalScores", "score_events"]

EVENT_COLUMNS = ("interaction_id", "kind", "name", "value", "scale_min", "scale_max", "created_at")
"""Columns ``score_events`` needs; ``text`` and ``response`` too when there are edits/labels."""

_SIMILARITY_KINDS = ("edit", "label")


class SignalScores:
    """The feedback score of each interaction that had events, and (on demand) its components."""

    def __init__(self, scores: pl.DataFrame, events: pl.DataFrame, labels: list[str]) -> None:
        self.scores = scores
        """interaction_id, score, uncertainty, evidence (P + N), positive (P), negative (N),
        events."""
        self._events = events
        self._labels = labels

    @cached_property
    def components(self) -> pl.DataFrame:
        """interaction_id, component, value (net evidence) of each source with evidence.

        Computed when first read: scoring needs only the per-interaction sums, explaining a
        reward needs the per-source ones.
        """
        return (
            self._events.lazy()
            .filter((pl.col("pos") + pl.col("neg")) > 0)
            .group_by("interaction_id", "source")
            .agg(value=(pl.col("pos") - pl.col("neg")).sum())
            .select(
                "interaction_id",
                component=pl.col("source").replace_strict(
                    list(range(len(self._labels))), self._labels, return_dtype=pl.String
                ),
                value="value",
            )
            .collect()
        )


def score_events(
    events: pl.DataFrame, config: SignalConfig, now: datetime | int | None = None
) -> SignalScores:
    """Scores every interaction in ``events`` by the rule in the module docstring.

    ``created_at`` is a polars Datetime or Int64 Unix nanoseconds; ``now`` (datetime or ns,
    default the current time) is only read when decay is configured.
    """
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise InvalidArgumentError(f"events: missing column(s) {missing}")
    sources = _Sources.of(events)
    pos, neg = _evidence(events, sources, config, now)
    # Sources are integer codes (hashing integers beats hashing kind and name strings per
    # event); their names are attached to the few grouped rows of ``components``.
    evidence = pl.DataFrame(
        {"interaction_id": events["interaction_id"], "source": sources.codes, "pos": pos,
         "neg": neg}
    )  # fmt: skip
    alpha, prior = config.prior_strength, config.prior
    a = pl.col("positive") + prior * alpha
    b = pl.col("negative") + (1.0 - prior) * alpha
    scores = (
        evidence.lazy()
        .group_by("interaction_id")
        .agg(positive=pl.col("pos").sum(), negative=pl.col("neg").sum(), events=pl.len())
        .with_columns(
            score=pl.when(a + b > 0).then(a / (a + b)).otherwise(prior),
            uncertainty=pl.when(a + b > 0)
            .then(((a / (a + b)) * (b / (a + b)) / (a + b + 1)).sqrt())  # no underflow in (a+b)^2
            .otherwise(0.5),
            evidence=pl.col("positive") + pl.col("negative"),
        )
        .select(
            "interaction_id", "score", "uncertainty", "evidence", "positive", "negative", "events"
        )
        .collect()
    )
    return SignalScores(scores, evidence, sources.labels)


_KINDS = ("rating", "edit", "label", "comment", "other")


@dataclass(frozen=True)
class _Sources:
    """Each event's source as an integer code, and the component name of every code.

    Codes 0..4 are the kinds in ``_KINDS`` (all ratings are one component); signals get
    ``5 + i`` for the i-th distinct signal name.
    """

    kind: npt.NDArray[np.int8]
    """Index into _KINDS, or -1 for a signal."""
    names: list[str]
    """Distinct signal names (nulls as "")."""
    name_code: npt.NDArray[np.int64]
    codes: npt.NDArray[np.int64]
    labels: list[str]

    @classmethod
    def of(cls, events: pl.DataFrame) -> _Sources:
        kinds = events["kind"]
        kind = np.full(events.height, _KINDS.index("other"), dtype=np.int8)
        for i, name in enumerate(_KINDS[:-1]):
            kind[(kinds == name).fill_null(False).to_numpy()] = i
        is_signal = (kinds == "signal").fill_null(False).to_numpy()
        kind[is_signal] = -1
        raw = events["name"].fill_null("")
        names = sorted(raw.unique().to_list())
        name_code = raw.cast(pl.Enum(names)).to_physical().to_numpy().astype(np.int64)
        codes = np.where(is_signal, len(_KINDS) + name_code, kind.astype(np.int64))
        return cls(kind, names, name_code, codes, [*_KINDS, *(f"signal.{n}" for n in names)])


def _similarity(events: pl.DataFrame) -> npt.NDArray[np.float64]:
    """The kept fraction for edit/label rows (0 elsewhere): only those rows are compared."""
    sim = np.zeros(events.height, dtype=np.float64)
    mask = events["kind"].is_in(_SIMILARITY_KINDS).fill_null(False).to_numpy()
    if mask.any():
        for column in ("text", "response"):
            if column not in events.columns:
                raise InvalidArgumentError(f"events: edit/label rows need a {column!r} column")
        rows = events.filter(pl.Series(mask))
        sim[mask] = kept_fractions(
            rows["response"].fill_null("").to_list(), rows["text"].fill_null("").to_list()
        )
    return sim


def _evidence(
    events: pl.DataFrame,
    sources: _Sources,
    config: SignalConfig,
    now: datetime | int | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-event positive and negative evidence (decayed), as NumPy columns."""
    raw_value = events["value"].cast(pl.Float64).to_numpy()
    value = np.nan_to_num(raw_value, nan=1.0)  # a signal without a value happened once
    w_by_name = np.array(
        [config.weights.get(n, config.unknown_signal_weight) for n in sources.names] or [0.0]
    )
    sat_by_name = np.array([config.dwell_saturation_s.get(n, 1.0) for n in sources.names] or [1.0])
    signal_w = w_by_name[sources.name_code]
    intensity = np.clip(value / sat_by_name[sources.name_code], 0.0, 1.0)
    low = events["scale_min"].cast(pl.Float64).to_numpy()
    high = events["scale_max"].cast(pl.Float64).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rated = np.clip((raw_value - low) / (high - low), 0.0, 1.0)
    sim = _similarity(events)
    kind = sources.kind
    # (weight, kept fraction u) of the kinds scored as p = w·u, n = w·(1 - u).
    weight = np.select(
        [kind == 0, kind == 1, kind == 2],
        [config.rating_weight, config.edit_weight, config.label_weight],
        0.0,
    )
    u = np.where(kind == 0, rated, sim)
    pos = np.where(kind == -1, np.maximum(signal_w, 0.0) * intensity, weight * u)
    neg = np.where(kind == -1, np.maximum(-signal_w, 0.0) * intensity, weight * (1.0 - u))
    pos, neg = np.nan_to_num(pos), np.nan_to_num(neg)  # a malformed rating adds nothing
    if config.decay_half_life_s is not None:
        factor = _decay(events["created_at"], config.decay_half_life_s, now)
        pos, neg = pos * factor, neg * factor
    return pos, neg


def _decay(
    created_at: pl.Series, half_life_s: float, now: datetime | int | None
) -> npt.NDArray[np.float64]:
    """0.5 ** (age / half_life) per event; events from the future count fully."""
    if isinstance(created_at.dtype, pl.Datetime):
        created_at = created_at.dt.epoch("ns")
    now_ns = to_ns(utcnow()) if now is None else (now if isinstance(now, int) else to_ns(now))
    age_s = np.maximum(now_ns - created_at.cast(pl.Int64).to_numpy(), 0) / 1e9
    return np.asarray(np.exp2(-age_s / half_life_s), dtype=np.float64)
