"""The gate: better overall, no key regressing beyond the bound, backward transfer."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import uuid4

import pytest

from atlas_core.config.models import GateConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.loop import Example, Gate
from atlas_core.types import Version, VersionKind


def ex(key: str) -> Example:
    return Example(id=uuid4(), learning_key=key, input=[], output="", reference="x")


def version(n: int) -> Version:
    return Version(kind=VersionKind.PROMPT, name="agent", number=n, artifact_uri=f"v{n}")


class TableEvaluator:
    """Scores per (version number, learning key), as if measured."""

    def __init__(self, scores: dict[tuple[int | None, str], float]) -> None:
        self.scores = scores

    def score(self, v: Version | None, examples: Sequence[Example]) -> list[float]:
        n = v.number if v else None
        return [self.scores[(n, e.learning_key)] for e in examples]


HELD = [ex("new") for _ in range(10)]
REPLAY = [ex("old") for _ in range(10)]


def test_passes_when_better_and_nothing_forgotten() -> None:
    ev = TableEvaluator({(1, "new"): 0.2, (1, "old"): 0.9, (2, "new"): 0.8, (2, "old"): 0.89})
    v = Gate(ev, GateConfig(max_key_regression=0.02)).judge(version(2), version(1), HELD, REPLAY)
    assert v.passed
    assert v.reasons == ()
    assert v.candidate == pytest.approx((0.8 + 0.89) / 2)
    assert v.stable == pytest.approx((0.2 + 0.9) / 2)
    assert v.keys["old"].backward_transfer == pytest.approx(-0.01)
    assert v.keys["new"].backward_transfer is None
    m = v.metrics()
    assert m["gate.passed"] == 1.0
    assert m["gate.bwt"] == pytest.approx(-0.01)
    assert m["gate.new.candidate"] == pytest.approx(0.8)
    assert m["gate.old.n"] == 10


def test_rejects_forgetting_even_when_better_overall() -> None:
    ev = TableEvaluator({(1, "new"): 0.0, (1, "old"): 0.9, (2, "new"): 1.0, (2, "old"): 0.6})
    v = Gate(ev, GateConfig(max_key_regression=0.05)).judge(version(2), version(1), HELD, REPLAY)
    assert v.candidate > v.stable
    assert not v.passed
    assert v.reasons == ("key 'old' regresses 0.900 -> 0.600 (bound 0.05)",)
    assert v.backward_transfer == pytest.approx(-0.3)


def test_rejects_no_improvement_and_honours_min_improvement() -> None:
    ev = TableEvaluator({(1, "new"): 0.5, (1, "old"): 0.5, (2, "new"): 0.52, (2, "old"): 0.5})
    assert Gate(ev).judge(version(2), version(1), HELD, REPLAY).passed
    strict = Gate(ev, GateConfig(min_improvement=0.05)).judge(version(2), version(1), HELD, REPLAY)
    assert not strict.passed
    assert "by more than 0.05" in strict.reasons[0]
    same = TableEvaluator({(1, "new"): 0.5, (2, "new"): 0.5})
    assert not Gate(same).judge(version(2), version(1), HELD, []).passed


def test_first_version_is_compared_with_no_version() -> None:
    ev = TableEvaluator({(None, "new"): 0.1, (1, "new"): 0.7})
    assert Gate(ev).judge(version(1), None, HELD, []).passed


def test_small_keys_are_not_judged_alone_and_empty_sets_fail() -> None:
    ev = TableEvaluator({(1, "new"): 0.0, (1, "old"): 1.0, (2, "new"): 1.0, (2, "old"): 0.0})
    v = Gate(ev, GateConfig(min_examples_per_key=11)).judge(version(2), version(1), HELD, REPLAY)
    assert v.passed is False  # overall equal (0.5 vs 0.5), but no key judged alone
    assert all("regresses" not in r for r in v.reasons)
    assert Gate(ev).judge(version(2), version(1), [], []).reasons == ("no evaluation examples",)


def test_a_broken_evaluator_is_named() -> None:
    class Short:
        def score(self, v: Version | None, examples: Sequence[Example]) -> list[float]:
            return [0.5]

    with pytest.raises(InvalidArgumentError, match="evaluator: returned 1 scores for 10"):
        Gate(Short()).judge(version(2), version(1), HELD, [])
