-- Reads at 100,000 users (issue 11).
--
-- 1. Live users per organisation, kept by triggers on every write path, so a SCIM list page's
--    totalResults is a read of a few rows instead of a COUNT(*) over the organisation's index.
--    `live` is the number of live (not soft-deleted) users; `changes` only grows, by one each time
--    a user joins or leaves the live set (create, soft delete, revive, purge of a live row): the
--    list page's cached seek positions are valid while it stays the same. PostgreSQL spreads
--    concurrent writers over 16 slots per organisation; SQLite has one writer, so one slot.
CREATE TABLE org_user_counts (
    org_id          TEXT NOT NULL,
    slot            BIGINT NOT NULL,
    live            BIGINT NOT NULL,
    changes         BIGINT NOT NULL,
    PRIMARY KEY (org_id, slot)
);
INSERT INTO org_user_counts (org_id, slot, live, changes)
SELECT org_id, 0, COUNT(*), 0 FROM users WHERE deleted_at IS NULL GROUP BY org_id;

CREATE TRIGGER users_count_insert AFTER INSERT ON users WHEN NEW.deleted_at IS NULL
BEGIN
    INSERT INTO org_user_counts (org_id, slot, live, changes) VALUES (NEW.org_id, 0, 1, 1)
    ON CONFLICT (org_id, slot) DO UPDATE SET live = live + 1, changes = changes + 1;
END;
CREATE TRIGGER users_count_leave AFTER UPDATE OF deleted_at ON users
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
    INSERT INTO org_user_counts (org_id, slot, live, changes) VALUES (NEW.org_id, 0, -1, 1)
    ON CONFLICT (org_id, slot) DO UPDATE SET live = live - 1, changes = changes + 1;
END;
CREATE TRIGGER users_count_revive AFTER UPDATE OF deleted_at ON users
WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
    INSERT INTO org_user_counts (org_id, slot, live, changes) VALUES (NEW.org_id, 0, 1, 1)
    ON CONFLICT (org_id, slot) DO UPDATE SET live = live + 1, changes = changes + 1;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users WHEN OLD.deleted_at IS NULL
BEGIN
    INSERT INTO org_user_counts (org_id, slot, live, changes) VALUES (OLD.org_id, 0, -1, 1)
    ON CONFLICT (org_id, slot) DO UPDATE SET live = live - 1, changes = changes + 1;
END;

-- 2. The Users screen's substring search (`%term%` over userName, work email, "given family" and
--    displayName): an FTS5 trigram index finds the candidate rows of a term of 3 characters or
--    more, and the screen's LIKE conditions then decide, so results are exactly those of the scan
--    (the trigram index folds case more widely than SQLite's lower(): it only ever adds
--    candidates). Rows are keyed by the users table's rowid (SQLite's VACUUM keeps the rowids of
--    a table, checked by a test). The same four texts as the search, kept by triggers; a work
--    email equal to the userName (the usual case) is not indexed twice: the userName's entry
--    finds the row.
CREATE VIRTUAL TABLE users_search USING fts5 (
    user_name, email, name, display_name,
    content = '', contentless_delete = 1, tokenize = 'trigram'
);
INSERT INTO users_search (rowid, user_name, email, name, display_name)
SELECT rowid, user_name,
       CASE WHEN lower(COALESCE(email, '')) = lower(user_name) THEN '' ELSE COALESCE(email, '') END,
       COALESCE(given_name, '') || ' ' || COALESCE(family_name, ''), COALESCE(display_name, '')
FROM users;

CREATE TRIGGER users_search_insert AFTER INSERT ON users
BEGIN
    INSERT INTO users_search (rowid, user_name, email, name, display_name)
    VALUES (NEW.rowid, NEW.user_name,
            CASE WHEN lower(COALESCE(NEW.email, '')) = lower(NEW.user_name) THEN ''
                 ELSE COALESCE(NEW.email, '') END,
            COALESCE(NEW.given_name, '') || ' ' || COALESCE(NEW.family_name, ''),
            COALESCE(NEW.display_name, ''));
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF user_name, email, given_name, family_name, display_name ON users
WHEN OLD.user_name IS NOT NEW.user_name OR OLD.email IS NOT NEW.email
  OR OLD.given_name IS NOT NEW.given_name OR OLD.family_name IS NOT NEW.family_name
  OR OLD.display_name IS NOT NEW.display_name
BEGIN
    DELETE FROM users_search WHERE rowid = OLD.rowid;
    INSERT INTO users_search (rowid, user_name, email, name, display_name)
    VALUES (NEW.rowid, NEW.user_name,
            CASE WHEN lower(COALESCE(NEW.email, '')) = lower(NEW.user_name) THEN ''
                 ELSE COALESCE(NEW.email, '') END,
            COALESCE(NEW.given_name, '') || ' ' || COALESCE(NEW.family_name, ''),
            COALESCE(NEW.display_name, ''));
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users
BEGIN
    DELETE FROM users_search WHERE rowid = OLD.rowid;
END;
