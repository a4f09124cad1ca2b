"""The protocol's parsing of teacher output, and the playbook's injection rules."""

from __future__ import annotations

import pytest

from atlas_core.runtime import (
    AgentResponseError,
    Playbook,
    parse_confidence,
    parse_review,
    split_lesson,
)
from atlas_core.runtime.playbook import MAX_ENTRY_CHARS, estimate_tokens
from atlas_core.store import Store
from atlas_core.types import Interaction, Reward


@pytest.mark.parametrize(
    ("text", "verdict", "feedback"),
    [
        ("VERDICT: OK", "ok", ""),
        ("verdict: ok.", "ok", ""),
        ("**VERDICT: REVISE**\nThe sum is off by one.", "revise", "The sum is off by one."),
        ("VERDICT: REVISE - carry the one", "revise", "carry the one"),
        ("Let me check.\nVERDICT: REVISE\n\nRedo step 2.", "revise", "Redo step 2."),
    ],
)
def test_parse_review(text: str, verdict: str, feedback: str) -> None:
    assert parse_review(text) == (verdict, feedback)


@pytest.mark.parametrize("text", ["", "Looks good", "a\nb\nc\nVERDICT: OK", "VERDICT: maybe"])
def test_parse_review_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(AgentResponseError, match="VERDICT"):
        parse_review(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.7", 0.7), ("1", 1.0), ("Confidence: .25", 0.25), ("70%", 0.7), ("about 0 really", 0.0)],
)
def test_parse_confidence(text: str, value: float) -> None:
    assert parse_confidence(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "high", "7", "150%", "-0.5x2"])
def test_parse_confidence_refuses(text: str) -> None:
    with pytest.raises(AgentResponseError, match="probe model"):
        parse_confidence(text)


def test_split_lesson() -> None:
    assert split_lesson("Add units first.\nLESSON: Check carries.") == (
        "Add units first.",
        "Check carries.",
    )
    assert split_lesson("Do X.\nLesson: none") == ("Do X.", None)
    assert split_lesson("Just guidance.") == ("Just guidance.", None)


def test_playbook_budget_order_and_holdout(store: Store) -> None:
    book = Playbook(store)
    old = book.add("k", "Old advice that is fairly long " * 3)
    new = book.add("k", "  New   advice ")
    assert new.text == "New advice"
    assert book.add("k", "new ADVICE").id == new.id  # duplicate by normalised text
    assert [e.id for e in book.entries("k")] == [old.id, new.id]
    assert [e.id for e in book.select("k", 1000)] == [new.id, old.id]  # unmeasured: newest first
    cost_new = estimate_tokens(new.text) + 2
    assert [e.id for e in book.select("k", cost_new)] == [new.id]  # budget
    assert book.select("k", 0) == []
    assert book.select("other", 1000) == []
    # Holdout: each entry is withheld from about that fraction of calls, deterministically.
    held = sum(
        1
        for i in range(2000)
        if new.id not in {e.id for e in book.select("k", 1000, holdout=0.25, call_key=str(i))}
    )
    assert 400 < held < 600
    picks = [book.select("k", 1000, holdout=0.5, call_key="same") for _ in range(3)]
    assert picks[0] == picks[1] == picks[2]
    rendered = Playbook.render([new])
    assert rendered == "Guidance learned from earlier tasks of this kind:\n- New advice\n\n"
    assert Playbook.render([]) == ""


def test_playbook_usage_comes_from_the_recorded_calls(store: Store) -> None:
    book = Playbook(store, tenant="acme")
    entry = book.add("k", "Be brief.")
    other = book.add("k", "Be kind.")
    calls = [
        Interaction(
            tenant_id="acme",
            input=[{"role": "user", "content": "q"}],
            output="a",
            learning_key="k",
            metadata={"playbook": ids},
        )
        for ids in ([entry.id], [entry.id, other.id], [], [entry.id])
    ]
    store.write_interactions(calls)
    store.write_rewards(
        [
            Reward(tenant_id="acme", interaction_id=c.id, score=s)
            for c, s in zip(calls, [1.0, 0.5, 0.0], strict=False)
        ]
    )
    impact = book.impact("k")
    assert (impact[entry.id].applied, impact[entry.id].n_with) == (3, 2)
    assert impact[entry.id].mean_with == 0.75
    assert (impact[entry.id].n_without, impact[entry.id].mean_without) == (1, 0.0)
    assert impact[entry.id].last_applied_at == calls[3].created_at.timestamp()
    assert (impact[other.id].applied, impact[other.id].mean_with) == (1, 0.5)
    assert book.review("k", min_samples=1) == []
    stored = {e.id: e for e in book.entries("k")}
    assert (stored[entry.id].uses, stored[other.id].uses) == (3, 1)
    assert stored[entry.id].impact == impact[entry.id]
    assert Playbook(store).entries("k") == []  # another tenant's playbook


def test_playbook_entry_limits(store: Store) -> None:
    book = Playbook(store)
    parent = book.add("support", "Greet first.")
    child = book.add("support/billing", "Quote the invoice number.")
    assert [e.id for e in book.entries("support")] == [parent.id]
    assert [e.id for e in book.entries("support/billing")] == [child.id]
    with pytest.raises(ValueError, match="`text`"):
        book.add("k", "   ")
    with pytest.raises(ValueError, match="at most"):
        book.add("k", "x" * (MAX_ENTRY_CHARS + 1))
