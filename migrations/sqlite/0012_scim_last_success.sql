-- SCIM fidelity (issue 13): when a token's last *successful* request (an answer below 400) was,
-- for the provisioning screen's "no successful request for two sync cycles" warning.
-- `last_used_at` keeps counting every authenticated request, failures included.
ALTER TABLE scim_tokens ADD COLUMN last_success_at BIGINT;
-- Existing tokens: their last request is the best estimate there is (a working integration must
-- not show the warning at upgrade); a failing one warns once that request is 80 minutes old, as
-- before.
UPDATE scim_tokens SET last_success_at = last_used_at;
