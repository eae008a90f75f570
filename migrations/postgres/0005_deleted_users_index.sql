-- Soft-deleted users per organisation (purge outlook and the purge job) without visiting live rows.
CREATE INDEX users_deleted_org ON users (org_id, deleted_at) WHERE deleted_at IS NOT NULL;
