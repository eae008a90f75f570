-- The SCIM request log without its foreign key to `orgs` on PostgreSQL (issue 11). The key is
-- checked by a trigger per inserted row (a query of `orgs` each time), which was a quarter to a
-- third of the cost of the log's 100-row inserts, and those inserts were two thirds of
-- PostgreSQL's CPU per SCIM lookup (`pg_stat_statements`, BENCHMARKS.md). What the key guarded
-- holds without it: a row's `org_id` is the organisation of the token that authenticated the
-- request it records, and no code path deletes an organisation.
--
-- SQLite keeps the key: there it is one probe of `orgs`' primary key inside the same statement,
-- and removing it would mean rebuilding the table (its 0018 migration changes nothing).
ALTER TABLE scim_requests DROP CONSTRAINT scim_requests_org_id_fkey;
