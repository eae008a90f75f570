//! Reading our own cookies from `Cookie` header values: one parser for every cookie the server
//! sets outside the session layer (the SAML browser binding, the trusted-device token).

/// The value of cookie `name` among the `Cookie` header values, if `valid` accepts it. A value
/// that fails `valid` is treated as absent, so a tampered cookie never reaches a query.
pub fn read<'a>(
    header_values: impl IntoIterator<Item = &'a str>,
    name: &str,
    valid: impl Fn(&str) -> bool,
) -> Option<String> {
    header_values
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == name && valid(v))
        .map(|(_, v)| v.to_string())
}

/// 64 hexadecimal characters (a 256-bit value in hex).
pub fn is_hex_256(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A `Secret` as the server hands them out (`secret::is_well_formed`).
pub fn is_token(v: &str) -> bool {
    crate::secret::is_well_formed(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_valid_cookie_among_several_headers() {
        let hex = "a".repeat(64);
        let h1 = format!("other=1; portal_saml={hex}");
        let headers = ["x=y", h1.as_str()];
        assert_eq!(read(headers, "portal_saml", is_hex_256), Some(hex.clone()));
        assert_eq!(read(headers, "portal", is_hex_256), None);
        // Present but malformed: absent.
        assert_eq!(read(["portal_saml=zz"], "portal_saml", is_hex_256), None);
        assert_eq!(read(["d=a.b"], "d", is_token), None);
        assert_eq!(read(["d=ab-_9"], "d", is_token), Some("ab-_9".into()));
    }
}
