-- SCIM request log (issue 13): each authenticated SCIM request of an org, redacted and bounded
-- (`portal_core::scim_requests`), purged after the deployment's retention.
CREATE TABLE scim_requests (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES orgs (id),
    at               BIGINT NOT NULL,
    seq              BIGINT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    status           BIGINT NOT NULL,
    duration_us      BIGINT NOT NULL,
    client           TEXT,
    user_id          TEXT,
    user_name        TEXT,
    request_headers  TEXT NOT NULL,
    request_body     TEXT,
    response_body    TEXT
);
CREATE INDEX scim_requests_org_at ON scim_requests (org_id, at, seq);
CREATE INDEX scim_requests_org_user ON scim_requests (org_id, user_id);
CREATE INDEX scim_requests_at ON scim_requests (at);
