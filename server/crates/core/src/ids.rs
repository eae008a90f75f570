//! Opaque identifiers.

use rand::RngCore;

/// An organisation's public id: 128 random bits, lower-case hex (URL-safe, unambiguous when read aloud).
pub fn new_org_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Row ids (users, admins, events …).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Org ids are exactly 32 lower-case hex characters; anything else is refused before touching the database.
pub fn is_valid_org_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
