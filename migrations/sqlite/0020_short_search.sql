-- The Users screen's search for a term of 1 or 2 characters (issue 11): the trigram index of
-- migration 0016 cannot serve it, and testing the four searched texts of every user of a
-- 100,000-user organisation row by row took ≈ 0.2 s. This index holds those four texts of each
-- user as one lower-cased string (some 100 bytes per user, kept by SQLite itself), so the search
-- reads the index instead of the rows; the screen's LIKE conditions on each text still decide.
-- The expression is exactly `search_text` in server/crates/core/src/admin_views.rs (SQLite uses
-- an index on an expression only for that same expression).
CREATE INDEX users_org_search_text ON users (
    org_id,
    lower(user_name || char(31) || COALESCE(email, '') || char(31)
          || COALESCE(given_name, '') || ' ' || COALESCE(family_name, '')
          || char(31) || COALESCE(display_name, ''))
);
