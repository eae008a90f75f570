//! IdP metadata import and our SP metadata.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use portal_saml::metadata::{parse_idp_metadata, sp_metadata, MetadataError};

fn cert_body(name: &str) -> String {
    std::fs::read_to_string(common::fixture(&format!("{name}.crt")))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

fn metadata(certs: &[&str], sso: &str) -> String {
    let keys: String = certs
        .iter()
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
{}
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                cert_body(c)
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/e"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>{sso}</md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

const REDIRECT: &str = r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example/post"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/redirect"/>"#;

#[test]
fn reads_entity_endpoint_and_signing_certificates() {
    let md = parse_idp_metadata(&metadata(&["idp", "other"], REDIRECT)).unwrap();
    assert_eq!(md.entity_id, "https://idp.example/e");
    assert_eq!(
        md.sso_url, "https://idp.example/redirect",
        "HTTP-Redirect preferred"
    );
    assert_eq!(md.certificates.len(), 2, "encryption keys are ignored");
    assert_eq!(
        md.certificates[0].fingerprint,
        portal_saml::cert::fingerprint(&common::cert_der("idp"))
    );
}

#[test]
fn refuses_what_it_cannot_use() {
    assert_eq!(
        parse_idp_metadata(&metadata(&[], REDIRECT)),
        Err(MetadataError::NoCertificate)
    );
    assert_eq!(
        parse_idp_metadata(&metadata(&["idp"], "")),
        Err(MetadataError::NoSsoUrl)
    );
    assert_eq!(
        parse_idp_metadata(&metadata(&["idp", "other", "idp"], REDIRECT))
            .map(|m| m.certificates.len()),
        Ok(2),
        "a repeated certificate counts once"
    );
    let dtd = format!(
        "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
        metadata(&["idp"], REDIRECT)
    );
    assert_eq!(parse_idp_metadata(&dtd), Err(MetadataError::Dtd));
    assert!(matches!(
        parse_idp_metadata("<md:EntityDescriptor"),
        Err(MetadataError::Malformed(_))
    ));
    let sp = sp_metadata("https://sp/e", "https://sp/acs", "Org");
    assert_eq!(parse_idp_metadata(&sp), Err(MetadataError::NoIdp));
}

#[test]
fn sp_metadata_escapes_and_names_our_endpoints() {
    let xml = sp_metadata("https://sp/e?a=1&b=2", "https://sp/acs", "R&D <Labs>");
    assert!(xml.contains(r#"entityID="https://sp/e?a=1&amp;b=2""#));
    assert!(xml.contains("R&amp;D &lt;Labs&gt;"));
    assert!(xml.contains(r#"Location="https://sp/acs""#));
    roxmltree::Document::parse(&xml).unwrap();
}

#[test]
fn certificate_as_pem_bare_base64_or_der_is_the_same_certificate() {
    use portal_saml::cert::{parse_certificate, parse_certificate_bytes};
    let pem = std::fs::read_to_string(common::fixture("idp.crt")).unwrap();
    let from_pem = parse_certificate(&pem).unwrap();
    let der = from_pem.der();
    let from_der = parse_certificate_bytes(&der).unwrap();
    let from_base64 = parse_certificate(&cert_body("idp")).unwrap();
    let from_pem_bytes = parse_certificate_bytes(pem.as_bytes()).unwrap();
    for c in [&from_der, &from_base64, &from_pem_bytes] {
        assert_eq!(c.fingerprint, from_pem.fingerprint);
    }
    assert_eq!(from_pem.key, "RSA 2048-bit");
    assert!(
        from_pem.subject.contains("CN=Test idp"),
        "{}",
        from_pem.subject
    );
    assert!(from_pem.not_after > from_pem.not_before);
    // Two certificates pasted at once (a chain) are refused, and so is DER with trailing bytes.
    let two = format!(
        "{pem}{}",
        std::fs::read_to_string(common::fixture("other.crt")).unwrap()
    );
    assert_eq!(
        parse_certificate(&two),
        Err(portal_saml::cert::CertError::Several)
    );
    let mut trailing = der.clone();
    trailing.extend_from_slice(b"junk");
    assert!(parse_certificate_bytes(&trailing).is_err());
}
