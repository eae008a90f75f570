//! Arbitrary JSON as a PATCH body (and as a POST body): the PATCH engine and input normalisation
//! must return Ok or a SCIM error, never panic; a successful PATCH re-normalises cleanly or fails
//! with a SCIM error, as the server does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1", "userName": "a@b.c", "active": true,
        "name": {"givenName": "A", "familyName": "B"},
        "emails": [{"value": "a@b.c", "type": "work", "primary": true}],
        "addresses": [{"type": "work", "country": "FI"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "X"}
    });
    if let Ok(patched) = scim_core::apply_patch(&user, &body) {
        if let Err(e) = scim_core::normalize_user(&patched) {
            assert!(e.status == 400, "{e:?}");
        }
    }
    if let Err(e) = scim_core::normalize_user(&body) {
        assert!(e.status == 400, "{e:?}");
    }
    let _ = scim_core::project(&user, Some(&[String::from_utf8_lossy(data).into_owned()]), None);
});
