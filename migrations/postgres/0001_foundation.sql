-- Organisations, admins, one-time setup tokens, sign-in throttling, sessions, events.
-- Timestamps are unix milliseconds (BIGINT); booleans are 0/1 so both databases read them alike.

CREATE TABLE orgs (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    retention_days  BIGINT NOT NULL DEFAULT 30,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX orgs_name_ci ON orgs (lower(name));

CREATE TABLE admins (
    id              TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL REFERENCES orgs (id),
    email           TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_sign_in_at BIGINT
);
CREATE UNIQUE INDEX admins_email_ci ON admins (lower(email));
CREATE INDEX admins_org ON admins (org_id);

CREATE TABLE setup_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

-- One row per failed sign-in, keyed by "acct:<email>" and "ip:<address>"; old rows are pruned.
CREATE TABLE auth_failures (
    id          TEXT PRIMARY KEY NOT NULL,
    key         TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX auth_failures_key_at ON auth_failures (key, at);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    data        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE events (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    at          BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    name        TEXT NOT NULL,
    success     BIGINT NOT NULL,
    user_id     TEXT,
    actor       TEXT NOT NULL,
    scim_type   TEXT,
    message     TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX events_org_at ON events (org_id, at DESC, seq DESC);
CREATE INDEX events_user ON events (user_id, at DESC);
