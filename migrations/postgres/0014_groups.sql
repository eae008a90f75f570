-- SCIM Groups (issue 13): a group per row, its members one row each, so adding or removing one
-- member of a 10,000-member group touches one row and never rewrites the list.

CREATE TABLE groups (
    id              TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL REFERENCES orgs (id),
    display_name    TEXT NOT NULL,
    external_id     TEXT,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- displayName is unique per organisation, case-insensitively.
CREATE UNIQUE INDEX groups_org_display_name ON groups (org_id, lower(display_name));
CREATE INDEX groups_org_created ON groups (org_id, created_at, id);
CREATE INDEX groups_org_external_id ON groups (org_id, external_id);

CREATE TABLE group_members (
    group_id        TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    added_at        BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
-- A user's groups (the User resource's `groups`, removing a deleted user's memberships).
CREATE INDEX group_members_user ON group_members (user_id);
