"""A deterministic synthetic task for GEPA tests and benchmarks, served by the fixture server.

Tasks are additions ("What is 17 + 25?") with the sum as the gold label. The student model
answers with the bare number only when its prompt asks for "the final answer only", and
otherwise rambles (an exact-match miss). The reflection model (model name ``reflector``)
proposes the fix. So the seed template scores 0 and the reflection's proposal scores 1:
the engine must find and accept it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from atlas_core.store import Store, open_store
from atlas_core.testing.openai_server import ChatCall, FakeLLMServer, Reply
from atlas_core.types import Feedback, Interaction

FIXED = "Give the final answer only, as a bare number.\n\n${task}"
"""What the scripted reflection model proposes for the student template."""

_SUM = re.compile(r"What is (\d+) \+ (\d+)\?")


def student_answer(prompt: str) -> str:
    """The scripted student: right and terse when told, else a rambling miss."""
    m = _SUM.search(prompt)
    if m is None:
        return "I cannot tell what you are asking."
    total = int(m.group(1)) + int(m.group(2))
    if "final answer only" in prompt.lower():
        return str(total)
    return f"Let me think about it: {m.group(1)} plus {m.group(2)} is {total}, I believe."


FIXED_BY_ROLE = {
    "student": FIXED,
    "student_with_guidance": "${task}\n\nA teacher says: ${guidance}\n\nGive the final answer only",
    "teacher_guidance": "Task: ${task}\nThe student plans: ${probe}\nAdvise the student briefly.",
}
"""What the scripted reflection model proposes, by the role named in its prompt."""

_ROLE = re.compile(r"Role of this template: (\w+)")


def reflection_answer(call: ChatCall) -> str:
    """The scripted reflection model: an improved template for the role asked about, fenced."""
    m = _ROLE.search(call.last_user)
    text = FIXED_BY_ROLE.get(m.group(1) if m else "student", FIXED)
    return "Here is a better template:\n```\n" + text + "\n```"


def responder(call: ChatCall) -> Reply | str:
    """Routes by model name: ``reflector`` reflects, ``teacher`` guides, any other model is
    the student (``BROKEN`` in a task: a malformed body; ``SLOW``: an answer after 2 s)."""
    if call.model == "reflector":
        return reflection_answer(call)
    if call.model == "teacher":
        return "Add the two numbers. LESSON: none"
    if "BROKEN" in call.last_user:
        return Reply(raw_body="{not json")
    if "SLOW" in call.last_user:
        return Reply(content="too late", delay_s=2.0)
    return student_answer(call.last_user)


def seed_store(path: Path, n: int = 8, tenant: str = "default", key: str = "math") -> Store:
    """A SQLite store with ``n`` labelled addition interactions, each with a user's comment
    (and every other one a rating)."""
    store = open_store("sqlite:///" + str(path))
    interactions = []
    feedback: list[Feedback] = []
    for i in range(n):
        a, b = 10 + i, 20 + 2 * i
        task = f"What is {a} + {b}?"
        inter = Interaction.model_validate(
            {
                "tenant_id": tenant,
                "learning_key": key,
                "input": [{"role": "user", "content": task}],
                "output": student_answer(task),
            }
        )
        interactions.append(inter)
        about = {"tenant_id": tenant, "interaction_id": inter.id}
        feedback.append(Feedback.model_validate(about | {"kind": "label", "text": str(a + b)}))
        comment = "too wordy, just give me the number"
        feedback.append(Feedback.model_validate(about | {"kind": "comment", "text": comment}))
        if i % 2 == 0:
            rating = {"kind": "rating", "value": 2, "scale_min": 1, "scale_max": 5}
            feedback.append(Feedback.model_validate(about | rating))
    store.write_interactions(interactions)
    store.write_feedback(feedback)
    return store


def gepa_config(tmp_path: Path, server: FakeLLMServer, **extra: Any) -> dict[str, Any]:
    """A GEPA config (as a dict) for the synthetic task on ``server``, data in ``tmp_path``."""
    config: dict[str, Any] = {
        "store_url": "sqlite:///" + str(tmp_path / "atlas.db"),
        "learning_keys": ["math"],
        "target_roles": ["student"],
        "runtime": {"student": {"base_url": server.base_url, "model": "student"}},
        "lane": "auto",
        "reflection": {"base_url": server.base_url, "model": "reflector"},
        "scoring": {"method": "gold"},
        "budget": {"max_metric_calls": 40},
        "concurrency": 4,
        "val_fraction": 0.5,
        "minibatch_size": 2,
        "use_merge": False,
        "run_dir": str(tmp_path / "run"),
    }
    config.update(extra)
    return config
