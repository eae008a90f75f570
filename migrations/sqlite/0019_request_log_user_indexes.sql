-- The SCIM request log's filter by user served by indexes that only rows about a user enter
-- (issue 11). `scim_requests_org_user` (0013) indexed every row — most of them IdP lookups that
-- name no user (user_id NULL) — and the screen's filter (an OR of the id and the userName, as
-- sent or through the org's users) could not use it: it walked all the organisation's rows in
-- time order. A row of an index keyed by organisation lands in one of thousands of places, and
-- that index was half of SQLite's CPU per written row (65 → 33 µs for a row about no user; 600k
-- rows, 2,000 orgs). A row about a user enters one of the two partial indexes: by its user's id,
-- or, when it has none (a create that failed), by the userName it names. (Indexing every row's
-- userName as well cost a second such place per GET of a user: 12,267 of ≈ 140k gets and
-- lookups of one organisation were left out of the log, against 631 before.)
--
-- In one transaction, the new indexes first: while they are built the log can still be read (a
-- SHARE lock; its writes wait, and the writer's bounded queue leaves requests out of the log
-- rather than growing), and the old one is dropped at the end. Not CONCURRENTLY: PostgreSQL's
-- concurrent build waits for every older transaction, among them another instance's wait for
-- the migration lock this one holds — a deadlock when instances start together.
CREATE INDEX scim_requests_org_user_id ON scim_requests (org_id, user_id)
    WHERE user_id IS NOT NULL;
CREATE INDEX scim_requests_org_user_name ON scim_requests (org_id, lower(user_name))
    WHERE user_id IS NULL AND user_name IS NOT NULL;
DROP INDEX scim_requests_org_user;
