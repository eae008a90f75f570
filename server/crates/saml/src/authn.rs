//! SP-initiated sign-in: the AuthnRequest, sent over the HTTP-Redirect binding.

use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use rand::RngCore;

use crate::xml_escape;

/// A new request ID: `_` and 32 hex digits (an XML ID may not start with a digit).
pub fn new_request_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    format!("_{}", hex::encode(b))
}

pub fn authn_request_xml(
    id: &str,
    issue_instant: &str,
    destination: &str,
    acs_url: &str,
    entity_id: &str,
) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{issue_instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>{entity}</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" AllowCreate="true"/></samlp:AuthnRequest>"#,
        id = xml_escape(id),
        issue_instant = xml_escape(issue_instant),
        destination = xml_escape(destination),
        acs = xml_escape(acs_url),
        entity = xml_escape(entity_id),
    )
}

/// The IdP URL with `SAMLRequest` (deflated, base64) and `RelayState` added to its query.
pub fn redirect_url(
    sso_url: &str,
    request_xml: &str,
    relay_state: Option<&str>,
) -> Result<String, url::ParseError> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(request_xml.as_bytes())
        .expect("writing to a Vec");
    let deflated = enc.finish().expect("writing to a Vec");
    let mut url = url::Url::parse(sso_url)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("SAMLRequest", &STANDARD.encode(deflated));
        if let Some(rs) = relay_state {
            q.append_pair("RelayState", rs);
        }
    }
    Ok(url.to_string())
}
