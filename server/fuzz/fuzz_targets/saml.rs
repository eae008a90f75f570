//! The SAML entry points over arbitrary input: the ACS's decode + validate (with a configured
//! certificate), IdP metadata import and certificate parsing. None may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portal_saml::response::{decode, validate, Expectations};

const CERT: &str = include_str!("../../crates/saml/tests/fixtures/idp.crt");

fuzz_target!(|data: &[u8]| {
    let der = portal_saml::cert::parse_certificate(CERT).unwrap().der();
    let certs = [der];
    let exp = Expectations {
        entity_id: "https://sp.test/saml/o/metadata",
        acs_url: "https://sp.test/saml/o/acs",
        idp_issuer: Some("https://idp.test/metadata"),
        certificates: &certs,
        now_ms: 1_795_946_400_000,
        skew_ms: 180_000,
    };
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = validate(text, &exp);
        if let Ok(xml) = decode(text) {
            let _ = validate(&xml, &exp);
        }
        let _ = portal_saml::metadata::parse_idp_metadata(text);
        let _ = portal_saml::cert::parse_certificate(text);
        let _ = portal_saml::attributes::profile(text, &[(text.to_string(), vec![text.to_string()])]);
    }
    let _ = portal_saml::cert::parse_certificate_bytes(data);
});
