"""Versioned prompt templates: defaults registered as version 1, production alias, new
versions, validation, integrity, and the runtime serving whatever the alias points at."""

from __future__ import annotations

import json
from typing import Any

import pytest

from atlas_core.runtime import DEFAULT_TEXTS, Role, TemplateError, TemplateRegistry
from atlas_core.runtime.templates import TEXT_NAMESPACE
from atlas_core.store import Store
from atlas_core.types import VersionKind, VersionStatus


def test_defaults_are_version_one_in_production(store: Store) -> None:
    registry = TemplateRegistry(store)
    active = registry.ensure_defaults()
    for role in Role:
        template = active[role]
        assert template.text == DEFAULT_TEXTS[role]
        assert template.ref == f"atlas.runtime.{role.value}@1"
    versions = store.versions("default", VersionKind.PROMPT)
    assert len(versions) == len(Role)
    assert all(v.status is VersionStatus.PRODUCTION for v in versions)
    assert all(v.aliases == ("production",) for v in versions)
    assert versions[0].artifact_uri.startswith(f"kv://{TEXT_NAMESPACE}/atlas.runtime.")
    registry.ensure_defaults()  # idempotent
    assert len(store.versions("default", VersionKind.PROMPT)) == len(Role)


def test_new_version_and_alias_move_is_one_load_away(store: Store) -> None:
    registry = TemplateRegistry(store)
    registry.ensure_defaults()
    v1 = registry.load(Role.PROBE)
    v2 = registry.register(Role.PROBE, "Plan first.\n${task}", parent=v1, alias="canary")
    assert (v2.number, registry.load(Role.PROBE).number) == (2, 1)
    assert registry.load(Role.PROBE, "canary").text == "Plan first.\n${task}"
    registry.promote(v2)
    assert registry.load(Role.PROBE) == v2
    stored = store.get_version("default", v2.version_id)  # type: ignore[arg-type]
    assert stored is not None
    assert stored.parent_id == v1.version_id
    assert set(stored.aliases) == {"canary", "production"}


def test_runtime_serves_a_canary_of_one_role(make_runtime: Any, servers: Any) -> None:
    runtime = make_runtime(template_alias="canary")
    runtime.templates.ensure_defaults()
    runtime.templates.register(Role.STUDENT, "Canary says:\n${task}", alias="canary")
    outcome = runtime.run("What is 1 + 1?", lane="paired")
    assert outcome.errors == []
    assert outcome.versions["templates"]["student"] == "atlas.runtime.student@2"
    assert outcome.versions["templates"]["probe"] == "atlas.runtime.probe@1"  # production
    assert servers[0].calls[0].last_user.startswith("Canary says:")
    with pytest.raises(TemplateError, match="'canary'"):
        runtime.templates.active("canary", fallback=None)


def test_runtime_serves_the_production_alias(make_runtime: Any, servers: Any) -> None:
    runtime = make_runtime(template_ttl_s=0.0)
    runtime.run("What is 1 + 1?", lane="auto")
    v2 = runtime.templates.register(Role.STUDENT, "Answer with a number only.\n${task}")
    runtime.templates.promote(v2)
    outcome = runtime.run("What is 1 + 1?", lane="auto")
    assert servers[0].calls[-1].last_user.startswith("Answer with a number only.")  # no probe
    assert outcome.versions["templates"]["student"] == "atlas.runtime.student@2"


@pytest.mark.parametrize(
    ("role", "text", "message"),
    [
        (Role.STUDENT, "${task} ${answer}", "unknown variable"),
        (Role.TEACHER_GUIDANCE, "Guide on ${task}", "must use \\['probe'\\]"),
        (Role.STUDENT, "", "non-empty"),
        (Role.PROBE, "${task} $", "malformed placeholder"),
    ],
)
def test_invalid_templates_are_refused(store: Store, role: Role, text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        TemplateRegistry(store).register(role, text)
    assert store.versions("default", VersionKind.PROMPT) == []


def test_missing_alias_and_tampered_text(store: Store) -> None:
    registry = TemplateRegistry(store, family="support")
    with pytest.raises(TemplateError, match="no version has alias 'production'"):
        registry.load(Role.STUDENT)
    template = registry.register(Role.STUDENT, "${task}", alias="production")
    key = f"{template.name}/{template.number}"
    store.kv_put("default", TEXT_NAMESPACE, {key: json.dumps({"text": "evil", "sha256": "0"})})
    with pytest.raises(TemplateError, match="SHA-256"):
        registry.load(Role.STUDENT)


def test_render_needs_every_value(store: Store) -> None:
    template = TemplateRegistry(store).register(Role.STUDENT_RETRY, "${task}|${feedback}")
    assert template.render(task="t", feedback="f") == "t|f"
    with pytest.raises(TemplateError, match="'feedback'"):
        template.render(task="t")


def test_tenants_and_families_are_separate(store: Store) -> None:
    TemplateRegistry(store, "acme").ensure_defaults()
    assert store.versions("default", VersionKind.PROMPT) == []
    other = TemplateRegistry(store, "acme", family="other")
    with pytest.raises(TemplateError):
        other.load(Role.STUDENT)
