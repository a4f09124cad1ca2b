"""Candidate prompt Versions: how an optimization's result goes out to deployment.

A template candidate is a ``prompt`` Version named ``<family>.<role>`` in the layout the
reasoning core's :class:`~atlas_core.runtime.TemplateRegistry` serves (text and SHA-256 in
the key-value entries, ``kv://`` artifact), so once the gate passes it and the rollout moves
the ``production`` alias, the runtime serves it. Unlike ``TemplateRegistry.register`` these
versions carry the optimization's metrics, and their per-instance validation scores are kept
beside them (namespace :data:`SCORES_NAMESPACE`, key ``<name>/<number>``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from uuid import UUID

from atlas_core.runtime import Role, TemplateError, TemplateRegistry
from atlas_core.runtime.templates import TEXT_NAMESPACE, check_text
from atlas_core.store import Store
from atlas_core.types import Version, VersionKind, VersionStatus

__all__ = ["SCORES_NAMESPACE", "instance_scores", "template_version"]

SCORES_NAMESPACE = "gepa.scores"


def template_version(
    store: Store,
    tenant: str,
    family: str,
    role: Role,
    text: str,
    *,
    parent_id: UUID | None,
    metrics: Mapping[str, float],
    scores: Mapping[str, float] | None = None,
    save: bool = True,
) -> Version:
    """A candidate Version of ``role``'s template with ``text`` (numbered next in its family).

    The text (and ``scores`` by example id) are written first; the Version row is stored only
    with ``save`` (the learning loop stores the ones a learner returns itself). TemplateError
    when ``text`` is not a valid template for the role.
    """
    role = Role(role)
    check_text(role, text)
    name = TemplateRegistry(store, tenant, family).name(role)
    number = (
        max((v.number for v in store.versions(tenant, VersionKind.PROMPT, name)), default=0) + 1
    )
    key = f"{name}/{number}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    store.kv_put(tenant, TEXT_NAMESPACE, {key: json.dumps({"text": text, "sha256": digest})})
    if scores is not None:
        store.kv_put(tenant, SCORES_NAMESPACE, {key: json.dumps(dict(scores))})
    version = Version(
        tenant_id=tenant,
        kind=VersionKind.PROMPT,
        name=name,
        number=number,
        artifact_uri=f"kv://{TEXT_NAMESPACE}/{key}",
        parent_id=parent_id,
        metrics={k: float(v) for k, v in metrics.items()},
        status=VersionStatus.CANDIDATE,
        aliases=(),
    )
    if save:
        store.put_version(version)
    return version


def instance_scores(store: Store, version: Version) -> dict[str, float]:
    """The per-example validation scores stored with ``version`` (empty when none)."""
    key = f"{version.name}/{version.number}"
    raw = store.kv_get(version.tenant_id, SCORES_NAMESPACE, [key]).get(key)
    return {k: float(v) for k, v in json.loads(raw).items()} if raw else {}


def version_text(store: Store, tenant: str, family: str, role: Role, version: Version) -> str:
    """The template text of ``version`` (checked against its SHA-256)."""
    if version.kind is not VersionKind.PROMPT:
        raise TemplateError(f"version {version.name}@{version.number}: not a prompt version")
    return TemplateRegistry(store, tenant, family).load_version(role, version).text
