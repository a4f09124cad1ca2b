-- Atlas memory, schema version 3 (PostgreSQL): interactions_tenant_user becomes a partial index.
-- Most interactions carry no user (the ingest benchmark's never do), yet the full index
-- still took one B-tree entry per row for (tenant, NULL), which nothing ever looks up.
-- Reads by `user_id = ?` still use it: the planner knows that implies `user_id IS NOT NULL`.
-- Rebuilt inside the migration's transaction: writes to interactions wait until it is built.

DROP INDEX interactions_tenant_user;
CREATE INDEX interactions_tenant_user ON interactions (tenant_id, user_id)
    WHERE user_id IS NOT NULL;
