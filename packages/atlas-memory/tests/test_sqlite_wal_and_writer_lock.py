"""SQLite only: the background WAL checkpointer keeps the log short under steady writes,
and the lock file queues writers (another holder keeps a write waiting until it lets go)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from atlas_core.serve.column_decode import decode_columns
from atlas_core.serve.loadgen import sdk_columns
from atlas_memory.sqlite.connection import AdbcTx, connect
from atlas_memory.sqlite.store import SqliteStore
from atlas_memory.sqlite.writer_lock import WriterLock


def _wal_frames(path: Path) -> int:
    """Frames in the log now (a passive checkpoint reports it and changes nothing else)."""
    conn = connect(str(path), synchronous="NORMAL")
    tx = AdbcTx(conn)
    try:
        ((_busy, frames, _done),) = tx.query("PRAGMA wal_checkpoint(PASSIVE)")
        return int(frames)
    finally:
        tx.close()
        conn.close()


def test_the_log_starts_over_under_steady_writes(tmp_path: Path) -> None:
    path = tmp_path / "atlas.db"
    store = SqliteStore(path, checkpoint_interval_s=0.05)
    try:
        deadline = time.monotonic() + 1.5
        batch = 0
        while time.monotonic() < deadline:
            columns, _ = sdk_columns("acme", 200, tag=f"{batch}-")
            decoded = decode_columns(columns, ["acme"])
            store.write_events(store.prepare_events(decoded.interactions, decoded.feedback))
            batch += 1
        assert store._checkpointer.checkpoints >= 3
        pages = path.stat().st_size // 4096
        frames = _wal_frames(path)
        # Without the checkpointer every page written would still be in the log (the
        # writer's own automatic checkpoint is a backstop at ~400 MB).
        assert pages > 500
        assert frames < pages / 2, (frames, pages)
        assert store.interactions("acme").height == 200 * batch
    finally:
        store.close()


def test_a_write_waits_while_another_holder_has_the_writer_lock(tmp_path: Path) -> None:
    path = tmp_path / "atlas.db"
    store = SqliteStore(path)
    columns, _ = sdk_columns("acme", 3)
    decoded = decode_columns(columns, ["acme"])
    other = WriterLock(path)  # an open file of its own, as another process has
    assert other.path == tmp_path / "atlas.db-atlas-writer.lock"
    done = threading.Event()

    def write() -> None:
        store.write_interactions(decoded.interactions)
        done.set()

    try:
        with other:
            writer = threading.Thread(target=write)
            writer.start()
            assert not done.wait(0.3)  # queued behind the holder
            assert store.interactions("acme").height == 0
        assert done.wait(10)  # let go: the write goes through at once
        writer.join()
        assert store.interactions("acme").height == 3
    finally:
        other.close()
        store.close()
