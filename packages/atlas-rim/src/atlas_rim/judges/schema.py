"""The JSON a judge must answer with, and how its text is turned into a validated verdict.

A judge scoring one response answers ``{"principles": [...], "score": s, "rationale": "...",
"uncertainty": u}``; a judge ranking N responses answers the same with ``"scores": [s1..sN]``.
Scores and uncertainty lie in [0, 1]. Models often wrap JSON in prose or a code fence, so the
outermost ``{...}`` of the text is what is validated; anything else is a parse failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from atlas_core.errors import AtlasError

__all__ = ["GroupVerdictModel", "Verdict", "VerdictModel", "VerdictParseError", "parse_verdict"]


class VerdictParseError(AtlasError, ValueError):
    """A judge's answer is not the JSON verdict it was asked for."""


class _Base(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    principles: list[str] = Field(description="The principles applied, each with its finding.")
    rationale: str = Field(description="Why this score, in a few sentences.")
    uncertainty: float = Field(ge=0.0, le=1.0, description="0 = sure, 1 = a guess.")


class VerdictModel(_Base):
    """Schema of a judge's answer about one response."""

    score: float = Field(ge=0.0, le=1.0, description="Quality of the response.")


class GroupVerdictModel(_Base):
    """Schema of a judge's answer about N responses to one prompt, judged together."""

    scores: list[float] = Field(description="One score in [0, 1] per response, in order.")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A validated answer; ``scores`` has one entry per judged response."""

    scores: tuple[float, ...]
    principles: tuple[str, ...]
    rationale: str
    uncertainty: float


def _json_object(text: str) -> str:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise VerdictParseError(f"no JSON object in the answer: {text[:120]!r}")
    return text[start : end + 1]


def parse_verdict(text: str, n_responses: int) -> Verdict:
    """The verdict in ``text`` about ``n_responses`` responses, else VerdictParseError."""
    raw = text.strip()
    if not (raw.startswith("{") and raw.endswith("}")):  # prose or a fence around the JSON
        raw = _json_object(text)
    try:
        if n_responses == 1:
            one = VerdictModel.model_validate_json(raw)
            return Verdict((one.score,), tuple(one.principles), one.rationale, one.uncertainty)
        group = GroupVerdictModel.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise VerdictParseError(f"invalid verdict: {where}: {first['msg']}") from exc
    if len(group.scores) != n_responses:
        raise VerdictParseError(
            f"invalid verdict: {len(group.scores)} scores for {n_responses} responses"
        )
    if any(not 0.0 <= s <= 1.0 for s in group.scores):
        raise VerdictParseError(f"invalid verdict: scores must lie in [0, 1], got {group.scores}")
    return Verdict(tuple(group.scores), tuple(group.principles), group.rationale, group.uncertainty)
