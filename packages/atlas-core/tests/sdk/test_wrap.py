"""``wrap``: sync and async agents recorded with the right fields, ids, errors re-raised."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import polars as pl
import pytest

import atlas_core
from atlas_core.errors import InvalidArgumentError
from atlas_core.sdk import Recorded, Recorder, last_interaction_id, wrap
from atlas_core.store import Store


def _rows(store: Store) -> pl.DataFrame:
    return store.interactions("default")


def test_sync_wrap_records_input_output_versions_and_latency(
    recorder: Recorder, store: Store
) -> None:
    @wrap(learning_key="support", model_version="m1", prompt_version="p7", recorder=recorder)
    def agent(question: str) -> str:
        return question.upper()

    assert agent("reset my password") == "RESET MY PASSWORD"
    first = last_interaction_id()
    assert agent("second") == "SECOND"
    second = last_interaction_id()
    assert recorder.flush(10)
    rows = _rows(store)
    assert rows.height == 2
    assert [uuid.UUID(bytes=b) for b in rows["id"]] == [first, second]
    row = rows.row(0, named=True)
    assert row["learning_key"] == "support"
    assert row["model_version"] == "m1"
    assert row["prompt_version"] == "p7"
    assert json.loads(row["input"]) == [{"role": "user", "content": "reset my password"}]
    assert row["output"] == "RESET MY PASSWORD"
    assert row["latency_ms"] is not None
    assert row["latency_ms"] >= 0
    assert json.loads(row["metadata"]) == {}


def test_wrapper_form_and_call_with_id(recorder: Recorder, store: Store) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    wrapped = atlas_core.wrap(lambda msgs: {"answer": len(msgs)}, recorder=recorder)
    out = wrapped.call_with_id(messages)
    assert isinstance(out, Recorded)
    assert out.result == {"answer": 2}
    assert recorder.flush(10)
    row = _rows(store).row(0, named=True)
    assert uuid.UUID(bytes=row["id"]) == out.interaction_id
    assert json.loads(row["input"]) == messages  # a message list is kept as the conversation
    assert json.loads(row["output"]) == {"answer": 2}  # non-str output is stored as JSON


def test_several_arguments_are_recorded_as_args_and_kwargs(
    recorder: Recorder, store: Store
) -> None:
    @wrap(recorder=recorder, metadata={"team": "search"})
    def agent(query: str, k: int = 3) -> list[str]:
        return [query] * k

    assert agent("q", k=2) == ["q", "q"]
    assert recorder.flush(10)
    row = _rows(store).row(0, named=True)
    content = json.loads(json.loads(row["input"])[0]["content"])
    assert content == {"args": ["q"], "kwargs": {"k": 2}}
    assert json.loads(row["metadata"]) == {"team": "search"}


def test_async_wrap_records_and_ids_are_per_task(recorder: Recorder, store: Store) -> None:
    @wrap(learning_key="async-key", recorder=recorder)
    async def agent(question: str) -> str:
        await asyncio.sleep(0.01)
        return f"answer to {question}"

    async def one(i: int) -> tuple[str, uuid.UUID | None]:
        result = await agent(f"q{i}")
        return result, last_interaction_id()

    async def main() -> list[tuple[str, uuid.UUID | None]]:
        return await asyncio.gather(*(one(i) for i in range(20)))

    results = asyncio.run(main())
    assert recorder.flush(10)
    rows = _rows(store)
    assert rows.height == 20
    stored = {uuid.UUID(bytes=r["id"]): r for r in rows.iter_rows(named=True)}
    # Each task saw the id of its own call, even though the calls interleaved.
    for result, interaction_id in results:
        assert interaction_id is not None
        row = stored[interaction_id]
        assert row["output"] == result
        assert row["learning_key"] == "async-key"
        question = json.loads(row["input"])[0]["content"]
        assert result == f"answer to {question}"
        assert row["latency_ms"] >= 10.0 * 0.9  # the await is inside the measured time


def test_async_call_with_id(recorder: Recorder, store: Store) -> None:
    async def agent(x: int) -> int:
        return x * 2

    wrapped = wrap(agent, recorder=recorder)
    out = asyncio.run(wrapped.call_with_id(21))
    assert out.result == 42
    assert recorder.flush(10)
    assert uuid.UUID(bytes=_rows(store)["id"][0]) == out.interaction_id


class AgentFailureError(RuntimeError):
    pass


def test_exception_is_recorded_and_reraised_unchanged(recorder: Recorder, store: Store) -> None:
    boom = AgentFailureError("model timed out")

    @wrap(recorder=recorder, learning_key="k")
    def agent(question: str) -> str:
        raise boom

    with pytest.raises(AgentFailureError) as caught:
        agent("why")
    assert caught.value is boom  # the very same object, not a wrapper
    failed_id = last_interaction_id()
    assert failed_id is not None
    assert recorder.flush(10)
    row = _rows(store).row(0, named=True)
    assert uuid.UUID(bytes=row["id"]) == failed_id
    assert row["output"] == ""
    assert json.loads(row["metadata"]) == {
        "error": {"type": "AgentFailureError", "message": "model timed out"}
    }


def test_async_exception_is_recorded_and_reraised(recorder: Recorder, store: Store) -> None:
    @wrap(recorder=recorder)
    async def agent() -> str:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        asyncio.run(agent())
    assert recorder.flush(10)
    assert json.loads(_rows(store)["metadata"][0])["error"]["type"] == "KeyError"


def test_decorated_method_does_not_record_self(recorder: Recorder, store: Store) -> None:
    class Bot:
        def __init__(self, suffix: str) -> None:
            self.suffix = suffix

        @wrap(recorder=recorder)
        def answer(self, question: str) -> str:
            return question + self.suffix

    assert Bot("!").answer("hey") == "hey!"
    assert recorder.flush(10)
    row = _rows(store).row(0, named=True)
    assert json.loads(row["input"]) == [{"role": "user", "content": "hey"}]


def test_recording_failure_never_fails_the_agent(recorder: Recorder, store: Store) -> None:
    calls = []

    @wrap(recorder=recorder)
    def agent(x: str) -> str:
        calls.append(x)
        return x

    recorder.close(10)  # the buffer now refuses events
    assert agent("still works") == "still works"
    assert calls == ["still works"]
    assert agent.recording_errors == 1
    assert last_interaction_id() is None


def test_ids_are_per_thread(recorder: Recorder) -> None:
    agent = wrap(lambda x: x, recorder=recorder)
    seen: dict[int, uuid.UUID | None] = {}
    barrier = threading.Barrier(4)

    def worker(i: int) -> None:
        barrier.wait()
        got = agent.call_with_id(i)
        seen[i] = got.interaction_id if last_interaction_id() == got.interaction_id else None

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(v is not None for v in seen.values())
    assert len(set(seen.values())) == 4


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"learning_key": ""}, "learning_key"),
        ({"model_version": 3}, "model_version"),
        ({"metadata": [1, 2]}, "metadata"),
    ],
)
def test_bad_wrap_options_raise_naming_the_argument(kwargs: dict, argument: str) -> None:
    with pytest.raises(InvalidArgumentError, match=argument):
        wrap(lambda: None, **kwargs)


def test_wrapping_a_non_callable_raises() -> None:
    with pytest.raises(InvalidArgumentError, match="agent"):
        wrap()(42)  # type: ignore[call-overload]


def test_call_context_sets_user_session_and_metadata(recorder: Recorder, store: Store) -> None:
    agent = wrap(lambda q: q, recorder=recorder, metadata={"app": "web", "tier": "free"})
    with atlas_core.call_context(user_id="u1", session_id="s1", metadata={"tier": "pro"}):
        agent("inside")
        with atlas_core.call_context(session_id="s2", metadata={"ab": "B"}):
            agent("nested")
    agent("outside")
    assert recorder.flush(10)
    rows = {json.loads(r["input"])[0]["content"]: r for r in _rows(store).iter_rows(named=True)}
    assert (rows["inside"]["user_id"], rows["inside"]["session_id"]) == ("u1", "s1")
    assert json.loads(rows["inside"]["metadata"]) == {"app": "web", "tier": "pro"}
    assert (rows["nested"]["user_id"], rows["nested"]["session_id"]) == ("u1", "s2")
    assert json.loads(rows["nested"]["metadata"]) == {"app": "web", "tier": "pro", "ab": "B"}
    assert (rows["outside"]["user_id"], rows["outside"]["session_id"]) == (None, None)
    assert json.loads(rows["outside"]["metadata"]) == {"app": "web", "tier": "free"}


def test_call_context_is_per_task(recorder: Recorder, store: Store) -> None:
    @wrap(recorder=recorder)
    async def agent(q: str) -> str:
        await asyncio.sleep(0.005)
        return q

    async def as_user(user: str) -> None:
        with atlas_core.call_context(user_id=user):
            await agent(user)

    async def main() -> None:
        await asyncio.gather(*(as_user(f"user-{i}") for i in range(10)))

    asyncio.run(main())
    assert recorder.flush(10)
    for row in _rows(store).iter_rows(named=True):
        assert row["user_id"] == json.loads(row["input"])[0]["content"]


def test_call_context_rejects_bad_values() -> None:
    with pytest.raises(InvalidArgumentError, match="user_id"), atlas_core.call_context(user_id=""):
        pass
