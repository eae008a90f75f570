-- Zero-downtime SCIM token rotation (issue 13).
--
-- During a rotation an organisation has two live tokens: its current one (is_next = 0) and the
-- next one (is_next = 1). The current token carries retire_at, the end of the grace period; it is
-- retired at the IdP's first successful request with the next token, by hand, or at retire_at.
-- A retired token keeps who retired it (an admin's email or `system`) and why.
ALTER TABLE scim_tokens ADD COLUMN is_next INTEGER NOT NULL DEFAULT 0 CHECK (is_next IN (0, 1));
ALTER TABLE scim_tokens ADD COLUMN retire_at BIGINT;
ALTER TABLE scim_tokens ADD COLUMN retired_by TEXT;
ALTER TABLE scim_tokens ADD COLUMN retired_reason TEXT;

-- At most one current and at most one next token per organisation, enforced by the database.
DROP INDEX scim_tokens_one_active;
CREATE UNIQUE INDEX scim_tokens_one_current ON scim_tokens (org_id) WHERE revoked_at IS NULL AND is_next = 0;
CREATE UNIQUE INDEX scim_tokens_one_next ON scim_tokens (org_id) WHERE revoked_at IS NULL AND is_next = 1;

-- The housekeeping job finds grace periods that have ended.
CREATE INDEX scim_tokens_retire_due ON scim_tokens (retire_at) WHERE retire_at IS NOT NULL AND revoked_at IS NULL;
