-- SCIM token checks served from memory (issue 11): one counter that every change a token check
-- reads moves, in the same transaction as the change. Each server instance (and each process on
-- the same SQLite file, such as the CLI) reads it at most every 100 ms and forgets what it holds
-- in memory when it has moved. Kept by triggers, so that no write path can forget it.
--
-- What a token check reads: the token row's state (revoked, rotation deadline, next or current,
-- hash, org), the org's user rules, and whether the org has any group (a read skips the groups
-- query when it has none: only the first group of an org matters; a stale "has groups" costs
-- only a query). A new token or org moves it too: `INSERT OR REPLACE` deletes without firing a
-- delete trigger.
CREATE TABLE auth_epoch (
    id              INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n               INTEGER NOT NULL
);
INSERT INTO auth_epoch (id, n) VALUES (1, 0);

CREATE TRIGGER scim_tokens_auth_update
AFTER UPDATE OF revoked_at, retire_at, is_next, token_hash, org_id ON scim_tokens
WHEN OLD.revoked_at IS NOT NEW.revoked_at OR OLD.retire_at IS NOT NEW.retire_at
    OR OLD.is_next IS NOT NEW.is_next OR OLD.token_hash IS NOT NEW.token_hash
    OR OLD.org_id IS NOT NEW.org_id
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER scim_tokens_auth_delete AFTER DELETE ON scim_tokens
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER scim_tokens_auth_insert AFTER INSERT ON scim_tokens
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER orgs_auth_update
AFTER UPDATE OF allowed_domains, username_equals_work_email ON orgs
WHEN OLD.allowed_domains IS NOT NEW.allowed_domains
    OR OLD.username_equals_work_email IS NOT NEW.username_equals_work_email
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER orgs_auth_delete AFTER DELETE ON orgs
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER orgs_auth_insert AFTER INSERT ON orgs
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER groups_auth_first AFTER INSERT ON groups
WHEN NOT EXISTS (SELECT 1 FROM groups g WHERE g.org_id = NEW.org_id AND g.id <> NEW.id)
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
END;
