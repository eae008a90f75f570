-- The SCIM request log's user filter served by indexes that only requests about a user enter
-- (issue 11). `scim_requests_org_user` indexed every row, most of them IdP lookups that name no
-- user (user_id NULL), and the screen's filter (the id or the userName, either as sent or through
-- the org's users) could not use it: it walked the organisation's rows in time order. A row in
-- an index keyed by organisation lands in one of thousands of places, and that index was half of
-- SQLite's cost of writing a row (65 → 33 µs of CPU per row without it, 600k rows, 2,000 orgs).
DROP INDEX scim_requests_org_user;
CREATE INDEX scim_requests_org_user ON scim_requests (org_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX scim_requests_org_user_name ON scim_requests (org_id, lower(user_name))
    WHERE user_name IS NOT NULL;
