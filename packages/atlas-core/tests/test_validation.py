"""The shared validation rules: bad_rows / first_bad against a per-row Python reference."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_core.errors import InvalidArgumentError
from atlas_core.ids import new_ids
from atlas_core.storage_schema import TABLES, Column, storage_schema
from atlas_core.store import BatchValidationError
from atlas_core.validation import bad_rows, checks, first_bad, storage_frame

# -- the reference: each row checked on its own, rules in the documented order ------------

KINDS = ("rating", "signal", "edit", "comment", "label")
Rule = tuple[str, str, Any]  # field, reason, predicate(row) -> bool


def _given(*values: Any) -> bool:
    return all(v is not None for v in values)


def reference_rules(table: str) -> list[Rule]:
    rules: list[Rule] = []
    for col in TABLES[table]:
        n = col.name
        if not col.nullable:
            rules.append((n, "null in a required column", lambda r, n=n: r[n] is None))
        if col.kind == "id":
            rules.append((n, "an id has 16 bytes", lambda r, n=n: _given(r[n]) and len(r[n]) != 16))
        elif col.kind == "float":
            rules.append(
                (n, "not a finite number", lambda r, n=n: _given(r[n]) and not math.isfinite(r[n]))
            )
        elif col.kind == "json":
            o, c, shape = ("[", "]", "array") if n == "input" else ("{", "}", "object")
            rules.append(
                (
                    n,
                    f"not a JSON {shape}",
                    lambda r, n=n, o=o, c=c: (
                        _given(r[n]) and not (r[n].startswith(o) and r[n].endswith(c))
                    ),
                )
            )
        elif n in ("tenant_id", "learning_key", "source"):
            rules.append((n, "empty string", lambda r, n=n: r[n] == ""))
    for n in ("latency_ms", "prompt_tokens", "completion_tokens", "uncertainty"):
        if n in storage_schema(table):
            rules.append((n, "negative", lambda r, n=n: _given(r[n]) and r[n] < 0))
    if table == "rewards":
        rules.append(
            ("score", "outside [0, 1]", lambda r: _given(r["score"]) and not 0 <= r["score"] <= 1)
        )
    if table == "feedback":

        def rating(r: dict[str, Any]) -> bool:
            return bool(r["kind"] == "rating")

        rules += [
            (
                "kind",
                f"not one of {list(KINDS)}",
                lambda r: _given(r["kind"]) and r["kind"] not in KINDS,
            ),
            ("value", "a rating needs a value", lambda r: rating(r) and r["value"] is None),
            ("scale_min", "a rating needs a scale", lambda r: rating(r) and r["scale_min"] is None),
            ("scale_max", "a rating needs a scale", lambda r: rating(r) and r["scale_max"] is None),
            (
                "scale_max",
                "scale_max <= scale_min",
                lambda r: (
                    _given(r["scale_max"], r["scale_min"]) and r["scale_max"] <= r["scale_min"]
                ),
            ),
            (
                "value",
                "rating outside its scale",
                lambda r: (
                    rating(r)
                    and _given(r["value"], r["scale_min"], r["scale_max"])
                    and not r["scale_min"] <= r["value"] <= r["scale_max"]
                ),
            ),
            ("name", "a signal needs a name", lambda r: r["kind"] == "signal" and not r["name"]),
            (
                "text",
                "edit/comment/label need text",
                lambda r: r["kind"] in ("edit", "comment", "label") and r["text"] is None,
            ),
        ]
    return rules


def reference_bad_rows(table: str, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    out = []
    for i, row in enumerate(rows):
        for field, reason, broken in reference_rules(table):
            if broken(row):
                out.append((i, field, reason))
                break
    return out


def reference_first_bad(table: str, rows: list[dict[str, Any]]) -> tuple[int, str, str] | None:
    for field, reason, broken in reference_rules(table):
        for i, row in enumerate(rows):
            if broken(row):
                return i, field, reason
    return None


# -- generated storage frames: values from a pool of good and bad ones -------------------

POOLS: dict[str, list[Any]] = {
    "id": [None, b"\x01" * 16, b"\x02" * 16, b"", b"\x03" * 15, b"\x04" * 17],
    "text": [None, "", "a", "bob"],
    "json": [None, "{}", "[]", '{"a":1}', '[{"role":"user"}]', "{", "]", ""],
    "float": [None, 0.0, 0.5, 1.0, 2.0, 3.0, 5.0, -1.0, math.nan, math.inf, -math.inf],
    "int": [None, 0, 7, -2],
    "bool": [None, True, False],
    "time": [None, 0, 1_700_000_000_000_000_000],
}
GOOD: dict[str, list[Any]] = {
    "id": [b"\x01" * 16],
    "text": ["a", "bob"],
    "float": [0.0, 0.5, 1.0, 3.0, 5.0],
    "int": [0, 7],
    "bool": [True, False],
    "time": [0, 1_700_000_000_000_000_000],
}
KIND_POOL = [None, "", "bogus", *KINDS]


def _good(col: Column) -> list[Any]:
    if col.name == "kind":
        return list(KINDS)
    if col.kind == "json":
        return ['[{"role":"user"}]' if col.name == "input" else '{"a":1}']
    return GOOD[col.kind]


@st.composite
def _row(draw: st.DrawFn, table: str) -> dict[str, Any]:
    """Good values in all but up to three fields (so later rules are reached too), and
    those from the pool of good and bad values."""
    columns = TABLES[table]
    row = {col.name: draw(st.sampled_from(_good(col))) for col in columns}
    for col in draw(st.lists(st.sampled_from(columns), max_size=3)):
        row[col.name] = draw(st.sampled_from(_faults(col)))
    return row


@st.composite
def table_rows(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    table = draw(st.sampled_from(sorted(TABLES)))
    return table, draw(st.lists(_row(table), max_size=25))


def frame_of(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=storage_schema(table), orient="row")


@settings(max_examples=200, deadline=None)
@given(table_rows())
def test_bad_rows_matches_the_row_by_row_reference(case: tuple[str, list[dict[str, Any]]]) -> None:
    table, rows = case
    assert bad_rows(table, frame_of(table, rows)) == reference_bad_rows(table, rows)


@settings(max_examples=200, deadline=None)
@given(table_rows())
def test_first_bad_matches_the_reference(case: tuple[str, list[dict[str, Any]]]) -> None:
    table, rows = case
    assert first_bad(table, frame_of(table, rows)) == reference_first_bad(table, rows)


def _faults(col: Column) -> list[Any]:
    return KIND_POOL if col.name == "kind" else POOLS[col.kind]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_pair_of_faults_matches_the_reference(table: str) -> None:
    """Exhaustive: a good row with every value of the pool in every one or two fields."""
    columns = TABLES[table]
    base = {col.name: _good(col)[0] for col in columns}
    singles = [(col.name, v) for col in columns for v in _faults(col)]
    rows = [base | {a: x} | {b: y} for i, (a, x) in enumerate(singles) for b, y in singles[i:]]
    frame = frame_of(table, rows)
    assert bad_rows(table, frame) == reference_bad_rows(table, rows)
    assert first_bad(table, frame) == reference_first_bad(table, rows)


def test_reference_lists_the_rules_in_the_same_order() -> None:
    for table in TABLES:
        ours = [(c.field, c.reason) for c in checks(table)]
        assert ours == [(f, r) for f, r, _ in reference_rules(table)]


# -- examples -------------------------------------------------------------------------


def _feedback(n: int, **columns: list[Any]) -> pl.DataFrame:
    data: dict[str, Any] = {
        "id": new_ids(n),
        "interaction_id": new_ids(n),
        "kind": ["rating"] * n,
        "value": [4.0] * n,
        "scale_min": [1.0] * n,
        "scale_max": [5.0] * n,
        "created_at": list(range(n)),
    }
    data.update(columns)
    return storage_frame("feedback", pl.DataFrame(data))


def test_every_bad_row_is_reported_with_its_first_broken_rule() -> None:
    frame = _feedback(
        5,
        value=[4.0, 9.0, None, 4.0, math.nan],
        kind=["rating", "rating", "rating", "nope", "rating"],
    )
    assert bad_rows("feedback", frame) == [
        (1, "value", "rating outside its scale"),
        (2, "value", "a rating needs a value"),
        (3, "kind", f"not one of {list(KINDS)}"),
        (4, "value", "not a finite number"),
    ]
    # The store's verdict on the same batch: the earliest rule any row breaks.
    assert first_bad("feedback", frame) == (4, "value", "not a finite number")


def test_a_good_frame_and_an_empty_frame_have_no_bad_rows() -> None:
    frame = _feedback(100)
    assert bad_rows("feedback", frame) == []
    assert bad_rows("feedback", frame.head(0)) == []
    assert first_bad("feedback", frame) is None


def test_a_frame_not_in_the_storage_schema_is_refused_naming_frame() -> None:
    frame = _feedback(3)
    with pytest.raises(InvalidArgumentError, match=r"^frame: .*created_at is Float64"):
        bad_rows("feedback", frame.with_columns(pl.col("created_at").cast(pl.Float64)))
    with pytest.raises(InvalidArgumentError, match=r"^frame: .*text is missing"):
        bad_rows("feedback", frame.drop("text"))
    with pytest.raises(InvalidArgumentError, match=r"^frame: .*out of order"):
        bad_rows("feedback", frame.select(reversed(frame.columns)))


def test_an_unknown_table_is_refused_naming_table() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^table: .*'bogus'"):
        bad_rows("bogus", _feedback(1))
    with pytest.raises(InvalidArgumentError, match=r"^table: "):
        storage_frame("bogus", _feedback(1))


def test_storage_frame_fills_defaults_and_converts_times() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    raw = pl.DataFrame(
        {
            "id": new_ids(2),
            "interaction_id": new_ids(2),
            "score": [0, 1],  # integers: cast to the stored float
            "created_at": [when, when],
        }
    )
    frame = storage_frame("rewards", raw)
    assert frame.schema == storage_schema("rewards")
    assert frame["tenant_id"].to_list() == ["default", "default"]
    assert frame["components"].to_list() == ["{}", "{}"]
    assert frame["score"].to_list() == [0.0, 1.0]
    assert frame["created_at"].to_list() == [int(when.timestamp()) * 10**9] * 2
    assert storage_frame("rewards", frame) is frame  # already conformed: untouched


def test_storage_frame_names_the_column_at_fault() -> None:
    raw = pl.DataFrame({"id": new_ids(1), "interaction_id": new_ids(1), "created_at": [1]})
    with pytest.raises(BatchValidationError, match=r"rewards\.score \(batch\): required column"):
        storage_frame("rewards", raw)
    with pytest.raises(BatchValidationError, match=r"rewards\.colour \(batch\): unknown column"):
        storage_frame("rewards", raw.with_columns(score=pl.lit(0.5), colour=pl.lit("red")))
    with pytest.raises(
        BatchValidationError, match=r"rewards\.created_at \(row 0\): not an integer"
    ):
        storage_frame("rewards", raw.with_columns(score=pl.lit(0.5), created_at=pl.lit(1.5)))
