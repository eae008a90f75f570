-- SAML single sign-on: one IdP configuration per organisation, the AuthnRequests we sent (single
-- use, bound to the browser that started them), and the replay cache of accepted assertion IDs
-- (in the database so that every server instance shares it).

CREATE TABLE sso_configs (
    org_id                    TEXT PRIMARY KEY NOT NULL REFERENCES orgs (id),
    sso_url                   TEXT NOT NULL,
    idp_entity_id             TEXT,
    cert_pem                  TEXT NOT NULL,
    next_cert_pem             TEXT,
    jit_enabled               BIGINT NOT NULL,
    require_sso               BIGINT NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL,
    updated_by                TEXT NOT NULL,
    last_success_at           BIGINT,
    last_success_fingerprint  TEXT
);

CREATE TABLE saml_requests (
    id            TEXT PRIMARY KEY NOT NULL,
    org_id        TEXT NOT NULL,
    browser_hash  TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    admin_id      TEXT,
    relay_state   TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    consumed_at   BIGINT,
    result        TEXT
);
CREATE INDEX saml_requests_expires ON saml_requests (expires_at);

CREATE TABLE saml_replay (
    org_id        TEXT NOT NULL,
    assertion_id  TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, assertion_id)
);
CREATE INDEX saml_replay_expires ON saml_replay (expires_at);
