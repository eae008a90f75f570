//! Any string: the filter parser, the PATCH-path parser, the SQL translator and the in-memory
//! evaluator must return (Ok or Err), never panic or overflow the stack.
#![no_main]

#[path = "../../crates/scim-filter/tests/support/mod.rs"]
mod support;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(f) = scim_filter::parse_filter(s) {
        let _ = scim_filter::to_sql(&f, 2, &support::USERS);
        let user = serde_json::json!({
            "userName": "a@b.c", "active": true, "name": {"givenName": "A"},
            "emails": [{"value": "a@b.c", "type": "work"}],
            "meta": {"created": "2024-01-01T00:00:00Z"}
        });
        let _ = scim_filter::matches(&f, &user);
    }
    let _ = scim_filter::parse_path(s);
});
