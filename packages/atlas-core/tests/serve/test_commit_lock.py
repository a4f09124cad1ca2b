"""Workers take turns to commit through the supervisor's lock file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from atlas_core.serve.commit_lock import COMMIT_LOCK_ENV, CommitLock


def test_a_second_holder_waits_for_the_first(tmp_path: Path) -> None:
    path = str(tmp_path / "commit.lock")
    first, second = CommitLock(path), CommitLock(path)  # two open files, as two workers
    order: list[str] = []

    def other() -> None:
        with second.turn():
            order.append("second")

    with first.turn():
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.3)
        assert thread.is_alive()  # still waiting: the first holds the turn
        order.append("first done")
    thread.join(10)
    assert order == ["first done", "second"]
    first.close()
    second.close()
    second.close()  # idempotent


def test_without_a_lock_file_turns_are_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(COMMIT_LOCK_ENV, raising=False)
    lock = CommitLock.from_env()
    assert lock.path is None
    with lock.turn(), lock.turn():  # no-op: re-entrant, never blocks
        pass


def test_the_supervisors_file_is_taken_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(COMMIT_LOCK_ENV, str(tmp_path / "c.lock"))
    lock = CommitLock.from_env()
    assert lock.path == str(tmp_path / "c.lock")
    with lock.turn():
        assert (tmp_path / "c.lock").exists()
    lock.close()
