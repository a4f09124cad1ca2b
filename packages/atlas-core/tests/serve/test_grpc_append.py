"""``IngestAppend`` over a real server and channel: each message is answered in order once
committed, a failing message is answered with its own status while the stream goes on,
authentication ends the stream, and at most a window of messages waits for its commit."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from grpc_fixtures import Served, bearer, interaction, open_served, sdk_batch

from atlas_core.config import ServeConfig
from atlas_core.ids import new_id
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.grpc_append import APPEND_WINDOW, Submit, append_answers
from atlas_core.serve.pipeline import IngestResult

OK = grpc.StatusCode.OK.value[0]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from open_served(tmp_path)


def _typed(
    *interactions: pb.Interaction, feedback: tuple[pb.Feedback, ...] = ()
) -> pb.IngestStreamMessage:
    return pb.IngestStreamMessage(
        events=pb.IngestRequest(interactions=list(interactions), feedback=list(feedback))
    )


def _append(
    served: Served, messages: list[pb.IngestStreamMessage], key: str | None = None
) -> list[pb.AppendResponse]:
    call = served.ingest.IngestAppend(iter(messages), metadata=bearer(key or served.keys.a_ingest))
    return list(call)


def test_every_message_is_answered_in_order_once_committed(served: Served) -> None:
    batch, ids = sdk_batch(20, tenant="tenant-b")  # the payload's tenant is ignored
    messages = [
        _typed(interaction()),
        pb.IngestStreamMessage(columns=batch),
        _typed(interaction(), interaction()),
    ]

    answers = _append(served, messages)

    assert [a.message for a in answers] == [0, 1, 2]
    assert [a.code for a in answers] == [OK] * 3
    assert [a.result.accepted for a in answers] == [1, 40, 2]
    assert len(answers[0].result.interaction_ids) == 1  # typed messages list their ids
    assert not answers[1].result.interaction_ids  # columns: the client minted them
    stored = served.store.interactions("tenant-a")
    assert stored.height == 23
    assert set(ids) <= set(stored["id"].to_list())
    assert served.store.feedback("tenant-a").height == 20
    assert served.store.interactions("tenant-b").height == 0


def test_a_resent_message_is_stored_once_and_counted_as_duplicates(served: Served) -> None:
    message = _typed(*(interaction(id=str(new_id())) for _ in range(4)))

    first, again = _append(served, [message, message])

    assert (first.result.accepted, first.result.duplicates) == (4, 0)
    assert (again.result.accepted, again.result.duplicates) == (4, 4)
    assert served.store.interactions("tenant-a").height == 4


def test_a_failing_message_gets_its_own_status_and_the_stream_goes_on(served: Served) -> None:
    broken, _ = sdk_batch(3)
    broken.value = broken.value[:-8]  # a column of the wrong length
    every_bad = _typed(interaction(input_json="[not json"), interaction(metadata_json="[1]"))
    messages = [
        _typed(interaction()),
        pb.IngestStreamMessage(columns=broken),
        every_bad,
        _typed(interaction(output="after")),
    ]

    answers = _append(served, messages)

    codes = [grpc.StatusCode.INVALID_ARGUMENT.value[0]] * 2
    assert [a.code for a in answers] == [OK, *codes, OK]
    assert answers[1].error.startswith("value:")
    assert "every event was rejected" in answers[2].error
    assert sorted((e.index, e.field, e.message) for e in answers[2].result.rejected) == [
        (0, "input", 2),
        (1, "metadata", 2),
    ]
    assert sorted(served.store.interactions("tenant-a")["output"].to_list()) == [
        "after",
        "hello",
    ]


def test_undecodable_message_bytes_are_answered_invalid_argument(served: Served) -> None:
    raw = served.channel.stream_stream("/atlas.v1.Ingest/IngestAppend")
    good = _typed(interaction()).SerializeToString()
    answers = [
        pb.AppendResponse.FromString(b)
        for b in raw(iter([b"\x0a\x05\xff", good]), metadata=bearer(served.keys.a_ingest))
    ]
    assert [a.code for a in answers] == [grpc.StatusCode.INVALID_ARGUMENT.value[0], OK]
    assert "IngestStreamMessage" in answers[0].error
    assert served.store.interactions("tenant-a").height == 1


def test_feedback_about_another_tenants_interaction_is_rejected(served: Served) -> None:
    theirs = new_id()
    served.ingest.Ingest(
        pb.IngestRequest(interactions=[interaction(id=str(theirs))]),
        metadata=bearer(served.keys.b_admin),
    )
    rating = pb.Feedback(
        interaction_id=str(theirs), kind="rating", value=3, scale_min=1, scale_max=5
    )

    (answer,) = _append(served, [_typed(feedback=(rating,))])

    assert answer.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert answer.result.rejected[0].field == "interaction_id"
    assert served.store.feedback("tenant-a").height == 0
    assert served.store.feedback("tenant-b").height == 0


@pytest.mark.parametrize(
    ("key", "status"), [(None, "UNAUTHENTICATED"), ("a_read", "PERMISSION_DENIED")]
)
def test_a_key_without_the_ingest_scope_ends_the_stream(
    served: Served, key: str | None, status: str
) -> None:
    secret = "atlas_nope" if key is None else getattr(served.keys, key)
    with pytest.raises(grpc.RpcError) as caught:
        _append(served, [_typed(interaction())], key=secret)
    assert caught.value.code().name == status
    assert served.store.interactions("tenant-a").height == 0


def test_overload_is_answered_with_a_retry_hint_for_that_message(tmp_path: Path) -> None:
    with contextlib.contextmanager(open_served)(
        tmp_path, ServeConfig(buffer_capacity=50)
    ) as served:
        too_big, _ = sdk_batch(30)  # 60 events: more than the buffer holds
        answers = _append(served, [pb.IngestStreamMessage(columns=too_big), _typed(interaction())])
        assert [a.code for a in answers] == [grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], OK]
        assert answers[0].retry_after_ms >= 1
        assert "overloaded" in answers[0].error
        assert served.store.interactions("tenant-a").height == 1
        text = served.metrics.exposition().decode()
        assert 'method="IngestAppend.message",status="RESOURCE_EXHAUSTED"' in text
        assert 'method="IngestAppend.message",status="OK"' in text


class _Context:
    """What append_answers asks of a grpc.aio.ServicerContext: the call's time left."""

    def time_remaining(self) -> float | None:
        return None


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _pending_submit(futures: list[Future[IngestResult]]) -> Submit:
    """A submit whose commits settle only when the test settles them."""

    async def submit(message: pb.IngestStreamMessage) -> tuple[Future[IngestResult], None]:
        futures.append(Future())
        return futures[-1], None

    return submit


def _settle(futures: list[Future[IngestResult]]) -> None:
    for future in list(futures):
        if not future.done():
            future.set_result(IngestResult(1, 0, (), (), ()))


async def _messages(n: int) -> AsyncIterator[pb.IngestStreamMessage]:
    for _ in range(n):
        yield _typed(interaction())


def test_at_most_a_window_of_messages_is_submitted_and_unanswered() -> None:
    # Answers are tiny, so HTTP/2 buffers many of them for a client that does not read:
    # what bounds the server is its window of submitted, unanswered messages.
    async def scenario() -> None:
        futures: list[Future[IngestResult]] = []
        messages = _messages(3 * APPEND_WINDOW)
        answers = append_answers(messages, _pending_submit(futures), _Context(), _ignore)  # type: ignore[arg-type]
        taken: asyncio.Queue[pb.AppendResponse] = asyncio.Queue()

        async def consume() -> None:
            async for answer in answers:
                taken.put_nowait(answer)

        consumer = asyncio.create_task(consume())
        await _until(lambda: len(futures) >= APPEND_WINDOW)
        await asyncio.sleep(0.3)
        assert len(futures) == APPEND_WINDOW  # no commit settled: the reader waits
        for future in futures[:10]:
            future.set_result(IngestResult(1, 0, (), (), ()))
        await _until(lambda: len(futures) >= APPEND_WINDOW + 10)
        await asyncio.sleep(0.3)
        assert len(futures) == APPEND_WINDOW + 10  # ten answered: ten more taken
        firsts = [(await asyncio.wait_for(taken.get(), 5)).message for _ in range(10)]
        assert firsts == list(range(10))

        def settled_all() -> bool:
            _settle(futures)
            return len(futures) == 3 * APPEND_WINDOW and all(f.done() for f in futures)

        await _until(settled_all)
        await asyncio.wait_for(consumer, 10)
        assert taken.qsize() == 3 * APPEND_WINDOW - 10

    asyncio.run(scenario())


def test_closing_the_answers_stops_the_reader() -> None:
    # The client cancelled: grpcio closes the answer generator. The reader must stop
    # taking messages, even one waiting for room in the window.
    async def scenario() -> None:
        futures: list[Future[IngestResult]] = []
        read = 0

        async def messages() -> AsyncIterator[pb.IngestStreamMessage]:
            nonlocal read
            while True:
                read += 1
                yield _typed(interaction())

        answers = append_answers(messages(), _pending_submit(futures), _Context(), _ignore)  # type: ignore[arg-type]
        first = asyncio.create_task(anext(answers))
        await _until(lambda: len(futures) >= APPEND_WINDOW)
        _settle(futures)
        await asyncio.wait_for(first, 5)  # one answer out; the reader refills the window
        await answers.aclose()  # type: ignore[attr-defined]
        _settle(futures)
        await asyncio.sleep(0.3)
        submitted = len(futures)
        await asyncio.sleep(0.3)
        assert len(futures) == submitted  # nothing more is taken
        assert submitted <= APPEND_WINDOW + 2
        assert read <= submitted + 1  # the message it last read, at most, is left untaken
        assert not any(t.get_name() == "atlas-grpc-append" for t in asyncio.all_tasks())

    asyncio.run(scenario())


def _ignore(status: str, seconds: float) -> None:
    pass
