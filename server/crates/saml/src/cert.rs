//! The IdP's signing certificate: what an admin pastes or uploads, checked and described.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

/// Accepted input is capped well above any real certificate.
const MAX_INPUT: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("Paste the certificate.")]
    Empty,
    #[error(
        "This is a private key. Never share a private key — not with us, not with anyone. It has not \
         been stored. Paste the IdP's public certificate (it begins with -----BEGIN CERTIFICATE-----)."
    )]
    PrivateKey,
    #[error(
        "This is a certificate signing request (CSR), not a certificate. Paste the certificate your \
         IdP lets you download (it begins with -----BEGIN CERTIFICATE-----)."
    )]
    SigningRequest,
    #[error("This is a public key on its own. Paste the whole certificate (it begins with -----BEGIN CERTIFICATE-----).")]
    BarePublicKey,
    #[error("Paste one certificate, not a chain: only the IdP's signing certificate is needed.")]
    Several,
    #[error("This is not a certificate: {0}. Paste the PEM text (-----BEGIN CERTIFICATE----- …) or upload the .pem, .crt or .cer file.")]
    NotACertificate(String),
    #[error("The certificate is too large.")]
    TooLarge,
    #[error(
        "The certificate's {0}-bit RSA key is too weak; SAML signatures need at least 2048 bits."
    )]
    WeakKey(usize),
}

/// A parsed certificate, as the Single Sign-On screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    /// Normalised PEM (what is stored).
    pub pem: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    /// Unix milliseconds.
    pub not_before: i64,
    pub not_after: i64,
    /// e.g. "RSA 2048-bit", "EC 256-bit".
    pub key: String,
    /// SHA-256 of the DER, colon-separated upper-case hex.
    pub fingerprint: String,
}

impl CertInfo {
    pub fn der(&self) -> Vec<u8> {
        pem_body_der(&self.pem).expect("stored PEM is valid")
    }
    pub fn expired_at(&self, now_ms: i64) -> bool {
        self.not_after <= now_ms
    }
}

pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn pem_body_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

fn to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Parses what the admin pasted (PEM, or the bare base64 of the DER as IdP screens show it) or
/// uploaded (PEM or DER bytes).
pub fn parse_certificate_bytes(input: &[u8]) -> Result<CertInfo, CertError> {
    if input.len() > MAX_INPUT {
        return Err(CertError::TooLarge);
    }
    // A real DER certificate is never valid UTF-8 (its length bytes and key material see to that).
    match std::str::from_utf8(input) {
        Ok(text) => parse_certificate(text),
        Err(_) => describe_der(input),
    }
}

pub fn parse_certificate(input: &str) -> Result<CertInfo, CertError> {
    if input.len() > MAX_INPUT {
        return Err(CertError::TooLarge);
    }
    let text = input.trim();
    if text.is_empty() {
        return Err(CertError::Empty);
    }
    let upper = text.to_ascii_uppercase();
    if upper.contains("PRIVATE KEY") {
        return Err(CertError::PrivateKey);
    }
    if upper.contains("CERTIFICATE REQUEST") {
        return Err(CertError::SigningRequest);
    }
    if upper.contains("-----BEGIN PUBLIC KEY") || upper.contains("-----BEGIN RSA PUBLIC KEY") {
        return Err(CertError::BarePublicKey);
    }
    if text.contains("-----BEGIN") {
        let blocks = text.matches("-----BEGIN CERTIFICATE-----").count()
            + text.matches("-----BEGIN X509 CERTIFICATE-----").count();
        if blocks == 0 {
            return Err(CertError::NotACertificate(
                "the PEM block is not a CERTIFICATE".into(),
            ));
        }
        if blocks > 1 {
            return Err(CertError::Several);
        }
        let (_, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes())
            .map_err(|e| CertError::NotACertificate(format!("the PEM block is damaged ({e})")))?;
        return describe_der(&pem.contents);
    }
    // Bare base64, as some IdP screens show the certificate.
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(compact)
        .map_err(|_| CertError::NotACertificate("the text is neither PEM nor base64".into()))?;
    describe_der(&der)
}

fn describe_der(der: &[u8]) -> Result<CertInfo, CertError> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| CertError::NotACertificate(format!("it does not parse as X.509 ({e})")))?;
    if !rest.is_empty() {
        return Err(CertError::NotACertificate(
            "there are trailing bytes after the certificate".into(),
        ));
    }
    let der = &der[..der.len() - rest.len()];
    let key = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            if bits < 2048 {
                return Err(CertError::WeakKey(bits));
            }
            format!("RSA {bits}-bit")
        }
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => format!("EC {}-bit", ec.key_size()),
        Ok(other) => format!("{} key", key_kind(&other)),
        Err(_) => "unknown key type".into(),
    };
    Ok(CertInfo {
        pem: to_pem(der),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string().to_ascii_uppercase(),
        not_before: cert.validity().not_before.timestamp() * 1000,
        not_after: cert.validity().not_after.timestamp() * 1000,
        key,
        fingerprint: fingerprint(der),
    })
}

fn key_kind(k: &x509_parser::public_key::PublicKey<'_>) -> &'static str {
    use x509_parser::public_key::PublicKey::*;
    match k {
        RSA(_) => "RSA",
        EC(_) => "EC",
        DSA(_) => "DSA",
        GostR3410(_) | GostR3410_2012(_) => "GOST",
        Unknown(_) => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_keys_requests_and_garbage_with_their_own_words() {
        assert_eq!(
            parse_certificate("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"),
            Err(CertError::PrivateKey)
        );
        assert_eq!(
            parse_certificate(
                "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"
            ),
            Err(CertError::PrivateKey)
        );
        assert_eq!(
            parse_certificate(
                "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"
            ),
            Err(CertError::SigningRequest)
        );
        assert_eq!(parse_certificate("   "), Err(CertError::Empty));
        assert!(matches!(
            parse_certificate("hello world"),
            Err(CertError::NotACertificate(_))
        ));
        assert!(matches!(
            parse_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
            Err(CertError::NotACertificate(_))
        ));
    }
}
