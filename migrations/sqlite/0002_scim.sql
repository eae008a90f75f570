-- SCIM provisioning: bearer tokens (SHA-256 hashes only) and users with their multi-valued children.

CREATE TABLE scim_tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL REFERENCES orgs (id),
    token_hash      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    revoked_at      BIGINT,
    first_used_at   BIGINT,
    last_used_at    BIGINT,
    last_user_agent TEXT,
    rejected_count  BIGINT NOT NULL DEFAULT 0,
    last_rejected_at BIGINT
);
CREATE UNIQUE INDEX scim_tokens_hash ON scim_tokens (token_hash);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, created_at);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    org_id              TEXT NOT NULL REFERENCES orgs (id),
    user_name           TEXT NOT NULL,
    external_id         TEXT,
    active              BIGINT NOT NULL,
    display_name        TEXT,
    nick_name           TEXT,
    title               TEXT,
    user_type           TEXT,
    preferred_language  TEXT,
    locale              TEXT,
    timezone            TEXT,
    profile_url         TEXT,
    given_name          TEXT,
    family_name         TEXT,
    formatted_name      TEXT,
    middle_name         TEXT,
    department          TEXT,
    employee_number     TEXT,
    cost_center         TEXT,
    organization        TEXT,
    division            TEXT,
    email               TEXT,
    country             TEXT,
    locality            TEXT,
    source              TEXT NOT NULL,
    attributes          TEXT NOT NULL,
    password_hash       TEXT,
    version             BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    deleted_at          BIGINT,
    last_sign_in_at     BIGINT
);
-- userName is unique per organisation, case-insensitively, including soft-deleted users:
-- provisioning the same userName again revives the stored user.
CREATE UNIQUE INDEX users_org_user_name ON users (org_id, lower(user_name));
CREATE INDEX users_org_external_id ON users (org_id, external_id);
CREATE INDEX users_org_created ON users (org_id, created_at, id);

CREATE TABLE user_emails (
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    position        BIGINT NOT NULL,
    value           TEXT NOT NULL,
    type            TEXT,
    primary_flag    BIGINT NOT NULL
);
CREATE INDEX user_emails_value ON user_emails (lower(value));
CREATE INDEX user_emails_user ON user_emails (user_id);

CREATE TABLE user_addresses (
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    position        BIGINT NOT NULL,
    type            TEXT,
    country         TEXT,
    locality        TEXT,
    region          TEXT,
    postal_code     TEXT,
    street_address  TEXT,
    formatted       TEXT,
    primary_flag    BIGINT NOT NULL
);
CREATE INDEX user_addresses_user ON user_addresses (user_id);
