"""The continual-learning loop (ARCHITECTURE.md §9): see README.md in this folder.

- :mod:`~atlas_core.loop.scheduler`: when to learn (sample count, time, drift, error rate);
- :mod:`~atlas_core.loop.selection` and :mod:`~atlas_core.loop.memory`: what to learn from
  (value-weighted choice, replay from every learning key, held-out sets), and
  :mod:`~atlas_core.loop.intake` (each interaction learned from once, late feedback waited for);
- :mod:`~atlas_core.loop.learner`: the learner protocol and plugin discovery;
- :mod:`~atlas_core.loop.gate`: the non-regression gate with backward transfer;
- :mod:`~atlas_core.loop.rollout` and :mod:`~atlas_core.loop.router`: shadow, canary,
  blue-green and sticky routing, with the state in the store (:mod:`~atlas_core.loop.observations`:
  the canary figures from recorded interactions);
- :mod:`~atlas_core.loop.active`: budgeted feedback requests;
- :mod:`~atlas_core.loop.engine`: :class:`LearningLoop`, all of it wired together.
"""

from atlas_core.loop.active import FeedbackRequester, TokenBucket
from atlas_core.loop.clock import Clock, ManualClock, SystemClock
from atlas_core.loop.engine import LearningLoop, UpdateResult
from atlas_core.loop.examples import Example, load_examples, prompt_text
from atlas_core.loop.gate import Evaluator, Gate, GateVerdict, KeyScore
from atlas_core.loop.intake import ExampleIntake
from atlas_core.loop.learner import Learner, LearnerResult, LearningTask, load_learner
from atlas_core.loop.memory import ExampleMemory, ReplayMemory
from atlas_core.loop.observations import arm_stats_from_store
from atlas_core.loop.rollout import Rollout, RolloutError, StepOutcome
from atlas_core.loop.rollout_state import Phase, RolloutState, rollout_history, rollout_log
from atlas_core.loop.router import Route, Router
from atlas_core.loop.scheduler import Decision, Scheduler
from atlas_core.loop.selection import select, value_scores

__all__ = [
    "Clock",
    "Decision",
    "Evaluator",
    "Example",
    "ExampleIntake",
    "ExampleMemory",
    "FeedbackRequester",
    "Gate",
    "GateVerdict",
    "KeyScore",
    "Learner",
    "LearnerResult",
    "LearningLoop",
    "LearningTask",
    "ManualClock",
    "Phase",
    "ReplayMemory",
    "Rollout",
    "RolloutError",
    "RolloutState",
    "Route",
    "Router",
    "Scheduler",
    "StepOutcome",
    "SystemClock",
    "TokenBucket",
    "UpdateResult",
    "arm_stats_from_store",
    "load_examples",
    "load_learner",
    "prompt_text",
    "rollout_history",
    "rollout_log",
    "select",
    "value_scores",
]
