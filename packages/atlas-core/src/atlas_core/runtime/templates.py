"""Versioned prompt templates of the protocol: defaults in code, versions in the Store.

Each protocol role (:class:`Role`) has one template family, a ``Version`` of kind
``prompt`` named ``<family>.<role>`` per template version. The text of a version lives in
the Store's key-value entries (namespace :data:`TEXT_NAMESPACE`, key ``<name>/<number>``)
and ``artifact_uri`` points there (``kv://...``). Why not inline in ``artifact_uri``: the
GEPA learner evolves multi-paragraph prompts, and listing versions (every rollout and gate
read) should not drag every prompt text along; the kv entry also carries a SHA-256 that
is checked on load, so a text edited behind the registry's back is refused, not served.

Templates use ``${name}`` placeholders (:class:`string.Template`); each role declares the
variables it may use and those it must use, checked when a version is registered.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from atlas_core.runtime.errors import TemplateError
from atlas_core.store import Store
from atlas_core.types import Version, VersionKind, VersionStatus

__all__ = [
    "DEFAULT_TEXTS",
    "TEXT_NAMESPACE",
    "PromptTemplate",
    "Role",
    "TemplateRegistry",
    "TemplateSet",
]

TEXT_NAMESPACE = "runtime.templates"


class Role(StrEnum):
    """The prompts the protocol sends."""

    STUDENT = "student"
    """The student's baseline answer."""
    PROBE = "probe"
    """The student states its approach, without answering."""
    PROBE_SCORE = "probe_score"
    """The optional probe model rates the stated approach (a confidence in [0, 1])."""
    TEACHER_REVIEW = "teacher_review"
    """Paired lane: the teacher checks the baseline answer."""
    STUDENT_RETRY = "student_retry"
    """Paired lane: the student answers again with the teacher's feedback."""
    TEACHER_GUIDANCE = "teacher_guidance"
    """Coach lane: the teacher writes guidance adapted to the probe."""
    STUDENT_WITH_GUIDANCE = "student_with_guidance"
    """Coach lane: the student answers with the guidance."""


#: (allowed variables, required variables) per role.
VARIABLES: dict[Role, tuple[frozenset[str], frozenset[str]]] = {
    Role.STUDENT: (frozenset({"task", "playbook"}), frozenset({"task"})),
    Role.PROBE: (frozenset({"task", "playbook"}), frozenset({"task"})),
    Role.PROBE_SCORE: (frozenset({"task", "probe"}), frozenset({"task", "probe"})),
    Role.TEACHER_REVIEW: (frozenset({"task", "probe", "answer"}), frozenset({"task", "answer"})),
    Role.STUDENT_RETRY: (
        frozenset({"task", "playbook", "answer", "feedback"}),
        frozenset({"task", "feedback"}),
    ),
    Role.TEACHER_GUIDANCE: (frozenset({"task", "probe"}), frozenset({"task", "probe"})),
    Role.STUDENT_WITH_GUIDANCE: (
        frozenset({"task", "playbook", "guidance"}),
        frozenset({"task", "guidance"}),
    ),
}

DEFAULT_TEXTS: dict[Role, str] = {
    Role.STUDENT: "${playbook}${task}",
    Role.PROBE: (
        "${playbook}Do not answer the task yet. In two or three sentences, state how you would "
        "approach it and what you are unsure about.\n\nTask:\n${task}"
    ),
    Role.PROBE_SCORE: (
        "A student described how it will approach a task.\n\nTask:\n${task}\n\n"
        "Its approach:\n${probe}\n\nHow likely is this approach to give a correct, complete "
        "answer? Reply with one number between 0 and 1 and nothing else."
    ),
    Role.TEACHER_REVIEW: (
        "You are reviewing a student's answer.\n\nTask:\n${task}\n\n"
        "The student's stated approach:\n${probe}\n\nThe student's answer:\n${answer}\n\n"
        "If the answer is correct and complete, reply with the single line: VERDICT: OK\n"
        "Otherwise reply with VERDICT: REVISE on the first line, followed by short, specific "
        "feedback the student can act on. Do not write the answer yourself."
    ),
    Role.STUDENT_RETRY: (
        "${playbook}${task}\n\nYour previous answer:\n${answer}\n\n"
        "A reviewer's feedback:\n${feedback}\n\nWrite an improved answer."
    ),
    Role.TEACHER_GUIDANCE: (
        "A student is about to attempt a task.\n\nTask:\n${task}\n\n"
        "The student's stated approach:\n${probe}\n\n"
        "Write brief guidance (at most five sentences) that corrects or sharpens this approach; "
        "do not give the final answer. Then, on a last line starting with LESSON:, state one "
        "general rule worth remembering for similar tasks (or LESSON: none)."
    ),
    Role.STUDENT_WITH_GUIDANCE: "${playbook}${task}\n\nGuidance from a teacher:\n${guidance}",
}


def check_text(role: Role, text: str) -> None:
    """Raises TemplateError unless ``text`` is a valid template for ``role``."""
    if not isinstance(text, str) or not text.strip():
        raise TemplateError(f"template {role.value}: text must be a non-empty str")
    template = string.Template(text)
    if not template.is_valid():
        raise TemplateError(f"template {role.value}: malformed placeholder (use ${{name}})")
    used = set(template.get_identifiers())
    allowed, required = VARIABLES[role]
    if unknown := used - allowed:
        raise TemplateError(
            f"template {role.value}: unknown variable(s) {sorted(unknown)}; "
            f"allowed: {sorted(allowed)}"
        )
    if missing := required - used:
        raise TemplateError(f"template {role.value}: must use {sorted(missing)}")


@dataclass(frozen=True)
class PromptTemplate:
    """One version of one role's template."""

    role: Role
    text: str
    name: str
    """The Version name, ``<family>.<role>``."""
    number: int
    """The Version number (1 for the shipped default as registered; 0: not registered)."""
    version_id: UUID | None = None

    @property
    def ref(self) -> str:
        """``name@number``: how the template is named in recordings."""
        return f"{self.name}@{self.number}"

    def render(self, **values: str) -> str:
        """The text with every placeholder filled; TemplateError naming a missing value."""
        try:
            return string.Template(self.text).substitute(values)
        except KeyError as exc:
            raise TemplateError(f"template {self.ref}: no value for {exc.args[0]!r}") from None


@dataclass(frozen=True)
class TemplateSet:
    """The template of every role the protocol uses in one run."""

    templates: dict[Role, PromptTemplate]

    def __getitem__(self, role: Role) -> PromptTemplate:
        return self.templates[role]

    def refs(self) -> dict[str, str]:
        """Role -> ``name@number`` of every template."""
        return {role.value: t.ref for role, t in self.templates.items()}


class TemplateRegistry:
    """The prompt templates of one tenant and family, versioned in a Store."""

    def __init__(self, store: Store, tenant: str = "default", family: str = "atlas.runtime"):
        if not family or not isinstance(family, str):
            raise TemplateError(f"invalid argument `family`: a non-empty str, got {family!r}")
        self.store = store
        self.tenant = tenant
        self.family = family

    def name(self, role: Role) -> str:
        """The Version name of ``role``'s templates."""
        return f"{self.family}.{Role(role).value}"

    def register(
        self,
        role: Role,
        text: str,
        *,
        parent: PromptTemplate | None = None,
        status: VersionStatus = VersionStatus.CANDIDATE,
        alias: str | None = None,
    ) -> PromptTemplate:
        """Stores ``text`` as the next version of ``role``'s template (and points ``alias`` at
        it when given). TemplateError when the text is not a valid template for the role."""
        role = Role(role)
        check_text(role, text)
        name = self.name(role)
        existing = self.store.versions(self.tenant, VersionKind.PROMPT, name)
        number = max((v.number for v in existing), default=0) + 1
        key = f"{name}/{number}"
        digest = hashlib.sha256(text.encode()).hexdigest()
        # Text first: a version row never points at a missing text (a text without a row,
        # after a crash in between, is harmless and overwritten by the next register).
        self.store.kv_put(
            self.tenant, TEXT_NAMESPACE, {key: json.dumps({"text": text, "sha256": digest})}
        )
        version = Version(
            tenant_id=self.tenant,
            kind=VersionKind.PROMPT,
            name=name,
            number=number,
            artifact_uri=f"kv://{TEXT_NAMESPACE}/{key}",
            parent_id=parent.version_id if parent is not None else None,
            status=status,
            aliases=(alias,) if alias is not None else (),  # set in the same transaction
        )
        self.store.put_version(version)
        return PromptTemplate(role, text, name, number, version.id)

    def load(self, role: Role, alias: str = "production") -> PromptTemplate:
        """The version ``alias`` points at; TemplateError when the alias is not set."""
        role = Role(role)
        version = self.store.resolve_alias(self.tenant, VersionKind.PROMPT, self.name(role), alias)
        if version is None:
            raise TemplateError(
                f"template {self.name(role)}: no version has alias {alias!r} "
                "(call ensure_defaults() or register one)"
            )
        return self.load_version(role, version)

    def load_version(self, role: Role, version: Version) -> PromptTemplate:
        """The template a Version row describes (its text read and checked)."""
        prefix = f"kv://{TEXT_NAMESPACE}/"
        if not version.artifact_uri.startswith(prefix):
            raise TemplateError(f"template {version.name}@{version.number}: not a kv artifact")
        key = version.artifact_uri[len(prefix) :]
        stored = self.store.kv_get(self.tenant, TEXT_NAMESPACE, [key]).get(key)
        if stored is None:
            raise TemplateError(f"template {key}: its text is missing from the store")
        entry = json.loads(stored)
        text = entry["text"]
        if hashlib.sha256(text.encode()).hexdigest() != entry.get("sha256"):
            raise TemplateError(f"template {key}: text does not match its recorded SHA-256")
        return PromptTemplate(Role(role), text, version.name, version.number, version.id)

    def promote(self, template: PromptTemplate, alias: str = "production") -> None:
        """Points ``alias`` at ``template``'s version."""
        if template.version_id is None:
            raise TemplateError(f"template {template.ref}: not registered")
        self.store.set_alias(self.tenant, alias, template.version_id)

    def ensure_defaults(self) -> TemplateSet:
        """Registers the shipped default of every role that has no version yet (as version 1,
        aliased ``production``); returns the production set."""
        for role in Role:
            if self.store.versions(self.tenant, VersionKind.PROMPT, self.name(role)):
                continue
            try:
                self.register(
                    role, DEFAULT_TEXTS[role], status=VersionStatus.PRODUCTION, alias="production"
                )
            except Exception:
                # Another process registered it first (same number): theirs is the same text.
                if not self.store.versions(self.tenant, VersionKind.PROMPT, self.name(role)):
                    raise
        return self.active()

    def builtin(self) -> TemplateSet:
        """The shipped defaults as unregistered templates (number 0): what the runtime serves
        when the store cannot give it the registered ones."""
        return TemplateSet(
            {role: PromptTemplate(role, DEFAULT_TEXTS[role], self.name(role), 0) for role in Role}
        )

    def active(self, alias: str = "production", fallback: str | None = "production") -> TemplateSet:
        """Every role's template under ``alias``; a role without that alias gets its
        ``fallback`` alias (so a canary of one role's template is a full set to serve)."""
        templates = {}
        for role in Role:
            try:
                templates[role] = self.load(role, alias)
            except TemplateError:
                if fallback is None or fallback == alias:
                    raise
                templates[role] = self.load(role, fallback)
        return TemplateSet(templates)
