-- The Users screen's search for a term of 1 or 2 characters (issue 11). SQLite reads such a term
-- from an index of each user's four searched texts (migration 0020 of the SQLite folder). Here
-- nothing changes: pg_trgm cannot serve a term under 3 characters either, and PostgreSQL scans
-- the organisation's users, as before. This file keeps the two folders' numbering the same.
SELECT 1;
