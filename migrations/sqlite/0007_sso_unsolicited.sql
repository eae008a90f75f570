-- An organisation may refuse IdP-initiated (unsolicited) SAML responses: then every sign-in must
-- answer an AuthnRequest this browser started, which rules out login CSRF.
ALTER TABLE sso_configs ADD COLUMN refuse_unsolicited BIGINT NOT NULL DEFAULT 0;
