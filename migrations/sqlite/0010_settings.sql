-- Organisation settings (issue 12): with the userName = work-email rule off, SSO finds a user by
-- its work email when no userName matches; this index serves that lookup within an org.
CREATE INDEX users_org_email_ci ON users (org_id, lower(email));
