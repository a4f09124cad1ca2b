"""Request-size, batch-size and rate limits of the HTTP API, over real sockets: oversize
bodies are refused without being buffered, overload answers 429 with Retry-After, and the
server keeps serving afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from http_fixtures import Harness, interaction, raw_exchange, running_api, stored_ids

LIMIT = 64 * 1024


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Harness]:
    with running_api(tmp_path, max_request_bytes=LIMIT, max_batch_events=50) as harness:
        yield harness


def _still_serves(api: Harness) -> None:
    with api.client() as http:
        answer = http.post(
            "/v1/interactions", json=interaction(), headers=api.auth("acme", "ingest")
        )
    assert answer.status_code == 200, answer.text


def _head(api: Harness, path: str, extra: str) -> bytes:
    secret = api.secrets[("acme", "ingest")]
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


def test_honest_content_length_over_the_limit_is_413_before_the_body(api: Harness) -> None:
    # Only the head is sent: the answer must come without the server waiting for the body.
    answer = raw_exchange(api.port, _head(api, "/v1/ingest", f"Content-Length: {LIMIT + 1}\r\n"))
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in rest.lower()
    assert b'"LIMIT_EXCEEDED"' in rest
    _still_serves(api)


def test_honest_oversize_body_over_httpx_is_413(api: Harness) -> None:
    big = {"interactions": [interaction(output="x" * (LIMIT + 10))]}
    with api.client() as http:
        try:
            answer = http.post("/v1/ingest", json=big, headers=api.auth("acme", "ingest"))
        except httpx.TransportError:
            pytest.fail("the server reset the connection instead of answering 413")
    assert answer.status_code == 413
    assert answer.json()["error"]["field"] == "body"
    assert stored_ids(api.store, "acme") == set()
    _still_serves(api)


def test_chunked_body_without_content_length_is_cut_at_the_limit(api: Harness) -> None:
    # 2x the limit in 4 KiB chunks, no Content-Length: counted as it streams, refused once
    # past the limit; the server answers before the client has sent it all and closes.
    chunk = b"x" * 4096
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(2 * LIMIT // 4096))
    request = _head(api, "/v1/ingest", "Transfer-Encoding: chunked\r\n") + body + b"0\r\n\r\n"
    answer = raw_exchange(api.port, request)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"exceeds the limit" in answer
    _still_serves(api)


def test_lying_content_length_never_buffers_more_than_declared(api: Harness) -> None:
    # Content-Length says 20 bytes; 4x the limit follows. The parser takes 20 bytes as the
    # body (not JSON: 422) and the rest is not a valid next request: refused (400) and the
    # connection closed, whichever the server gets to first. Nothing is stored.
    request = _head(api, "/v1/ingest", "Content-Length: 20\r\n") + b"{" * (4 * LIMIT)
    answer = raw_exchange(api.port, request)
    assert answer.startswith((b"HTTP/1.1 422 ", b"HTTP/1.1 400 ")), answer[:200]
    assert b"HTTP/1.1 200" not in answer
    # a lie that fits a valid event: only the declared bytes are taken as the body
    event = b'{"interactions": [{"learning_key": "k", "input": "q", "output": "a"}]}'
    request = _head(api, "/v1/ingest", f"Content-Length: {len(event)}\r\n") + event + b"}" * LIMIT
    answer = raw_exchange(api.port, request)
    assert answer.startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 400 ")), answer[:200]
    assert len(stored_ids(api.store, "acme")) <= 1
    _still_serves(api)


def test_too_many_events_is_413(api: Harness) -> None:
    body = {"interactions": [interaction() for _ in range(51)]}
    with api.client() as http:
        answer = http.post("/v1/ingest", json=body, headers=api.auth("acme", "ingest"))
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "LIMIT_EXCEEDED"
    assert stored_ids(api.store, "acme") == set()


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    with running_api(tmp_path, rate_limit_events_per_s=0.5, rate_limit_burst=3) as api:
        headers = api.auth("acme", "ingest")
        with api.client() as http:
            codes = [
                http.post("/v1/interactions", json=interaction(), headers=headers) for _ in range(5)
            ]
            # another key has its own bucket
            other = http.post(
                "/v1/interactions", json=interaction(), headers=api.auth("acme", "admin")
            )
        assert [c.status_code for c in codes] == [200, 200, 200, 429, 429]
        refused = codes[3]
        assert int(refused.headers["Retry-After"]) >= 1
        body = refused.json()["error"]
        assert body["code"] == "RESOURCE_EXHAUSTED"
        assert body["retry_after_s"] > 0
        assert other.status_code == 200
        assert len(stored_ids(api.store, "acme")) == 4


def test_overload_answers_429_and_takes_nothing_of_the_request(tmp_path: Path) -> None:
    # A buffer of 3 events: a request of 4 cannot be queued, so the server answers
    # overload (with a retry hint) and stores none of it; smaller requests still go in.
    with running_api(tmp_path, buffer_capacity=3) as api, api.client() as http:
        headers = api.auth("acme", "ingest")
        body = {"interactions": [interaction() for _ in range(4)]}
        refused = http.post("/v1/ingest", json=body, headers=headers)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
        assert stored_ids(api.store, "acme") == set()
        body = {"interactions": [interaction() for _ in range(3)]}
        assert http.post("/v1/ingest", json=body, headers=headers).status_code == 200
        assert len(stored_ids(api.store, "acme")) == 3
