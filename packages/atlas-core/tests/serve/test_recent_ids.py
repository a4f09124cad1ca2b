"""The pipeline's memory of recently committed interaction ids."""

from __future__ import annotations

from atlas_core.serve.recent_ids import RecentIds


def test_remembers_per_tenant_and_forgets_on_discard() -> None:
    recent = RecentIds(100)
    recent.add("a", {b"1", b"2"})
    assert recent.unknown("a", [b"1", b"2", b"3"]) == {b"3"}
    assert recent.unknown("b", [b"1"]) == {b"1"}  # another tenant's id is not known
    recent.discard("a", [b"1"])
    assert recent.unknown("a", [b"1", b"2"]) == {b"1"}


def test_keeps_at_least_the_last_half_of_its_capacity() -> None:
    recent = RecentIds(10)
    ids = [str(i).encode() for i in range(40)]
    for i in ids:
        recent.add("a", [i])
    assert recent.unknown("a", ids[-5:]) == set()
    assert len(recent.unknown("a", ids)) >= 40 - 10  # bounded: old generations dropped
