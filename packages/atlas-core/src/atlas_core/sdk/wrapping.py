"""``wrap``: record every call of an agent (sync or async) as an interaction.

How the caller gets the interaction id. The wrapped callable returns the agent's result
*unchanged*, so wrapping is a drop-in change that no caller has to adapt to. The id of the
call just made is then available two ways:

- :func:`last_interaction_id` reads a ``ContextVar`` the wrapper sets, so it is correct per
  thread and per asyncio task (concurrent calls never see each other's ids), and is also set
  when the agent raised, so an ``except`` block can still attach feedback;
- ``wrapped.call_with_id(...)`` (awaitable for async agents) returns
  ``Recorded(result, interaction_id)`` for code that wants both explicitly.

An attribute such as ``wrapped.last_id`` was rejected: it races between threads and tasks.

Recording costs microseconds, not I/O: the call is timed, its input and output encoded and
one event pushed to the transport's buffer. An exception in the agent is recorded (output
empty, ``metadata["error"]`` with its type and message) and re-raised unchanged. Recording
itself never fails the agent's call: a full buffer or a closed recorder is logged and counted
in ``wrapped.recording_errors``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from atlas_core.errors import AtlasError, InvalidArgumentError
from atlas_core.sdk.recorder import Recorder, get_recorder

__all__ = ["AsyncWrapped", "Recorded", "Wrapped", "call_context", "last_interaction_id", "wrap"]

log = logging.getLogger("atlas_core.sdk")

P = ParamSpec("P")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_LAST_ID: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "atlas_last_interaction_id", default=None
)


@dataclass(frozen=True, slots=True)
class _CallContext:
    user_id: str | None = None
    session_id: str | None = None
    metadata: Mapping[str, Any] | None = None


_CONTEXT: contextvars.ContextVar[_CallContext] = contextvars.ContextVar(
    "atlas_call_context",
    default=_CallContext(),  # noqa: B039 - a frozen dataclass: immutable, safe to share
)


@contextlib.contextmanager
def call_context(
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Within the block, wrapped calls in this thread / task are recorded with this user and
    session, and ``metadata`` merged over the wrapper's. Nested blocks override field by
    field (a None field keeps the outer value); metadata merges."""
    for name, value in (("user_id", user_id), ("session_id", session_id)):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidArgumentError(f"invalid argument `{name}`: non-empty str, got {value!r}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"invalid argument `metadata`: a mapping, got {metadata!r}")
    outer = _CONTEXT.get()
    merged = {**(outer.metadata or {}), **(metadata or {})} or None
    token = _CONTEXT.set(
        _CallContext(
            user_id if user_id is not None else outer.user_id,
            session_id if session_id is not None else outer.session_id,
            merged,
        )
    )
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def last_interaction_id() -> uuid.UUID | None:
    """The id of the last interaction a wrapped agent recorded in this thread / task."""
    return _LAST_ID.get()


@dataclass(frozen=True, slots=True)
class Recorded(Generic[T_co]):
    """An agent's result together with the id of the interaction that recorded it."""

    result: T_co
    interaction_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class _Options:
    learning_key: str
    model_version: str | None
    prompt_version: str | None
    recorder: Recorder | None
    input_from: Callable[..., Any] | None
    output_from: Callable[[Any], Any] | None
    metadata: Mapping[str, Any] | None


def _default_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # One positional argument is the common agent shape (a prompt or a message list).
    if len(args) == 1 and not kwargs:
        return args[0]
    return {"args": list(args), "kwargs": kwargs}


class _Base:
    """What the sync and async wrappers share: options, recording, method binding."""

    def __init__(self, agent: Callable[..., Any], options: _Options) -> None:
        self._agent = agent
        self._options = options
        self.recording_errors = 0
        """Calls whose recording failed (full buffer, closed recorder); the call itself ran."""
        functools.update_wrapper(cast(Any, self), agent)

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        # Decorating a method: bind like a function would, so ``self`` is not recorded as input.
        if obj is None:
            return self
        return type(self)(self._agent.__get__(obj, objtype), self._options)

    def _record(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        result: Any,
        started_ns: int,
        error: BaseException | None,
    ) -> uuid.UUID | None:
        latency_ms = (time.perf_counter_ns() - started_ns) / 1e6
        opts = self._options
        try:
            raw_input = (
                opts.input_from(*args, **kwargs)
                if opts.input_from
                else _default_input(args, kwargs)
            )
            context = _CONTEXT.get()
            metadata: Mapping[str, Any] | None = opts.metadata
            if context.metadata:
                metadata = {**(metadata or {}), **context.metadata}
            if error is None:
                output = opts.output_from(result) if opts.output_from else result
            else:
                output = ""
                described = {"type": type(error).__qualname__, "message": str(error)}
                metadata = {**(metadata or {}), "error": described}
            recorder = opts.recorder or get_recorder()
            interaction_id = recorder.record_interaction(
                input=raw_input,
                output=output,
                learning_key=opts.learning_key,
                model_version=opts.model_version,
                prompt_version=opts.prompt_version,
                latency_ms=latency_ms,
                metadata=metadata,
                user_id=context.user_id,
                session_id=context.session_id,
            )
        except (AtlasError, ValueError, TypeError) as err:
            self.recording_errors += 1
            if (
                self.recording_errors & (self.recording_errors - 1) == 0
            ):  # 1, 2, 4, 8, ...: no log flood
                log.warning(
                    "atlas sdk: could not record a call (%d so far): %r", self.recording_errors, err
                )
            _LAST_ID.set(None)
            return None
        _LAST_ID.set(interaction_id)
        return interaction_id


class Wrapped(_Base, Generic[P, T]):
    """A sync agent that records each call; see the module docstring."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter_ns()
        try:
            result: T = self._agent(*args, **kwargs)
        except Exception as exc:
            self._record(args, kwargs, None, started, exc)
            raise
        self._record(args, kwargs, result, started, None)
        return result

    def call_with_id(self, *args: P.args, **kwargs: P.kwargs) -> Recorded[T]:
        """Calls the agent; its result and the interaction id (None only if recording failed)."""
        started = time.perf_counter_ns()
        try:
            result: T = self._agent(*args, **kwargs)
        except Exception as exc:
            self._record(args, kwargs, None, started, exc)
            raise
        interaction_id = self._record(args, kwargs, result, started, None)
        return Recorded(result, interaction_id)  # type: ignore[arg-type]


class AsyncWrapped(_Base, Generic[P, T]):
    """An async agent that records each call; see the module docstring."""

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return (await self._run(args, kwargs))[0]

    async def call_with_id(self, *args: P.args, **kwargs: P.kwargs) -> Recorded[T]:
        """Awaits the agent; its result and the interaction id (None if recording failed)."""
        result, interaction_id = await self._run(args, kwargs)
        return Recorded(result, interaction_id)  # type: ignore[arg-type]

    async def _run(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[T, uuid.UUID | None]:
        started = time.perf_counter_ns()
        try:
            result: T = await self._agent(*args, **kwargs)
        except Exception as exc:
            self._record(args, kwargs, None, started, exc)
            raise
        return result, self._record(args, kwargs, result, started, None)


class _Decorator(Protocol):
    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, agent: Callable[P, Coroutine[Any, Any, T]], /
    ) -> AsyncWrapped[P, T]: ...
    @overload
    def __call__(self, agent: Callable[P, T], /) -> Wrapped[P, T]: ...


@overload
def wrap(  # type: ignore[overload-overlap]
    agent: Callable[P, Coroutine[Any, Any, T]],
    /,
    *,
    learning_key: str = ...,
    model_version: str | None = ...,
    prompt_version: str | None = ...,
    recorder: Recorder | None = ...,
    input_from: Callable[..., Any] | None = ...,
    output_from: Callable[[Any], Any] | None = ...,
    metadata: Mapping[str, Any] | None = ...,
) -> AsyncWrapped[P, T]: ...
@overload
def wrap(
    agent: Callable[P, T],
    /,
    *,
    learning_key: str = ...,
    model_version: str | None = ...,
    prompt_version: str | None = ...,
    recorder: Recorder | None = ...,
    input_from: Callable[..., Any] | None = ...,
    output_from: Callable[[Any], Any] | None = ...,
    metadata: Mapping[str, Any] | None = ...,
) -> Wrapped[P, T]: ...
@overload
def wrap(
    agent: None = None,
    /,
    *,
    learning_key: str = ...,
    model_version: str | None = ...,
    prompt_version: str | None = ...,
    recorder: Recorder | None = ...,
    input_from: Callable[..., Any] | None = ...,
    output_from: Callable[[Any], Any] | None = ...,
    metadata: Mapping[str, Any] | None = ...,
) -> _Decorator: ...
def wrap(
    agent: Callable[..., Any] | None = None,
    /,
    *,
    learning_key: str = "default",
    model_version: str | None = None,
    prompt_version: str | None = None,
    recorder: Recorder | None = None,
    input_from: Callable[..., Any] | None = None,
    output_from: Callable[[Any], Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """Records each call of ``agent`` as an interaction; ``wrap(agent)`` or ``@wrap(...)``.

    ``learning_key``, ``model_version`` and ``prompt_version`` are stored with every call.
    ``recorder`` defaults to the process-wide one (:func:`atlas_core.sdk.configure`), looked
    up at call time. ``input_from(*args, **kwargs)`` and ``output_from(result)`` pick what
    is stored (default: the single positional argument, else ``{"args", "kwargs"}``; and the
    result); a str input is one user message, a list of role/content dicts a conversation.
    ``metadata`` is stored with every call. Returns the agent's result unchanged; the id is
    :func:`last_interaction_id` or comes from ``call_with_id``.
    """
    if not isinstance(learning_key, str) or not learning_key:
        raise InvalidArgumentError(
            f"invalid argument `learning_key`: non-empty str, got {learning_key!r}"
        )
    for name, value in (("model_version", model_version), ("prompt_version", prompt_version)):
        if value is not None and not isinstance(value, str):
            raise InvalidArgumentError(f"invalid argument `{name}`: str or None, got {value!r}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"invalid argument `metadata`: a mapping, got {metadata!r}")
    options = _Options(
        learning_key, model_version, prompt_version, recorder, input_from, output_from, metadata
    )

    def decorate(target: Callable[..., Any]) -> Any:
        if not callable(target):
            raise InvalidArgumentError(f"invalid argument `agent`: not callable: {target!r}")
        if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
            getattr(target, "__call__", None)  # noqa: B004 - an async callable object
        ):
            return AsyncWrapped(target, options)
        return Wrapped(target, options)

    return decorate if agent is None else decorate(agent)
