"""The reasoning core: agent adapters and the adaptive-teaching protocol (ARCHITECTURE.md §7).

Wrap an agent, give it a teacher, and serve it::

    from atlas_core.llm import Endpoint
    from atlas_core.runtime import ChatAgent, FunctionAgent, Runtime

    runtime = Runtime(FunctionAgent(my_agent), ChatAgent(Endpoint(url, "teacher-model")),
                      store=store)
    outcome = runtime.run("What is 17 * 23?", learning_key="arithmetic")
    outcome.answer, outcome.lane, outcome.trace, outcome.interaction_id

Modules: ``agent`` (the ``Agent`` protocol), ``function_agent`` / ``chat_agent`` /
``http_agent`` (adapters), ``templates`` (versioned prompts), ``playbook``, ``capability``,
``lanes``, ``protocol`` (the steps), ``driving`` (sync / async), ``trace``, ``recording``
(what a run leaves in the Store), ``runtime`` (the ``Runtime`` that ties them together).
"""

from atlas_core.runtime.agent import Agent, AgentReply, Message
from atlas_core.runtime.capability import Capability, CapabilityEstimator
from atlas_core.runtime.chat_agent import ChatAgent
from atlas_core.runtime.errors import (
    AgentError,
    AgentResponseError,
    AgentStatusError,
    AgentTimeoutError,
    TemplateError,
)
from atlas_core.runtime.function_agent import FunctionAgent
from atlas_core.runtime.http_agent import HttpAgent
from atlas_core.runtime.lanes import Lane, LaneDecision, choose_lane
from atlas_core.runtime.playbook import Impact, Playbook, PlaybookEntry
from atlas_core.runtime.protocol import parse_confidence, parse_review, split_lesson
from atlas_core.runtime.runtime import Outcome, Runtime
from atlas_core.runtime.templates import (
    DEFAULT_TEXTS,
    PromptTemplate,
    Role,
    TemplateRegistry,
    TemplateSet,
)
from atlas_core.runtime.trace import Step, Trace

__all__ = [
    "DEFAULT_TEXTS",
    "Agent",
    "AgentError",
    "AgentReply",
    "AgentResponseError",
    "AgentStatusError",
    "AgentTimeoutError",
    "Capability",
    "CapabilityEstimator",
    "ChatAgent",
    "FunctionAgent",
    "HttpAgent",
    "Impact",
    "Lane",
    "LaneDecision",
    "Message",
    "Outcome",
    "Playbook",
    "PlaybookEntry",
    "PromptTemplate",
    "Role",
    "Runtime",
    "Step",
    "TemplateError",
    "TemplateRegistry",
    "TemplateSet",
    "Trace",
    "choose_lane",
    "parse_confidence",
    "parse_review",
    "split_lesson",
]
