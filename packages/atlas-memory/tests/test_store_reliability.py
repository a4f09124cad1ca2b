"""Reliability (both back-ends): kill -9 mid-stream loses no acknowledged batch and
shows no partial one; concurrent writers and readers see exact, whole-batch counts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest
from memory_testdata import feedback_frame

from atlas_core.store import open_store

WRITER = Path(__file__).with_name("memory_writer.py")


@pytest.mark.slow
def test_kill_9_mid_stream_keeps_every_acknowledged_batch(store_url: str) -> None:
    rows, wanted_acks = 2_000, 12
    open_store(store_url).close()  # migrate first, so the writer starts streaming at once
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), store_url, str(rows)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    acked: list[int] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(int(line.split()[1]))
            if len(acked) == wanted_acks:
                # The writer is already inside the next batch: kill it there, no clean-up.
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert len(acked) == wanted_acks, proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == -signal.SIGKILL

    store = open_store(store_url)  # opens cleanly after the crash
    try:
        counts = store.feedback("acme").group_by("name").len()
        per_batch = dict(zip(counts["name"], counts["len"], strict=True))
    finally:
        store.close()
    for batch in acked:
        assert per_batch.get(f"b{batch}") == rows, f"acknowledged batch {batch} incomplete"
    # Nothing partial: every stored batch is whole, and at most the in-flight one is extra.
    assert set(per_batch.values()) == {rows}
    assert len(per_batch) in (wanted_acks, wanted_acks + 1)


@pytest.mark.slow
def test_concurrent_writers_and_readers_count_exactly(store_url: str) -> None:
    writers, batches, rows = 3, 15, 100
    main = open_store(store_url)
    # One writer uses its own store object (its own connections), as a second process would.
    other = open_store(store_url)
    errors: list[BaseException] = []
    done = threading.Event()
    seen: list[list[int]] = [[], []]

    def write(which: int) -> None:
        target = other if which == 0 else main
        try:
            for _ in range(batches):
                assert target.write_feedback(feedback_frame(rows)).inserted == rows
        except BaseException as exc:
            errors.append(exc)

    def read(slot: int) -> None:
        try:
            while not done.is_set():
                seen[slot].append(main.feedback("acme").height)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    readers = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    done.set()
    for t in readers:
        t.join(timeout=60)
    try:
        assert not errors, errors
        total = writers * batches * rows
        assert main.feedback("acme").height == total
        assert other.feedback("acme").height == total
        for counts in seen:
            assert counts, "a reader never completed a read"
            assert counts == sorted(counts), "a reader saw the count go backwards"
            assert all(c % rows == 0 for c in counts), "a reader saw a partial batch"
        assert pl.Series(main.feedback("acme")["id"]).n_unique() == total
    finally:
        other.close()
        main.close()


@pytest.mark.slow
def test_reader_sees_only_whole_batches_while_another_process_writes(store_url: str) -> None:
    rows = 500
    reader = open_store(store_url)
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), store_url, str(rows)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    counts: list[int] = []
    acked = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked = int(line.split()[1]) + 1
            # Every acknowledged batch is visible to this other process at once.
            counts.append(reader.feedback("acme").height)
            assert counts[-1] >= acked * rows
            if acked == 10:
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
        reader.close()
    assert acked == 10, proc.stderr.read() if proc.stderr else ""
    assert counts == sorted(counts)
    assert all(c % rows == 0 for c in counts)
