//! Validating a SAML Response posted to the ACS.
//!
//! Why one file of this size: the checks below run in one order against one parsed document, and
//! an attacker's way around them is usually a gap *between* two checks; keeping the whole order
//! in one place is what makes it reviewable.
//!
//! Order of work: size and encoding → a strict pre-parse (no DTD, no entities, a node cap) that
//! checks the document's shape (one Response, exactly one Assertion, no duplicate IDs, no SHA-1)
//! → signature verification by xmlsec (through samael) against the *configured* certificates only,
//! which returns the document reduced to what the signature covers → every policy check, read
//! from that verified document only (Issuer, Audience, Recipient, times, NameID, attributes).
//! The caller checks InResponseTo against its stored requests and the assertion ID against its
//! replay cache: both need the database.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use roxmltree::{Document, Node, ParsingOptions};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};

use crate::cert::fingerprint;

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// The decoded XML may not exceed this (the HTTP body limit is a little above its base64).
pub const MAX_XML_BYTES: usize = 192 * 1024;
const MAX_NODES: u32 = 20_000;

const ALLOWED: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// What we expect of a response for one organisation.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// Our Entity ID: the only acceptable Audience.
    pub entity_id: &'a str,
    /// Our ACS URL: Destination and Recipient must equal it exactly.
    pub acs_url: &'a str,
    /// The IdP's entity ID, checked against Issuer when the admin configured it.
    pub idp_issuer: Option<&'a str>,
    /// DER certificates, in order: current, then next (rollover).
    pub certificates: &'a [Vec<u8>],
    pub now_ms: i64,
    pub skew_ms: i64,
}

/// A response that passed every check that needs no database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub assertion_id: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// From the (signed) SubjectConfirmationData, or the Response when only it carries one.
    pub in_response_to: Option<String>,
    /// Keep the assertion ID in the replay cache until then (Unix ms).
    pub replay_until_ms: i64,
    /// Index into `Expectations::certificates` of the certificate that verified it.
    pub certificate_index: usize,
    /// Attribute name → values, in document order.
    pub attributes: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("The SAMLResponse was missing or was not base64.")]
    NotBase64,
    #[error("The response was larger than {} KiB.", MAX_XML_BYTES / 1024)]
    TooLarge,
    #[error("The response was not UTF-8 XML.")]
    NotUtf8,
    #[error("The response contained a DTD or entity declarations, which are never accepted.")]
    Dtd,
    #[error("The response was not well-formed XML: {0}")]
    Malformed(String),
    #[error("The document was not a SAML 2.0 Response.")]
    NotAResponse,
    #[error("The response carried {0} assertions; exactly one is accepted.")]
    AssertionCount(usize),
    #[error(
        "The response carried an encrypted assertion; turn off assertion encryption in the IdP."
    )]
    Encrypted,
    #[error("Two elements in the response had the same ID ({0}).")]
    DuplicateId(String),
    #[error("The IdP reported a failure: {0}")]
    Status(String),
    #[error(
        "The response was meant for another address: Destination was {found}, expected {expected}."
    )]
    Destination { found: String, expected: String },
    #[error(
        "The response was not signed. Configure the IdP to sign the response or the assertion."
    )]
    Unsigned,
    #[error("The response was signed with SHA-1 ({0}), which is refused. Configure the IdP to sign with SHA-256.")]
    Sha1(String),
    #[error("{0}")]
    BadSignature(String),
    #[error(
        "The signed part of the response did not contain the assertion (signature wrapping?)."
    )]
    AssertionNotSigned,
    #[error("The assertion's issuer was {found}, but this organisation expects {expected}.")]
    Issuer { found: String, expected: String },
    #[error("The assertion had no Issuer.")]
    NoIssuer,
    #[error("The assertion had no AudienceRestriction; it must name {0}.")]
    NoAudience(String),
    #[error("The response was meant for another audience: {found}; expected {expected}.")]
    Audience { found: String, expected: String },
    #[error("The assertion is not valid yet (NotBefore {0}); check the IdP's clock.")]
    NotYetValid(String),
    #[error("The assertion has expired (NotOnOrAfter {0}).")]
    Expired(String),
    #[error("The assertion had no bearer SubjectConfirmation with a NotOnOrAfter.")]
    NoBearer,
    #[error(
        "The assertion was meant for another address: Recipient was {found}, expected {expected}."
    )]
    Recipient { found: String, expected: String },
    #[error("The assertion's Subject had no NameID, or an empty one.")]
    NoNameId,
    #[error("The NameID contained markup; it must be plain text.")]
    NameIdMarkup,
    #[error("The response's InResponseTo ({response}) and the assertion's ({assertion}) differ.")]
    InResponseToMismatch { response: String, assertion: String },
    #[error("A time in the assertion could not be read: {0}")]
    BadTime(String),
    #[error("The response declared the character encoding {0}; only UTF-8 is accepted.")]
    Encoding(String),
    #[error("The response's signature has a shape that is never accepted: {0}.")]
    SignatureShape(String),
}

/// Standard SAML status codes, by their last segment: the only status words an unverified
/// response may put in front of an admin.
const KNOWN_STATUS: &[&str] = &[
    "Requester",
    "Responder",
    "VersionMismatch",
    "AuthnFailed",
    "InvalidAttrNameOrValue",
    "InvalidNameIDPolicy",
    "NoAuthnContext",
    "NoAvailableIDP",
    "NoPassive",
    "NoSupportedIDP",
    "PartialLogout",
    "ProxyCountExceeded",
    "RequestDenied",
    "RequestUnsupported",
    "RequestVersionDeprecated",
    "RequestVersionTooHigh",
    "RequestVersionTooLow",
    "ResourceNotRecognized",
    "TooManyResponses",
    "UnknownAttrProfile",
    "UnknownPrincipal",
    "UnsupportedBinding",
];

impl Failure {
    /// What an admin may be shown. Anyone can post to an ACS, so a failure found before the
    /// signature verified is described in our own fixed words: no text chosen by the sender (a
    /// StatusMessage such as "paste this new certificate…", an ID, an attribute value) is ever
    /// repeated as guidance. After verification the content came from the configured IdP and is
    /// shown as is.
    pub fn explanation(&self) -> String {
        match self {
            Failure::Malformed(_) => "The response was not well-formed XML.".into(),
            Failure::DuplicateId(_) => {
                "Two elements in the response had the same ID, which is never accepted.".into()
            }
            Failure::Status(words) => {
                let codes: Vec<&str> = words
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .split(" / ")
                    .map(str::trim)
                    .filter(|w| KNOWN_STATUS.contains(w))
                    .collect();
                let codes = if codes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", codes.join(" / "))
                };
                format!(
                    "The identity provider answered with an error status{codes} instead of a \
                     signed assertion. Its message is not shown because an unsigned message can \
                     come from anyone; look up the failure in the identity provider's own logs."
                )
            }
            Failure::Destination { expected, .. } => format!(
                "The response was meant for another address: its Destination was not this \
                 organisation's ACS URL ({expected})."
            ),
            Failure::Sha1(_) => "The response was signed with SHA-1, which is refused. Configure \
                 the IdP to sign with SHA-256."
                .into(),
            Failure::Encoding(_) => {
                "The response declared a character encoding other than UTF-8, which is refused."
                    .into()
            }
            other => other.to_string(),
        }
    }

    /// A short code for events and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::NotBase64 => "not_base64",
            Failure::TooLarge => "too_large",
            Failure::NotUtf8 => "not_utf8",
            Failure::Dtd => "dtd",
            Failure::Malformed(_) => "malformed",
            Failure::NotAResponse => "not_a_response",
            Failure::AssertionCount(_) => "assertion_count",
            Failure::Encrypted => "encrypted",
            Failure::DuplicateId(_) => "duplicate_id",
            Failure::Status(_) => "status",
            Failure::Destination { .. } => "destination",
            Failure::Unsigned => "unsigned",
            Failure::Sha1(_) => "sha1",
            Failure::BadSignature(_) => "bad_signature",
            Failure::AssertionNotSigned => "assertion_not_signed",
            Failure::Issuer { .. } => "issuer",
            Failure::NoIssuer => "no_issuer",
            Failure::NoAudience(_) => "no_audience",
            Failure::Audience { .. } => "audience",
            Failure::NotYetValid(_) => "not_yet_valid",
            Failure::Expired(_) => "expired",
            Failure::NoBearer => "no_bearer",
            Failure::Recipient { .. } => "recipient",
            Failure::NoNameId => "no_name_id",
            Failure::NameIdMarkup => "name_id_markup",
            Failure::InResponseToMismatch { .. } => "in_response_to_mismatch",
            Failure::BadTime(_) => "bad_time",
            Failure::Encoding(_) => "encoding",
            Failure::SignatureShape(_) => "signature_shape",
        }
    }
}

fn options() -> ParsingOptions {
    ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    }
}

/// Decodes the POSTed `SAMLResponse` form value (plain base64: the POST binding never deflates).
pub fn decode(saml_response: &str) -> Result<String, Failure> {
    let compact: String = saml_response
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(Failure::NotBase64);
    }
    if compact.len() > MAX_XML_BYTES / 3 * 4 + 4 {
        return Err(Failure::TooLarge);
    }
    let bytes = STANDARD.decode(compact).map_err(|_| Failure::NotBase64)?;
    if bytes.len() > MAX_XML_BYTES {
        return Err(Failure::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| Failure::NotUtf8)
}

fn is(node: &Node, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns)
}

fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| is(c, ns, name))
}

/// Every text descendant, in order: a comment or processing instruction cannot cut it short.
fn full_text(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fn parse_time(s: &str) -> Result<i64, Failure> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| Failure::BadTime(s.to_string()))
}

/// Checks a decoded response. The caller must still check `in_response_to` and the replay cache.
pub fn validate(xml: &str, exp: &Expectations<'_>) -> Result<Verified, Failure> {
    if xml.len() > MAX_XML_BYTES {
        return Err(Failure::TooLarge);
    }
    // libxml2 (inside xmlsec) honours a declared encoding, the pre-parser does not: anything but
    // UTF-8 would let the two read different documents.
    check_declared_encoding(xml)?;
    // No DTDs at all: not for entities, not for external subsets, not for billion laughs. The
    // strict parser below refuses them too; this makes the reason plain.
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(Failure::Dtd);
    }
    let doc = Document::parse_with_options(xml, options()).map_err(|e| match e {
        roxmltree::Error::DtdDetected => Failure::Dtd,
        other => Failure::Malformed(other.to_string()),
    })?;
    let root = doc.root_element();
    if !is(&root, NS_PROTOCOL, "Response") {
        return Err(Failure::NotAResponse);
    }

    // Shape: exactly one assertion, anywhere in the document (a second one hidden in an
    // Extensions or ds:Object element is how signature wrapping starts), and unique IDs.
    if doc
        .descendants()
        .any(|n| is(&n, NS_ASSERTION, "EncryptedAssertion"))
    {
        return Err(Failure::Encrypted);
    }
    let assertions: Vec<Node> = doc
        .descendants()
        .filter(|n| is(n, NS_ASSERTION, "Assertion"))
        .collect();
    if assertions.len() != 1 {
        return Err(Failure::AssertionCount(assertions.len()));
    }
    let raw_assertion = assertions[0];
    if raw_assertion.parent() != Some(root) {
        return Err(Failure::AssertionCount(0));
    }
    let mut ids = std::collections::HashSet::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        for a in n.attributes() {
            if a.name().eq_ignore_ascii_case("id") && !ids.insert(a.value().to_string()) {
                return Err(Failure::DuplicateId(a.value().to_string()));
            }
        }
    }

    // The envelope: status and destination (restrictive checks; they never grant anything).
    if let Some(code) = child(root, NS_PROTOCOL, "Status")
        .and_then(|s| child(s, NS_PROTOCOL, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
    {
        if code != SUCCESS {
            let message = child(root, NS_PROTOCOL, "Status")
                .and_then(|s| child(s, NS_PROTOCOL, "StatusMessage"))
                .map(full_text)
                .unwrap_or_default();
            let nested = child(root, NS_PROTOCOL, "Status")
                .and_then(|s| child(s, NS_PROTOCOL, "StatusCode"))
                .and_then(|c| child(c, NS_PROTOCOL, "StatusCode"))
                .and_then(|c| c.attribute("Value"));
            let mut words = code.rsplit(':').next().unwrap_or(code).to_string();
            if let Some(n) = nested {
                words.push_str(" / ");
                words.push_str(n.rsplit(':').next().unwrap_or(n));
            }
            if !message.trim().is_empty() {
                words.push_str(": ");
                words.push_str(message.trim());
            }
            return Err(Failure::Status(words.chars().take(300).collect()));
        }
    } else {
        return Err(Failure::Status("the response carried no status".into()));
    }
    match root.attribute("Destination") {
        Some(d) if d == exp.acs_url => {}
        found => {
            return Err(Failure::Destination {
                found: found.unwrap_or("(none)").chars().take(300).collect(),
                expected: exp.acs_url.to_string(),
            })
        }
    }

    // Signatures: present, not SHA-1, verified by a configured certificate.
    let signatures: Vec<Node> = doc
        .descendants()
        .filter(|n| is(n, NS_DSIG, "Signature"))
        .collect();
    if signatures.is_empty() {
        return Err(Failure::Unsigned);
    }
    for n in doc
        .descendants()
        .filter(|n| is(n, NS_DSIG, "SignatureMethod") || is(n, NS_DSIG, "DigestMethod"))
    {
        let alg = n.attribute("Algorithm").unwrap_or_default();
        if alg.ends_with("sha1") {
            return Err(Failure::Sha1(alg.to_string()));
        }
    }
    check_signature_shapes(&doc, root, raw_assertion, &signatures)?;
    let mut verified = None;
    for (index, der) in exp.certificates.iter().enumerate() {
        let cert = CertificateDer::from(der.clone());
        if let Ok(reduced) = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            std::slice::from_ref(&cert),
            ReduceMode::ValidateAndMarkNoAncestors,
            Some(ALLOWED),
        ) {
            verified = Some((index, reduced));
            break;
        }
    }
    let Some((certificate_index, reduced)) = verified else {
        return Err(Failure::BadSignature(signature_failure_words(&doc, exp)));
    };

    // From here on, only the verified document is read.
    let signed = Document::parse_with_options(&reduced, options())
        .map_err(|e| Failure::Malformed(format!("verified part: {e}")))?;
    let signed_assertions: Vec<Node> = signed
        .descendants()
        .filter(|n| is(n, NS_ASSERTION, "Assertion"))
        .collect();
    if signed_assertions.len() != 1 {
        return Err(Failure::AssertionNotSigned);
    }
    let assertion = signed_assertions[0];
    let assertion_id = assertion.attribute("ID").unwrap_or_default().to_string();
    if assertion_id.is_empty() || raw_assertion.attribute("ID") != Some(assertion_id.as_str()) {
        return Err(Failure::AssertionNotSigned);
    }
    // The assertion must be whole, not a shell whose children were stripped as unsigned.
    if child(assertion, NS_ASSERTION, "Subject").is_none() {
        return Err(Failure::AssertionNotSigned);
    }

    let issuer = child(assertion, NS_ASSERTION, "Issuer")
        .map(full_text)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or(Failure::NoIssuer)?;
    if let Some(expected) = exp.idp_issuer {
        if issuer != expected {
            return Err(Failure::Issuer {
                found: issuer,
                expected: expected.to_string(),
            });
        }
        if let Some(resp_issuer) = child(root, NS_ASSERTION, "Issuer").map(full_text) {
            if resp_issuer.trim() != expected {
                return Err(Failure::Issuer {
                    found: resp_issuer.trim().to_string(),
                    expected: expected.to_string(),
                });
            }
        }
    }

    // Conditions: times and audience.
    let conditions = child(assertion, NS_ASSERTION, "Conditions")
        .ok_or_else(|| Failure::NoAudience(exp.entity_id.to_string()))?;
    let mut until = i64::MIN;
    if let Some(nb) = conditions.attribute("NotBefore") {
        if parse_time(nb)? > exp.now_ms + exp.skew_ms {
            return Err(Failure::NotYetValid(nb.to_string()));
        }
    }
    if let Some(na) = conditions.attribute("NotOnOrAfter") {
        let t = parse_time(na)?;
        if t + exp.skew_ms <= exp.now_ms {
            return Err(Failure::Expired(na.to_string()));
        }
        until = until.max(t);
    }
    let restrictions: Vec<Node> = conditions
        .children()
        .filter(|c| is(c, NS_ASSERTION, "AudienceRestriction"))
        .collect();
    if restrictions.is_empty() {
        return Err(Failure::NoAudience(exp.entity_id.to_string()));
    }
    for r in restrictions {
        let audiences: Vec<String> = r
            .children()
            .filter(|c| is(c, NS_ASSERTION, "Audience"))
            .map(|a| full_text(a).trim().to_string())
            .collect();
        if !audiences.iter().any(|a| a == exp.entity_id) {
            return Err(Failure::Audience {
                found: if audiences.is_empty() {
                    "(none)".into()
                } else {
                    audiences.join(", ")
                },
                expected: exp.entity_id.to_string(),
            });
        }
    }

    // Subject: NameID and a bearer confirmation for our ACS.
    let subject = child(assertion, NS_ASSERTION, "Subject").ok_or(Failure::NoNameId)?;
    let name_id_node = child(subject, NS_ASSERTION, "NameID").ok_or(Failure::NoNameId)?;
    if name_id_node.children().any(|c| c.is_element()) {
        return Err(Failure::NameIdMarkup);
    }
    let name_id = full_text(name_id_node).trim().to_string();
    if name_id.is_empty() {
        return Err(Failure::NoNameId);
    }
    let mut bearer_error = Failure::NoBearer;
    let mut confirmed = None;
    for sc in subject
        .children()
        .filter(|c| is(c, NS_ASSERTION, "SubjectConfirmation"))
        .filter(|c| c.attribute("Method") == Some(BEARER))
    {
        let Some(data) = child(sc, NS_ASSERTION, "SubjectConfirmationData") else {
            continue;
        };
        let Some(na) = data.attribute("NotOnOrAfter") else {
            continue;
        };
        let na_ms = parse_time(na)?;
        if na_ms + exp.skew_ms <= exp.now_ms {
            bearer_error = Failure::Expired(na.to_string());
            continue;
        }
        if let Some(nb) = data.attribute("NotBefore") {
            if parse_time(nb)? > exp.now_ms + exp.skew_ms {
                bearer_error = Failure::NotYetValid(nb.to_string());
                continue;
            }
        }
        match data.attribute("Recipient") {
            Some(r) if r == exp.acs_url => {}
            found => {
                bearer_error = Failure::Recipient {
                    found: found.unwrap_or("(none)").to_string(),
                    expected: exp.acs_url.to_string(),
                };
                continue;
            }
        }
        confirmed = Some((na_ms, data.attribute("InResponseTo").map(str::to_string)));
        break;
    }
    let Some((confirmation_until, assertion_irt)) = confirmed else {
        return Err(bearer_error);
    };
    until = until.max(confirmation_until);

    // The Response's InResponseTo counts only when the Response itself is signed.
    let signed_root = signed.root_element();
    let response_irt = if is(&signed_root, NS_PROTOCOL, "Response") {
        signed_root.attribute("InResponseTo").map(str::to_string)
    } else {
        None
    };
    let in_response_to = match (response_irt, assertion_irt) {
        (Some(r), Some(a)) if r != a => {
            return Err(Failure::InResponseToMismatch {
                response: r,
                assertion: a,
            })
        }
        (r, a) => a.or(r),
    };

    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in assertion
        .children()
        .filter(|c| is(c, NS_ASSERTION, "AttributeStatement"))
    {
        for attr in statement
            .children()
            .filter(|c| is(c, NS_ASSERTION, "Attribute"))
        {
            let Some(name) = attr.attribute("Name") else {
                continue;
            };
            let values = attr
                .children()
                .filter(|c| is(c, NS_ASSERTION, "AttributeValue"))
                .map(|v| full_text(v).trim().to_string())
                .collect();
            attributes.push((name.to_string(), values));
        }
    }

    Ok(Verified {
        assertion_id,
        issuer,
        name_id,
        name_id_format: name_id_node.attribute("Format").map(str::to_string),
        in_response_to,
        replay_until_ms: until + exp.skew_ms,
        certificate_index,
        attributes,
    })
}

/// Why no configured certificate verified the response, in words an admin can act on.
fn signature_failure_words(doc: &Document, exp: &Expectations<'_>) -> String {
    let configured: Vec<String> = exp.certificates.iter().map(|d| fingerprint(d)).collect();
    let presented = doc
        .descendants()
        .find(|n| is(n, NS_DSIG, "X509Certificate"))
        .map(full_text)
        .map(|t| t.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .and_then(|b| STANDARD.decode(b).ok())
        .map(|der| fingerprint(&der));
    match presented {
        Some(fp) if !configured.contains(&fp) => format!(
            "The signature was made with a certificate that is not the one configured here: \
             fingerprint {fp}. Configured: {}.",
            configured.join(" and ")
        ),
        Some(_) => "The signature did not verify with the configured certificate: the response \
                    was changed after it was signed, or it uses an algorithm that is not accepted."
            .to_string(),
        None => format!(
            "The signature did not verify with the configured certificate (fingerprint {}).",
            configured.join(" and ")
        ),
    }
}

const C14N_ALLOWED: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
];
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

fn check_declared_encoding(xml: &str) -> Result<(), Failure> {
    let body = xml.trim_start_matches('\u{feff}');
    if !body.starts_with("<?xml") {
        return Ok(());
    }
    let Some(end) = body.find("?>") else {
        return Err(Failure::Malformed("unterminated XML declaration".into()));
    };
    let decl = &body[..end];
    if let Some(at) = decl.find("encoding") {
        let rest = decl[at + "encoding".len()..].trim_start();
        let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
        let value: String = rest
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| *c != '"' && *c != '\'')
            .collect();
        if !value.eq_ignore_ascii_case("utf-8") {
            return Err(Failure::Encoding(value.chars().take(40).collect()));
        }
    }
    Ok(())
}

/// Only the signature shapes SAML IdPs produce: at most one Signature on the Response and one on
/// the Assertion, each with a single same-document Reference to its own parent's ID, enveloped
/// and canonicalisation transforms only, and no Object, Manifest or RetrievalMethod. Anything
/// else (external or file URIs, XSLT/XPath transforms) never reaches xmlsec.
fn check_signature_shapes(
    doc: &Document,
    root: Node,
    assertion: Node,
    signatures: &[Node],
) -> Result<(), Failure> {
    let shape = |why: &str| Err(Failure::SignatureShape(why.to_string()));
    if doc.descendants().any(|n| {
        is(&n, NS_DSIG, "Object")
            || is(&n, NS_DSIG, "Manifest")
            || is(&n, NS_DSIG, "RetrievalMethod")
    }) {
        return shape("it contains a ds:Object, ds:Manifest or ds:RetrievalMethod");
    }
    let mut seen_parents = Vec::new();
    for sig in signatures {
        let Some(parent) = sig.parent_element() else {
            return shape("a Signature has no parent element");
        };
        if parent != root && parent != assertion {
            return shape("a Signature is neither on the Response nor on the Assertion");
        }
        if seen_parents.contains(&parent.id()) {
            return shape("an element carries two Signatures");
        }
        seen_parents.push(parent.id());
        let Some(signed_info) = sig.children().find(|c| is(c, NS_DSIG, "SignedInfo")) else {
            return shape("a Signature has no SignedInfo");
        };
        let c14n = signed_info
            .children()
            .find(|c| is(c, NS_DSIG, "CanonicalizationMethod"))
            .and_then(|c| c.attribute("Algorithm"))
            .unwrap_or_default();
        if !C14N_ALLOWED.contains(&c14n) {
            return shape(
                "the canonicalisation method is not exclusive or inclusive C14N without comments",
            );
        }
        let references: Vec<Node> = signed_info
            .children()
            .filter(|c| is(c, NS_DSIG, "Reference"))
            .collect();
        if references.len() != 1 {
            return shape("a Signature must have exactly one Reference");
        }
        let reference = references[0];
        let expected = parent.attribute("ID").map(|id| format!("#{id}"));
        if expected.is_none() || reference.attribute("URI") != expected.as_deref() {
            return shape("the Reference does not point at the signed element's own ID");
        }
        if let Some(transforms) = reference.children().find(|c| is(c, NS_DSIG, "Transforms")) {
            for t in transforms.children().filter(|c| c.is_element()) {
                let alg = t.attribute("Algorithm").unwrap_or_default();
                if !is(&t, NS_DSIG, "Transform")
                    || (alg != ENVELOPED && !C14N_ALLOWED.contains(&alg))
                {
                    return shape("a transform other than enveloped-signature and C14N");
                }
                if t.children()
                    .any(|c| c.is_element() && c.tag_name().name() != "InclusiveNamespaces")
                {
                    return shape("a transform carries parameters");
                }
            }
        }
    }
    Ok(())
}
