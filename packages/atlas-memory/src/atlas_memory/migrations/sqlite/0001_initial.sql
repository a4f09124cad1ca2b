-- Atlas memory, schema version 1 (SQLite).
-- Ids: 16-byte UUIDv7 BLOBs. Times: integer Unix nanoseconds UTC. JSON: text.
-- The hot tables carry no foreign keys: feedback may arrive before its interaction
-- is flushed, and a per-row FK probe would halve ingest speed.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE interactions (
    id BLOB PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    session_id TEXT,
    user_id TEXT,
    learning_key TEXT NOT NULL,
    model_version TEXT,
    prompt_version TEXT,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    latency_ms REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX interactions_tenant_time ON interactions (tenant_id, created_at);
CREATE INDEX interactions_tenant_user ON interactions (tenant_id, user_id);

CREATE TABLE feedback (
    id BLOB PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    interaction_id BLOB NOT NULL,
    user_id TEXT,
    kind TEXT NOT NULL,
    name TEXT,
    value REAL,
    scale_min REAL,
    scale_max REAL,
    text TEXT,
    source TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX feedback_tenant_time ON feedback (tenant_id, created_at);
CREATE INDEX feedback_interaction ON feedback (interaction_id);

CREATE TABLE rewards (
    id BLOB PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    interaction_id BLOB NOT NULL,
    score REAL NOT NULL,
    components TEXT NOT NULL,
    rationale TEXT,
    uncertainty REAL,
    escalated INTEGER NOT NULL,
    reward_model TEXT,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX rewards_tenant_time ON rewards (tenant_id, created_at);
CREATE INDEX rewards_interaction ON rewards (interaction_id);

CREATE TABLE versions (
    id BLOB PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    number INTEGER NOT NULL,
    artifact_uri TEXT NOT NULL,
    parent_id BLOB,
    metrics TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, kind, name, number)
);

CREATE TABLE version_aliases (
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version_id BLOB NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, name, alias)
);

CREATE TABLE learning_runs (
    id BLOB PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX learning_runs_tenant_time ON learning_runs (tenant_id, created_at);

CREATE TABLE replay_priorities (
    tenant_id TEXT NOT NULL,
    buffer TEXT NOT NULL,
    item_id BLOB NOT NULL,
    priority REAL NOT NULL,
    PRIMARY KEY (tenant_id, buffer, item_id)
) WITHOUT ROWID;

CREATE TABLE api_keys (
    id BLOB PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    revoked INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
