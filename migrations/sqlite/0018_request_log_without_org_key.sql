-- PostgreSQL's 0018 drops the SCIM request log's foreign key to `orgs` (a trigger and a query per
-- inserted row there). SQLite keeps it: the check is one probe of `orgs`' primary key inside the
-- same statement, and dropping a key in SQLite means rebuilding the table with all its rows.
-- The two folders keep the same numbering, so this migration changes nothing.
SELECT 1;
