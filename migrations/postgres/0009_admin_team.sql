-- Admin team, account security, organisation settings (issue 12).

-- Roles: 'owner' (everything), 'admin' (SSO, provisioning, users), 'viewer' (reads and exports).
-- Admins made before roles existed were their org's only admins: they become owners.
ALTER TABLE admins ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';
-- The email of the admin whose invitation created this account (NULL: setup or the CLI).
ALTER TABLE admins ADD COLUMN invited_by TEXT;
ALTER TABLE admins ADD COLUMN password_changed_at BIGINT;

-- Whose session each row is, for "Your sessions" and "Sign out everywhere". Filled by the
-- session store from the session's data.
ALTER TABLE sessions ADD COLUMN admin_id TEXT;
ALTER TABLE sessions ADD COLUMN created_at BIGINT;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
ALTER TABLE sessions ADD COLUMN client TEXT;
ALTER TABLE sessions ADD COLUMN method TEXT;
CREATE INDEX sessions_admin ON sessions (admin_id);

-- Invitations to join an org's admin team: a single-use link, stored hashed.
CREATE TABLE admin_invitations (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES orgs (id),
    email            TEXT NOT NULL,
    role             TEXT NOT NULL,
    token_hash       TEXT NOT NULL,
    invited_by_id    TEXT NOT NULL,
    invited_by_email TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    accepted_at      BIGINT,
    cancelled_at     BIGINT
);
CREATE UNIQUE INDEX admin_invitations_token ON admin_invitations (token_hash);
CREATE INDEX admin_invitations_org ON admin_invitations (org_id, created_at);

-- Password reset links: single-use, short-lived, stored hashed.
CREATE TABLE password_resets (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    admin_id    TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX password_resets_admin ON password_resets (admin_id);

-- Second factors.
CREATE TABLE admin_totp (
    admin_id        TEXT PRIMARY KEY NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    secret          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    confirmed_at    BIGINT,
    last_used_step  BIGINT
);
CREATE TABLE admin_recovery_codes (
    id          TEXT PRIMARY KEY NOT NULL,
    admin_id    TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX admin_recovery_codes_admin ON admin_recovery_codes (admin_id);
CREATE TABLE admin_passkeys (
    id             TEXT PRIMARY KEY NOT NULL,
    admin_id       TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    credential_id  TEXT NOT NULL,
    passkey        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE UNIQUE INDEX admin_passkeys_credential ON admin_passkeys (credential_id);
CREATE INDEX admin_passkeys_admin ON admin_passkeys (admin_id);

-- Organisation settings. `retention_days` (0001) is the retention of deleted users.
ALTER TABLE orgs ADD COLUMN event_retention_days BIGINT NOT NULL DEFAULT 365;
-- Comma-separated, lower-case; empty: every domain is allowed.
ALTER TABLE orgs ADD COLUMN allowed_domains TEXT NOT NULL DEFAULT '';
ALTER TABLE orgs ADD COLUMN username_equals_work_email BIGINT NOT NULL DEFAULT 1;
ALTER TABLE orgs ADD COLUMN require_2fa BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN require_sso_for_admins BIGINT NOT NULL DEFAULT 0;
