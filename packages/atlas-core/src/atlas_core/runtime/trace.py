"""The trace of one run: every step, its text, tokens, latency and error.

RIM and the learners read it from ``Interaction.metadata["trace"]`` (the JSON of
:meth:`Trace.to_json`): it is what a teacher said to a student, and what came of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Step", "Trace"]


@dataclass(frozen=True)
class Step:
    """One agent call of the protocol (or its failure)."""

    name: str
    """``baseline``, ``probe``, ``review``, ``retry``, ``guidance``, ``guided``."""
    role: str
    """``student`` or ``teacher``."""
    text: str
    """What the agent answered ("" when it failed)."""
    prompt: str = ""
    """The prompt sent (the rendered template)."""
    template: str | None = None
    """``name@number`` of the template rendered."""
    model: str | None = None
    """What answered (the agent's model version)."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    attempts: int = 1
    error: str | None = None
    """``ErrorType: message`` when the call failed."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Tool calls the model asked for (OpenAI shape), passed through."""

    @property
    def ok(self) -> bool:
        """Whether the call produced an answer."""
        return self.error is None


@dataclass
class Trace:
    """Every step of one run, in order."""

    steps: list[Step] = field(default_factory=list)

    def add(self, step: Step) -> Step:
        """Appends ``step`` and returns it."""
        self.steps.append(step)
        return step

    def find(self, name: str) -> Step | None:
        """The last step called ``name``, if any."""
        for step in reversed(self.steps):
            if step.name == name:
                return step
        return None

    @property
    def errors(self) -> list[str]:
        """``step: error`` of every failed step."""
        return [f"{s.name}: {s.error}" for s in self.steps if s.error is not None]

    def tokens(self) -> tuple[int, int]:
        """(prompt, completion) tokens summed over the steps that reported them."""
        prompt = sum(s.prompt_tokens or 0 for s in self.steps)
        completion = sum(s.completion_tokens or 0 for s in self.steps)
        return prompt, completion

    def to_json(self) -> list[dict[str, Any]]:
        """The steps as JSON-ready dicts."""
        return [asdict(s) for s in self.steps]
