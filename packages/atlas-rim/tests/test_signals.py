"""Signal scoring: the columnar path equals a per-event reference, and the rule's properties."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_core.errors import InvalidArgumentError
from atlas_rim.config import SignalConfig
from atlas_rim.signals import score_events
from atlas_rim.similarity import kept_fraction, kept_fractions

NOW = 10_000 * 10**9  # ns
NAMES = ["copy", "share", "engage", "retry", "dismiss", "mystery"]


# -- the reference: one event at a time, as the module docstring states the rule ------------
def lcs(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def ref_similarity(a: str, b: str) -> float:
    return 1.0 if not a and not b else 2 * lcs(a, b) / (len(a) + len(b))


def ref_evidence(e: dict[str, Any], cfg: SignalConfig) -> tuple[str | None, float, float]:
    kind = e["kind"]
    if kind == "rating":
        u = min(max((e["value"] - e["scale_min"]) / (e["scale_max"] - e["scale_min"]), 0), 1)
        p, n, comp = cfg.rating_weight * u, cfg.rating_weight * (1 - u), "rating"
    elif kind == "signal":
        w = cfg.weights.get(e["name"], cfg.unknown_signal_weight)
        v = 1.0 if e["value"] is None else e["value"]
        sat = cfg.dwell_saturation_s.get(e["name"])
        i = min(max(v / sat if sat else v, 0.0), 1.0)
        p, n, comp = max(w, 0) * i, max(-w, 0) * i, f"signal.{e['name']}"
    elif kind in ("edit", "label"):
        w = cfg.edit_weight if kind == "edit" else cfg.label_weight
        u = ref_similarity(e["response"], e["text"])
        p, n, comp = w * u, w * (1 - u), kind
    else:
        return None, 0.0, 0.0
    if cfg.decay_half_life_s is not None:
        d = 0.5 ** (max(NOW - e["created_at"], 0) / 1e9 / cfg.decay_half_life_s)
        p, n = p * d, n * d
    return comp, p, n


def reference(events: list[dict[str, Any]], cfg: SignalConfig) -> dict[Any, dict[str, Any]]:
    acc: dict[Any, dict[str, Any]] = defaultdict(lambda: {"P": 0.0, "N": 0.0, "comp": {}})
    for e in events:
        comp, p, n = ref_evidence(e, cfg)
        slot = acc[e["interaction_id"]]
        slot["P"] += p
        slot["N"] += n
        if comp is not None and p + n > 0:
            slot["comp"][comp] = slot["comp"].get(comp, 0.0) + p - n
    out = {}
    for key, slot in acc.items():
        a = slot["P"] + cfg.prior * cfg.prior_strength
        b = slot["N"] + (1 - cfg.prior) * cfg.prior_strength
        score = a / (a + b) if a + b > 0 else cfg.prior
        out[key] = {"score": score, "evidence": slot["P"] + slot["N"], "comp": slot["comp"]}
    return out


# -- strategies ------------------------------------------------------------------------------
def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "interaction_id": 0,
        "kind": "signal",
        "name": None,
        "value": None,
        "scale_min": None,
        "scale_max": None,
        "text": None,
        "response": "the answer",
        "created_at": NOW,
    }
    base.update(fields)
    return base


short_text = st.text(alphabet="abc ", max_size=12)
events_strategy = st.lists(
    st.one_of(
        st.builds(
            lambda i, v, t: event(
                interaction_id=i, kind="rating", value=v, scale_min=1.0, scale_max=5.0,
                created_at=t,
            ),
            st.integers(0, 3), st.floats(1, 5), st.integers(0, NOW),
        ),
        st.builds(
            lambda i, n, v, t: event(interaction_id=i, name=n, value=v, created_at=t),
            st.integers(0, 3), st.sampled_from(NAMES),
            st.one_of(st.none(), st.floats(0, 60)), st.integers(0, 2 * NOW),
        ),
        st.builds(
            lambda i, k, r, t: event(interaction_id=i, kind=k, response=r, text=t),
            st.integers(0, 3), st.sampled_from(["edit", "label"]), short_text, short_text,
        ),
        st.builds(lambda i: event(interaction_id=i, kind="comment", text="meh"), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=30,
)  # fmt: skip
configs = st.builds(
    SignalConfig,
    prior=st.floats(0, 1),
    prior_strength=st.floats(0, 3),
    decay_half_life_s=st.one_of(st.none(), st.floats(1, 10_000)),
    rating_weight=st.floats(0, 2),
    edit_weight=st.floats(0, 2),
    label_weight=st.floats(0, 2),
    unknown_signal_weight=st.floats(-1, 1),
)


def frame(events: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        events,
        schema={
            "interaction_id": pl.Int64, "kind": pl.String, "name": pl.String,
            "value": pl.Float64, "scale_min": pl.Float64, "scale_max": pl.Float64,
            "text": pl.String, "response": pl.String, "created_at": pl.Int64,
        },
    )  # fmt: skip


def columnar(events: list[dict[str, Any]], cfg: SignalConfig) -> dict[Any, dict[str, Any]]:
    result = score_events(frame(events), cfg, now=NOW)
    out: dict[Any, dict[str, Any]] = {
        r["interaction_id"]: {"score": r["score"], "evidence": r["evidence"], "comp": {}}
        for r in result.scores.iter_rows(named=True)
    }
    for r in result.components.iter_rows(named=True):
        out[r["interaction_id"]]["comp"][r["component"]] = r["value"]
    return out


# -- the columnar path equals the reference ---------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(events_strategy, configs)
def test_columnar_matches_the_per_event_reference(
    events: list[dict[str, Any]], cfg: SignalConfig
) -> None:
    got, want = columnar(events, cfg), reference(events, cfg)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key]["score"] == pytest.approx(want[key]["score"], abs=1e-9)
        assert got[key]["evidence"] == pytest.approx(want[key]["evidence"], abs=1e-9)
        assert got[key]["comp"].keys() == want[key]["comp"].keys()
        for comp, value in want[key]["comp"].items():
            assert got[key]["comp"][comp] == pytest.approx(value, abs=1e-9)


# -- properties ------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(events_strategy, configs)
def test_bounded_and_uncertainty_sane(events: list[dict[str, Any]], cfg: SignalConfig) -> None:
    scores = score_events(frame(events), cfg, now=NOW).scores
    assert ((scores["score"] >= 0) & (scores["score"] <= 1)).all()
    assert ((scores["uncertainty"] >= 0) & (scores["uncertainty"] <= 0.5)).all()


@settings(max_examples=100, deadline=None)
@given(events_strategy, configs, st.randoms(use_true_random=False))
def test_order_independent(events: list[dict[str, Any]], cfg: SignalConfig, rnd: Any) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    a, b = columnar(events, cfg), columnar(shuffled, cfg)
    for key in a:
        assert a[key]["score"] == pytest.approx(b[key]["score"], abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(events_strategy, configs, st.sampled_from(["copy", "share", "engage"]), st.floats(0, 60))
def test_monotone_in_each_positive_signal(
    events: list[dict[str, Any]], cfg: SignalConfig, name: str, value: float
) -> None:
    before = columnar(events, cfg)
    after = columnar([*events, event(interaction_id=0, name=name, value=value)], cfg)
    old = before.get(0, {"score": None})["score"]
    if old is not None:
        assert after[0]["score"] >= old - 1e-12


@settings(max_examples=100, deadline=None)
@given(events_strategy, configs, st.floats(1, 5), st.floats(1, 5))
def test_monotone_in_rating_value(
    events: list[dict[str, Any]], cfg: SignalConfig, x: float, y: float
) -> None:
    low, high = sorted((x, y))
    rate = lambda v: event(interaction_id=0, kind="rating", value=v, scale_min=1.0, scale_max=5.0)  # noqa: E731
    assert columnar([*events, rate(high)], cfg)[0]["score"] >= (
        columnar([*events, rate(low)], cfg)[0]["score"] - 1e-12
    )


@settings(max_examples=60, deadline=None)
@given(short_text, short_text, short_text)
def test_monotone_in_kept_fraction(response: str, x: str, y: str) -> None:
    cfg = SignalConfig()
    sims = {t: ref_similarity(response, t) for t in (x, y)}
    better, worse = sorted((x, y), key=lambda t: sims[t], reverse=True)
    edit = lambda t: event(kind="edit", response=response, text=t)  # noqa: E731
    assert columnar([edit(better)], cfg)[0]["score"] >= columnar([edit(worse)], cfg)[0]["score"]


# -- the rule on hand-computed cases ----------------------------------------------------------
def test_defaults_on_known_events() -> None:
    cfg = SignalConfig()
    events = [
        event(name="copy"),  # +0.8
        event(name="retry"),  # -0.3
        event(kind="rating", value=4.0, scale_min=1.0, scale_max=5.0),  # u = 0.75
        event(name="engage", value=15.0),  # dwell 15 s of 30: +0.6 * 0.5
    ]
    got = columnar(events, cfg)[0]
    p, n = 0.8 + 0.75 + 0.3, 0.3 + 0.25
    assert got["score"] == pytest.approx((p + 0.5) / (p + n + 1))
    assert got["comp"] == pytest.approx(
        {"signal.copy": 0.8, "signal.retry": -0.3, "rating": 0.5, "signal.engage": 0.3}
    )


def test_ratings_on_any_scale_normalise() -> None:
    cfg = SignalConfig(prior_strength=0)
    ten = columnar([event(kind="rating", value=7.0, scale_min=0.0, scale_max=10.0)], cfg)
    thumbs = columnar([event(kind="rating", value=1.0, scale_min=-1.0, scale_max=1.0)], cfg)
    assert ten[0]["score"] == pytest.approx(0.7)
    assert thumbs[0]["score"] == pytest.approx(1.0)


def test_unknown_signals_ignored_by_default_and_weighted_when_configured() -> None:
    assert columnar([event(name="bookmark")], SignalConfig())[0]["evidence"] == 0
    weighted = SignalConfig(weights={"bookmark": 0.7}, prior_strength=1.0)
    assert columnar([event(name="bookmark")], weighted)[0]["score"] == pytest.approx(1.2 / 1.7)
    negative = SignalConfig(unknown_signal_weight=-1.0)
    assert columnar([event(name="bookmark")], negative)[0]["score"] < 0.5


def test_decay_halves_old_evidence() -> None:
    cfg = SignalConfig(decay_half_life_s=100.0, prior_strength=0.0)
    old_bad = event(
        kind="rating", value=1.0, scale_min=1.0, scale_max=5.0, created_at=NOW - 100 * 10**9
    )
    new_good = event(kind="rating", value=5.0, scale_min=1.0, scale_max=5.0, created_at=NOW)
    got = columnar([old_bad, new_good], cfg)[0]
    assert got["score"] == pytest.approx(1 / 1.5)  # 1 good vs 0.5 (halved) bad
    assert columnar([old_bad, new_good], SignalConfig(prior_strength=0.0))[0]["score"] == 0.5


def test_decay_reads_datetime_columns() -> None:
    cfg = SignalConfig(decay_half_life_s=50.0, prior_strength=0.0)
    events = frame([event(name="copy", created_at=NOW - 100 * 10**9), event(name="retry")])
    as_datetime = events.with_columns(pl.col("created_at").cast(pl.Datetime("ns", "UTC")))
    got = score_events(as_datetime, cfg, now=NOW).scores.row(0, named=True)
    assert got["score"] == pytest.approx(0.2 / 0.5)  # copy 0.8/4 against retry 0.3


def test_prior_when_no_evidence_and_no_prior_strength() -> None:
    cfg = SignalConfig(prior=0.3, prior_strength=0.0)
    got = score_events(frame([event(kind="comment", text="hm")]), cfg).scores.row(0, named=True)
    assert got["score"] == 0.3
    assert got["uncertainty"] == 0.5
    assert got["events"] == 1


def test_missing_columns_are_named() -> None:
    with pytest.raises(InvalidArgumentError, match="scale_min"):
        score_events(frame([event()]).drop("scale_min"), SignalConfig())
    edits = frame([event(kind="edit", text="x")]).drop("response")
    with pytest.raises(InvalidArgumentError, match="'response'"):
        score_events(edits, SignalConfig())


def test_similarity_is_the_kept_fraction() -> None:
    assert kept_fraction("hello world", "hello world") == 1.0
    assert kept_fraction("abc", "xyz") == 0.0
    assert kept_fraction("", "") == 1.0
    assert kept_fraction("the cat sat", "the cat sat down") == pytest.approx(
        ref_similarity("the cat sat", "the cat sat down")
    )
    pairs = [("abcdef", "abdf"), ("x" * 5000, "x" * 4000 + "y" * 1000)]
    got = kept_fractions([a for a, _ in pairs], [b for _, b in pairs])
    assert got[0] == pytest.approx(ref_similarity(*pairs[0]))
    assert got[1] == pytest.approx(2 * 4000 / 10000)
    with pytest.raises(ValueError, match="2 responses but 1"):
        kept_fractions(["a", "b"], ["a"])
    assert math.isclose(kept_fractions([], []).size, 0)
