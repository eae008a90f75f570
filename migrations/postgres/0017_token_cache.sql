-- SCIM token checks served from memory (issue 11): one counter that every change a token check
-- reads moves, in the same transaction as the change. Each server instance reads it at most every
-- 100 ms and forgets what it holds in memory when it has moved. Kept by triggers, so that no
-- write path can forget it.
--
-- What a token check reads: the token row's state (revoked, rotation deadline, next or current,
-- hash, org), the org's user rules, and whether the org has any group (a read skips the groups
-- query when it has none: only the first group of an org matters; a stale "has groups" costs
-- only a query). A new token or org moves it too (a row replaced by delete + insert, say).
--
-- The row triggers are deferred to the end of the transaction, so that the one row is locked
-- only while a transaction commits (a SCIM group create, say, goes on to insert its members):
-- `WriteTx::commit` runs `SET CONSTRAINTS ALL IMMEDIATE` and then reads the counter, so the
-- process making a change sees it at once.
CREATE TABLE auth_epoch (
    id              INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n               BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, n) VALUES (1, 0);

CREATE FUNCTION auth_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

-- Deferred, so it runs after every statement of its transaction: the org's first group is one
-- that no other group of the org was there beside. (The portal creates one group per
-- transaction; a transaction creating an org's first two groups at once would not move it.)
CREATE FUNCTION auth_epoch_bump_first_group() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM groups g WHERE g.org_id = NEW.org_id AND g.id <> NEW.id) THEN
        UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER scim_tokens_auth_update
AFTER UPDATE OF revoked_at, retire_at, is_next, token_hash, org_id ON scim_tokens
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW
WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.retire_at IS DISTINCT FROM NEW.retire_at
    OR OLD.is_next IS DISTINCT FROM NEW.is_next OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
    OR OLD.org_id IS DISTINCT FROM NEW.org_id)
EXECUTE FUNCTION auth_epoch_bump();

CREATE CONSTRAINT TRIGGER scim_tokens_auth_insert_delete AFTER INSERT OR DELETE ON scim_tokens
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();

CREATE CONSTRAINT TRIGGER orgs_auth_update
AFTER UPDATE OF allowed_domains, username_equals_work_email ON orgs
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW
WHEN (OLD.allowed_domains IS DISTINCT FROM NEW.allowed_domains
    OR OLD.username_equals_work_email IS DISTINCT FROM NEW.username_equals_work_email)
EXECUTE FUNCTION auth_epoch_bump();

CREATE CONSTRAINT TRIGGER orgs_auth_insert_delete AFTER INSERT OR DELETE ON orgs
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();

CREATE CONSTRAINT TRIGGER groups_auth_first AFTER INSERT ON groups
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump_first_group();

-- TRUNCATE fires no row trigger.
CREATE FUNCTION auth_epoch_bump_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER scim_tokens_auth_truncate AFTER TRUNCATE ON scim_tokens
FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump_statement();
CREATE TRIGGER orgs_auth_truncate AFTER TRUNCATE ON orgs
FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump_statement();
