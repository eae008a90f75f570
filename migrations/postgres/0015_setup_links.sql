-- Setup links for outside IT contacts (issue 13): an Owner or Admin sends a link, scoped to single
-- sign-on, provisioning or both, that opens only those guided screens of one organisation. The
-- link (256 random bits) is stored only as its SHA-256 hash. It works until expires_at, until
-- revoked, and only while the admin who made it is still an Owner or Admin of the organisation.
CREATE TABLE setup_links (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES orgs (id),
    token_hash       TEXT NOT NULL,
    label            TEXT NOT NULL,
    scope            TEXT NOT NULL CHECK (scope IN ('sso', 'provisioning', 'both')),
    created_by_id    TEXT NOT NULL,
    created_by_email TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    revoked_at       BIGINT,
    revoked_by       TEXT,
    last_used_at     BIGINT,
    use_count        BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX setup_links_token ON setup_links (token_hash);
CREATE INDEX setup_links_org ON setup_links (org_id, created_at);
