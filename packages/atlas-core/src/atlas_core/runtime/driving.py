"""Driving the protocol generator: agent calls made blocking or on the event loop.

Whatever an agent raises reaches the protocol as an :class:`AgentError` (never as an
exception out of the driver), which is what lets every failure degrade instead of crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from atlas_core.runtime.agent import Agent, AgentReply
from atlas_core.runtime.errors import AgentError
from atlas_core.runtime.protocol import Call, CallResult, Driven, ProtocolResult

__all__ = ["AgentFor", "as_agent_error", "drive_async", "drive_sync"]

AgentFor = Callable[[Call], Agent]
"""Which agent answers a call (the student or the teacher)."""


def drive_sync(gen: Driven, agent_for: AgentFor) -> ProtocolResult:
    """Runs the protocol to its result, one blocking agent call after another."""
    try:
        calls = next(gen)
        while True:
            calls = gen.send([_call_sync(agent_for(call), call) for call in calls])
    except StopIteration as stop:
        result: ProtocolResult = stop.value
        return result


async def drive_async(gen: Driven, agent_for: AgentFor) -> ProtocolResult:
    """Runs the protocol to its result; the calls it asks for together run concurrently."""
    try:
        calls = next(gen)
        while True:
            results = await asyncio.gather(*(_call_async(agent_for(c), c) for c in calls))
            calls = gen.send(list(results))
    except StopIteration as stop:
        result: ProtocolResult = stop.value
        return result


def _call_sync(agent: Agent, call: Call) -> CallResult:
    try:
        return agent.run([{"role": "user", "content": call.prompt}])
    except Exception as exc:
        return as_agent_error(agent, exc)


async def _call_async(agent: Agent, call: Call) -> CallResult:
    try:
        reply: AgentReply = await agent.arun([{"role": "user", "content": call.prompt}])
    except Exception as exc:
        return as_agent_error(agent, exc)
    return reply


def as_agent_error(agent: Agent, exc: Exception) -> AgentError:
    """``exc`` as an AgentError naming the agent (itself when it already is one)."""
    if isinstance(exc, AgentError):
        return exc
    # An adapter outside this package may raise anything; the protocol only sees AgentError.
    error = AgentError(f"agent {getattr(agent, 'name', agent)!r}: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error
