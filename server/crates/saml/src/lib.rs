//! The SAML 2.0 service provider's message handling, free of storage and HTTP: IdP certificates
//! and metadata, our metadata and AuthnRequests, and the validation of posted responses.
//! Signatures are verified by xmlsec (through samael); nothing here signs or verifies by hand.

pub mod attributes;
pub mod authn;
pub mod cert;
pub mod metadata;
pub mod response;

/// Escapes text for an XML attribute or element.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether an IdP endpoint is acceptable: https, or http only to this machine (for testing).
pub fn check_sso_url(raw: &str) -> Result<url::Url, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Enter the IdP's SAML 2.0 endpoint (HTTP).".into());
    }
    let url = url::Url::parse(raw).map_err(|_| {
        format!("“{raw}” is not a URL. It looks like https://sso.jumpcloud.com/saml2/your-app.")
    })?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        "http" => {
            return Err("The endpoint must use https (http is allowed only for localhost).".into())
        }
        other => return Err(format!("The endpoint must be an https URL, not {other}:.")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("The endpoint has no host name.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("The endpoint must not contain a user name or password.".into());
    }
    if url.fragment().is_some() {
        return Err("The endpoint must not contain a #fragment.".into());
    }
    Ok(url)
}
