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

/// Row ids that sort by creation time (UUID version 7, RFC 9562), for append-mostly tables
/// (the SCIM request log): a new row's key lands at the end of the index, not at a random page.
pub fn new_time_ordered_id() -> String {
    // Random below the millisecond: `now_v7` counts up within one, and the count between two
    // ids an organisation sees would tell how many requests other organisations made meanwhile.
    uuid::Uuid::new_v7(uuid::Timestamp::now(uuid::NoContext)).to_string()
}

/// Org ids are exactly 32 lower-case hex characters; anything else is refused before touching the database.
pub fn is_valid_org_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
