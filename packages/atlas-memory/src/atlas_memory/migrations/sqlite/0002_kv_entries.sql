-- Atlas memory, schema version 2 (SQLite): tenant-scoped key-value entries.
-- For state that is not an interaction, feedback, reward, version or learning run:
-- the reward cache, playbooks, template texts. Values are text (JSON by convention).

CREATE TABLE kv_entries (
    tenant_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, namespace, key)
) WITHOUT ROWID;
