-- Live (not soft-deleted) users in SCIM's default order: counting them and paging through them
-- reads only this index, so a deep list page at 100,000 users does not visit the table.
CREATE INDEX users_live_org_created ON users (org_id, created_at, id) WHERE deleted_at IS NULL;
