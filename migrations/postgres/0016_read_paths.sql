-- Reads at 100,000 users (issue 11).
--
-- 1. Live users per organisation, kept by a trigger on every write path, so a SCIM list page's
--    totalResults is a read of a few rows instead of a COUNT(*) over the organisation's rows.
--    `live` is the number of live (not soft-deleted) users; `changes` only grows, by one each time
--    a user joins or leaves the live set (create, soft delete, revive, purge of a live row): the
--    list page's cached seek positions are valid while it stays the same. Concurrent writers of
--    one organisation land on one of 16 slots at random, so they seldom wait on each other's row.
CREATE TABLE org_user_counts (
    org_id          TEXT NOT NULL,
    slot            BIGINT NOT NULL,
    live            BIGINT NOT NULL,
    changes         BIGINT NOT NULL,
    PRIMARY KEY (org_id, slot)
);
INSERT INTO org_user_counts (org_id, slot, live, changes)
SELECT org_id, 0, COUNT(*), 0 FROM users WHERE deleted_at IS NULL GROUP BY org_id;

CREATE FUNCTION users_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d BIGINT;
    o TEXT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.deleted_at IS NOT NULL THEN RETURN NULL; END IF;
        d := 1;
        o := NEW.org_id;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.deleted_at IS NOT NULL THEN RETURN NULL; END IF;
        d := -1;
        o := OLD.org_id;
    ELSE
        IF (OLD.deleted_at IS NULL) = (NEW.deleted_at IS NULL) THEN RETURN NULL; END IF;
        d := CASE WHEN NEW.deleted_at IS NULL THEN 1 ELSE -1 END;
        o := NEW.org_id;
    END IF;
    INSERT INTO org_user_counts (org_id, slot, live, changes)
    VALUES (o, floor(random() * 16)::BIGINT, d, 1)
    ON CONFLICT (org_id, slot) DO UPDATE
        SET live = org_user_counts.live + EXCLUDED.live, changes = org_user_counts.changes + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_count AFTER INSERT OR DELETE OR UPDATE OF deleted_at ON users
FOR EACH ROW EXECUTE FUNCTION users_count_change();

-- 2. The Users screen's substring search (`%term%` over userName, work email, "given family" and
--    displayName): pg_trgm GIN indexes on exactly the expressions the search compares, so the
--    same LIKE conditions are answered from the indexes (terms under 3 characters: the planner
--    scans). pg_trgm is a trusted extension: the database owner may create it (Debian's
--    postgresql package ships it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_search_user_name ON users USING gin (lower(user_name) gin_trgm_ops);
CREATE INDEX users_search_email ON users USING gin (lower(COALESCE(email, '')) gin_trgm_ops);
CREATE INDEX users_search_name ON users
    USING gin (lower(COALESCE(given_name, '') || ' ' || COALESCE(family_name, '')) gin_trgm_ops);
CREATE INDEX users_search_display_name ON users
    USING gin (lower(COALESCE(display_name, '')) gin_trgm_ops);
