-- Trust boundaries (issue 10).

-- Each throttle hit carries the moment it stops counting, so every key keeps its own window when
-- old hits are pruned (hourly limits are no longer cut to the shortest window).
ALTER TABLE auth_failures ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE auth_failures SET expires_at = at + 3600000;
CREATE INDEX auth_failures_expires ON auth_failures (expires_at);

-- At most one active SCIM token per organisation, enforced by the database. Races before this
-- migration could leave two: keep the newest.
UPDATE scim_tokens SET revoked_at = created_at
WHERE revoked_at IS NULL AND EXISTS (
    SELECT 1 FROM scim_tokens newer
    WHERE newer.org_id = scim_tokens.org_id AND newer.revoked_at IS NULL
      AND (newer.created_at > scim_tokens.created_at
           OR (newer.created_at = scim_tokens.created_at AND newer.id > scim_tokens.id))
);
CREATE UNIQUE INDEX scim_tokens_one_active ON scim_tokens (org_id) WHERE revoked_at IS NULL;

-- /login finds accounts by their sign-in identity across organisations.
CREATE INDEX users_user_name_ci ON users (lower(user_name));

-- Browsers that signed in to an admin account before ("trusted devices"): they are not held back
-- by the account-wide sign-in limit, so a stranger's guessing cannot lock the real admin out.
CREATE TABLE admin_devices (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    admin_id     TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
CREATE INDEX admin_devices_admin ON admin_devices (admin_id, last_used_at);
