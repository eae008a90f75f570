//! Builds SAML responses from a template and signs them with Debian's `xmlsec1` command — an
//! independent signer, never our own code.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

pub const ACS: &str = "https://portal.test/saml/org1/acs";
pub const ENTITY: &str = "https://portal.test/saml/org1/metadata";
pub const IDP: &str = "https://idp.test/metadata";
/// 2026-11-29T10:00:00Z
pub const NOW_MS: i64 = 1_795_946_400_000;

/// The key material under `server/crates/saml/tests/fixtures` (this file is also compiled into
/// portal-test-support, as `portal_test_support::saml_idp`, whose manifest directory is
/// `server/crates/test-support/`).
pub fn fixture(name: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let own = base.join("tests/fixtures");
    let dir = if own.join("idp.key").exists() {
        own
    } else {
        base.join("../saml/tests/fixtures")
    };
    dir.join(name)
}

/// Default options with every time relative to `now_ms` and our URLs for `base`/`org`.
pub fn opts_for(base: &str, org: &str, now_ms: i64) -> Opts {
    Opts {
        destination: Some(format!("{base}/saml/{org}/acs")),
        recipient: Some(format!("{base}/saml/{org}/acs")),
        audience: Some(format!("{base}/saml/{org}/metadata")),
        not_before_ms: now_ms - 60_000,
        not_on_or_after_ms: now_ms + 300_000,
        bearer_not_on_or_after_ms: Some(now_ms + 300_000),
        ..Opts::default()
    }
}

pub fn cert_der(name: &str) -> Vec<u8> {
    let pem = std::fs::read_to_string(fixture(&format!("{name}.crt"))).unwrap();
    portal_saml::cert::parse_certificate(&pem).unwrap().der()
}

pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sign {
    None,
    Response,
    Assertion,
    Both,
}

#[derive(Clone, Debug)]
pub struct Opts {
    pub response_id: String,
    pub assertion_id: String,
    pub destination: Option<String>,
    pub recipient: Option<String>,
    pub audience: Option<String>,
    pub issuer: String,
    /// Raw XML content of the NameID element (so tests can put comments in it).
    pub name_id_xml: String,
    pub in_response_to: Option<String>,
    pub not_before_ms: i64,
    pub not_on_or_after_ms: i64,
    pub bearer_not_on_or_after_ms: Option<i64>,
    pub bearer_not_before_ms: Option<i64>,
    /// The Response's own InResponseTo and Issuer, when they differ from the assertion's.
    pub response_in_response_to: Option<String>,
    pub response_issuer: Option<String>,
    pub status: String,
    pub attributes: Vec<(String, String)>,
    pub sign: Sign,
    pub key: &'static str,
    pub signature_alg: &'static str,
    pub digest_alg: &'static str,
    /// Inserted into the Response before its first child element (after signing if `late`).
    pub extra_in_response: String,
}

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

impl Default for Opts {
    fn default() -> Self {
        Opts {
            response_id: "_resp1".into(),
            assertion_id: "_assert1".into(),
            destination: Some(ACS.into()),
            recipient: Some(ACS.into()),
            audience: Some(ENTITY.into()),
            issuer: IDP.into(),
            name_id_xml: "ann@example.com".into(),
            in_response_to: None,
            not_before_ms: NOW_MS - 60_000,
            not_on_or_after_ms: NOW_MS + 300_000,
            bearer_not_on_or_after_ms: Some(NOW_MS + 300_000),
            bearer_not_before_ms: None,
            response_in_response_to: None,
            response_issuer: None,
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            attributes: vec![
                ("firstname".into(), "Ann".into()),
                ("lastname".into(), "Lee".into()),
                ("department".into(), "Research".into()),
            ],
            sign: Sign::Assertion,
            key: "idp",
            signature_alg: RSA_SHA256,
            digest_alg: SHA256,
            extra_in_response: String::new(),
        }
    }
}

pub fn signature_template(id: &str, o: &Opts) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{dig}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate></ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
        sig = o.signature_alg,
        dig = o.digest_alg,
    )
}

pub fn assertion_xml(o: &Opts, with_template: bool) -> String {
    let sig = if with_template {
        signature_template(&o.assertion_id, o)
    } else {
        String::new()
    };
    let irt = o
        .in_response_to
        .as_ref()
        .map(|i| format!(r#" InResponseTo="{i}""#))
        .unwrap_or_default();
    let recipient = o
        .recipient
        .as_ref()
        .map(|r| format!(r#" Recipient="{r}""#))
        .unwrap_or_default();
    let bearer_na = o
        .bearer_not_on_or_after_ms
        .map(|t| format!(r#" NotOnOrAfter="{}""#, iso(t)))
        .unwrap_or_default()
        + &o.bearer_not_before_ms
            .map(|t| format!(r#" NotBefore="{}""#, iso(t)))
            .unwrap_or_default();
    let audience = o
        .audience
        .as_ref()
        .map(|a| {
            format!("<saml:AudienceRestriction><saml:Audience>{a}</saml:Audience></saml:AudienceRestriction>")
        })
        .unwrap_or_default();
    let attrs: String = o
        .attributes
        .iter()
        .map(|(n, v)| {
            format!(r#"<saml:Attribute Name="{n}"><saml:AttributeValue>{v}</saml:AttributeValue></saml:Attribute>"#)
        })
        .collect();
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{sig}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{bearer_na}{recipient}{irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{na}">{audience}</saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#,
        id = o.assertion_id,
        now = iso(NOW_MS),
        issuer = o.issuer,
        name_id = o.name_id_xml,
        nb = iso(o.not_before_ms),
        na = iso(o.not_on_or_after_ms),
    )
}

pub fn response_xml(o: &Opts, assertion: &str) -> String {
    let sig = if matches!(o.sign, Sign::Response | Sign::Both) {
        signature_template(&o.response_id, o)
    } else {
        String::new()
    };
    let dest = o
        .destination
        .as_ref()
        .map(|d| format!(r#" Destination="{d}""#))
        .unwrap_or_default();
    let irt = o
        .response_in_response_to
        .as_ref()
        .or(o.in_response_to.as_ref())
        .map(|i| format!(r#" InResponseTo="{i}""#))
        .unwrap_or_default();
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"{dest}{irt}><saml:Issuer>{issuer}</saml:Issuer>{sig}{extra}<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>{assertion}</samlp:Response>"#,
        id = o.response_id,
        now = iso(NOW_MS),
        issuer = o.response_issuer.as_ref().unwrap_or(&o.issuer),
        status = o.status,
        extra = o.extra_in_response,
    )
}

/// Runs xmlsec1 on `xml`, signing the Signature node `xpath` selects (or the first one).
pub fn xmlsec_sign(xml: &str, key: &str, xpath: Option<&str>) -> String {
    let dir = tempdir();
    let input = dir.join("in.xml");
    let output = dir.join("out.xml");
    std::fs::write(&input, xml).unwrap();
    let keyarg = format!(
        "{},{}",
        fixture(&format!("{key}.key")).display(),
        fixture(&format!("{key}.crt")).display()
    );
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--sign")
        .arg("--privkey-pem")
        .arg(&keyarg)
        .arg("--id-attr:ID")
        .arg("urn:oasis:names:tc:SAML:2.0:assertion:Assertion")
        .arg("--id-attr:ID")
        .arg("urn:oasis:names:tc:SAML:2.0:protocol:Response")
        .arg("--id-attr:ID")
        .arg("urn:oasis:names:tc:SAML:2.0:protocol:Extensions");
    if let Some(x) = xpath {
        cmd.arg("--node-xpath").arg(x);
    }
    let out = cmd
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output()
        .expect("xmlsec1 is installed (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "xmlsec1 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = std::fs::read_to_string(&output).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // xmlsec1 writes an XML declaration; keep it (IdPs send one too).
    signed
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "portal-saml-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const ASSERTION_SIG: &str =
    "//*[local-name()='Assertion']/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']";
const RESPONSE_SIG: &str =
    "/*[local-name()='Response']/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']";

/// The signed response XML for `o`.
pub fn signed_xml(o: &Opts) -> String {
    let with_assertion_sig = matches!(o.sign, Sign::Assertion | Sign::Both);
    let xml = response_xml(o, &assertion_xml(o, with_assertion_sig));
    match o.sign {
        Sign::None => xml,
        Sign::Assertion => xmlsec_sign(&xml, o.key, Some(ASSERTION_SIG)),
        Sign::Response => xmlsec_sign(&xml, o.key, Some(RESPONSE_SIG)),
        Sign::Both => {
            let inner = xmlsec_sign(&xml, o.key, Some(ASSERTION_SIG));
            xmlsec_sign(&inner, o.key, Some(RESPONSE_SIG))
        }
    }
}

pub fn b64(xml: &str) -> String {
    STANDARD.encode(xml)
}
