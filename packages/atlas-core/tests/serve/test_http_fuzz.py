"""Fuzzing the HTTP decoders over a real socket: random bytes, random JSON and random
event-shaped JSON posted to every write endpoint never get a 5xx, and events accepted
before the fuzzing are all still stored afterwards."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from http_fixtures import Harness, interaction, rating, running_api, stored_ids

WRITE_PATHS = ("/v1/ingest", "/v1/interactions", "/v1/feedback", "/v1/browser/feedback")

INTERACTION_FIELDS = [
    "id",
    "learning_key",
    "input",
    "output",
    "model_version",
    "prompt_version",
    "session_id",
    "user_id",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "metadata",
    "created_at",
    "tenant_id",
]
FEEDBACK_FIELDS = [
    "id",
    "interaction_id",
    "kind",
    "name",
    "value",
    "scale_min",
    "scale_max",
    "text",
    "user_id",
    "source",
    "metadata",
    "created_at",
    "token",
    "tenant_id",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["rating", "signal", "copy", "2025-01-01T00:00:00Z", "", "0" * 32])
    | st.uuids().map(str)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def _dumps(value: object) -> bytes:
    # the stdlib encoder: unlike orjson it writes integers beyond 64 bits, which the
    # server must refuse cleanly too
    return json.dumps(value).encode()


def _events(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={f: json_values for f in fields})


bodies = st.one_of(
    st.binary(max_size=600),
    json_values.map(_dumps),
    st.fixed_dictionaries(
        {},
        optional={
            "interactions": st.lists(_events(INTERACTION_FIELDS), max_size=4) | json_values,
            "feedback": st.lists(_events(FEEDBACK_FIELDS), max_size=4) | json_values,
        },
    ).map(_dumps),
    _events(INTERACTION_FIELDS).map(_dumps),
    _events(FEEDBACK_FIELDS).map(_dumps),
)


def _post(http: httpx.Client, api: Harness, path: str, body: bytes) -> int:
    answer = http.post(path, content=body, headers=api.auth("acme", "ingest"))
    assert answer.status_code < 500, (path, body, answer.text)
    if answer.status_code >= 400:
        assert "error" in answer.json(), answer.text  # every refusal in the error shape
    return answer.status_code


def test_random_bodies_never_get_a_5xx_nor_lose_accepted_events(tmp_path: Path) -> None:
    with running_api(tmp_path, max_request_bytes=16 * 1024) as api, api.client() as http:
        before = http.post(
            "/v1/ingest",
            json={"interactions": [interaction() for _ in range(3)]},
            headers=api.auth("acme", "ingest"),
        ).json()
        first = before["interaction_ids"][0]
        assert (
            http.post(
                "/v1/feedback", json=rating(first), headers=api.auth("acme", "ingest")
            ).status_code
            == 200
        )
        kept = stored_ids(api.store, "acme")
        kept_feedback = stored_ids(api.store, "acme", "feedback")
        assert len(kept) == 3
        assert len(kept_feedback) == 1

        @settings(
            max_examples=300,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(path=st.sampled_from(WRITE_PATHS), body=bodies)
        def fuzz(path: str, body: bytes) -> None:
            _post(http, api, path, body)

        fuzz()
        assert stored_ids(api.store, "acme") >= kept
        assert stored_ids(api.store, "acme", "feedback") >= kept_feedback
        assert stored_ids(api.store, "globex") == set()
        assert http.get("/healthz").status_code == 200


READ_PARAMS = [
    "learning_key",
    "since",
    "until",
    "user_id",
    "session_id",
    "limit",
    "kind",
    "min_reward",
    "max_reward",
]
param_values = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(str),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "nan", "rating", ""]),
)


def test_random_read_parameters_never_get_a_5xx(tmp_path: Path) -> None:
    with running_api(tmp_path) as api, api.client() as http:
        assert (
            http.post(
                "/v1/interactions", json=interaction(), headers=api.auth("acme", "ingest")
            ).status_code
            == 200
        )

        @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            path=st.sampled_from(["/v1/interactions", "/v1/feedback", "/v1/rewards"]),
            params=st.dictionaries(st.sampled_from(READ_PARAMS), param_values, max_size=4),
            item=st.text(max_size=40),
        )
        def fuzz(path: str, params: dict[str, str], item: str) -> None:
            answer = http.get(path, params=params, headers=api.auth("acme", "read"))
            assert answer.status_code < 500, (path, params, answer.text)
            by_id = http.get(
                f"/v1/interactions/{quote(item, safe='')}", headers=api.auth("acme", "read")
            )
            assert by_id.status_code < 500, (item, by_id.text)

        fuzz()
