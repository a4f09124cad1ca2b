-- Atlas memory, schema version 1 (PostgreSQL).
-- Ids: UUIDv7 as UUID. Times: integer Unix nanoseconds UTC. JSON: text (validated by the store).
-- The hot tables carry no foreign keys: feedback may arrive before its interaction
-- is flushed, and a per-row FK probe would halve ingest speed.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE interactions (
    id UUID PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    session_id TEXT,
    user_id TEXT,
    learning_key TEXT NOT NULL,
    model_version TEXT,
    prompt_version TEXT,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    latency_ms DOUBLE PRECISION,
    prompt_tokens BIGINT,
    completion_tokens BIGINT,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX interactions_tenant_time ON interactions (tenant_id, created_at);
CREATE INDEX interactions_tenant_user ON interactions (tenant_id, user_id);

CREATE TABLE feedback (
    id UUID PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    interaction_id UUID NOT NULL,
    user_id TEXT,
    kind TEXT NOT NULL,
    name TEXT,
    value DOUBLE PRECISION,
    scale_min DOUBLE PRECISION,
    scale_max DOUBLE PRECISION,
    text TEXT,
    source TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX feedback_tenant_time ON feedback (tenant_id, created_at);
CREATE INDEX feedback_interaction ON feedback (interaction_id);

CREATE TABLE rewards (
    id UUID PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    interaction_id UUID NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    components TEXT NOT NULL,
    rationale TEXT,
    uncertainty DOUBLE PRECISION,
    escalated BOOLEAN NOT NULL,
    reward_model TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX rewards_tenant_time ON rewards (tenant_id, created_at);
CREATE INDEX rewards_interaction ON rewards (interaction_id);

CREATE TABLE versions (
    id UUID PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    number INTEGER NOT NULL,
    artifact_uri TEXT NOT NULL,
    parent_id UUID,
    metrics TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, kind, name, number)
);

CREATE TABLE version_aliases (
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version_id UUID NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, name, alias)
);

CREATE TABLE learning_runs (
    id UUID PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX learning_runs_tenant_time ON learning_runs (tenant_id, created_at);

CREATE TABLE replay_priorities (
    tenant_id TEXT NOT NULL,
    buffer TEXT NOT NULL,
    item_id UUID NOT NULL,
    priority DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, buffer, item_id)
);

CREATE TABLE api_keys (
    id UUID PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    revoked BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
