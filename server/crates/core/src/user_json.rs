//! A SCIM User resource written straight from its stored text (issue 11: list pages at 100,000
//! users). The stored `attributes` are the canonical resource as `serde_json` wrote it: an object
//! with sorted keys. Rendering a page used to parse each user's text into a `Value` tree, add `id`,
//! `active`, `meta` and `groups`, and serialize the tree again: hundreds of small allocations per
//! user. Here the stored text is only split into its top-level members; each member's value is
//! copied as it is, and the members the server owns are written beside them, in the same sorted
//! order a `Value` would have given (`provisioning::to_json` stays the reference: a test compares
//! the two).

use serde_json::Value;

use crate::users::RawUser;

/// The members of a JSON object, as (key, value text), when `text` is one object whose keys have
/// no escapes; None otherwise (the caller then parses it the ordinary way).
pub fn top_level(text: &str) -> Option<Vec<(&str, &str)>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut out = Vec::with_capacity(16);
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i)?;
        let key = &text[i + 1..key_end - 1];
        if key.contains('\\') {
            return None;
        }
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = value_end(b, start)?;
        out.push((key, &text[start..end]));
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => {
                return (skip_ws(b, i + 1) == b.len()).then_some(out);
            }
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The index just past the string starting at `b[i] == '"'`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index just past the value starting at `b[i]` (string, object, array or a scalar). Only
/// the structure is followed; the text was written by `serde_json` and is valid JSON.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

enum Member<'a> {
    Stored(&'a str),
    Id,
    Active,
    Meta,
    Groups,
}

/// Appends the User resource of `u` (its stored attributes with `id`, `active`, `meta` and, when
/// it has any, `groups`) to `out`: the same JSON text as `provisioning::to_json` plus the groups,
/// serialized.
pub fn write_user(out: &mut Vec<u8>, u: &RawUser, base_url: &str, groups: &[(String, String)]) {
    let Some(stored) = top_level(&u.attributes) else {
        // Not the canonical text (never written by this server): the ordinary way.
        let _ = serde_json::to_writer(&mut *out, &to_value(u, base_url, groups));
        return;
    };
    let mut members: Vec<(&str, Member)> = stored
        .into_iter()
        .filter(|(k, _)| {
            !matches!(*k, "id" | "active" | "meta") && (*k != "groups" || groups.is_empty())
        })
        .map(|(k, v)| (k, Member::Stored(v)))
        .collect();
    members.push(("id", Member::Id));
    members.push(("active", Member::Active));
    members.push(("meta", Member::Meta));
    if !groups.is_empty() {
        members.push(("groups", Member::Groups));
    }
    // serde_json's map order (a BTreeMap of String: byte order).
    members.sort_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (n, (key, member)) in members.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        push_str(out, key);
        out.push(b':');
        match member {
            Member::Stored(v) => out.extend_from_slice(v.as_bytes()),
            Member::Id => push_str(out, &u.id),
            Member::Active => out.extend_from_slice(if u.active { b"true" } else { b"false" }),
            Member::Meta => {
                out.extend_from_slice(b"{\"created\":");
                push_str(out, &crate::clock::rfc3339(u.created_at));
                out.extend_from_slice(b",\"lastModified\":");
                push_str(out, &crate::clock::rfc3339(u.updated_at));
                out.extend_from_slice(b",\"location\":");
                push_str(out, &format!("{base_url}/Users/{}", u.id));
                out.extend_from_slice(b",\"resourceType\":\"User\",\"version\":");
                push_str(out, &crate::provisioning::etag(u.version));
                out.push(b'}');
            }
            Member::Groups => {
                out.push(b'[');
                for (n, (id, name)) in groups.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"$ref\":");
                    push_str(out, &format!("{base_url}/Groups/{id}"));
                    out.extend_from_slice(b",\"display\":");
                    push_str(out, name);
                    out.extend_from_slice(b",\"type\":\"direct\",\"value\":");
                    push_str(out, id);
                    out.push(b'}');
                }
                out.push(b']');
            }
        }
    }
    out.push(b'}');
}

/// The same resource as a `Value` (the ordinary way: for `attributes` / `excludedAttributes`, and
/// for text that is not canonical).
pub fn to_value(u: &RawUser, base_url: &str, groups: &[(String, String)]) -> Value {
    let attributes = serde_json::from_str::<Value>(&u.attributes)
        .unwrap_or_else(|_| Value::Object(Default::default()));
    let mut v = crate::provisioning::with_meta_of(
        attributes,
        &u.id,
        u.active,
        u.created_at,
        u.updated_at,
        u.version,
        base_url,
    );
    if let Some(o) = v.as_object_mut().filter(|_| !groups.is_empty()) {
        o.insert(
            "groups".into(),
            crate::groups::user_groups_json(groups, base_url),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(attributes: &Value, active: bool) -> RawUser {
        RawUser {
            id: "u\"1".into(),
            active,
            version: 7,
            created_at: 1_700_000_000_123,
            updated_at: 1_700_000_100_456,
            attributes: attributes.to_string(),
        }
    }

    fn written(u: &RawUser, groups: &[(String, String)]) -> String {
        let mut out = Vec::new();
        write_user(&mut out, u, "https://p.test/scim/v2/o1", groups);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn splits_an_object_into_its_members_and_refuses_what_it_cannot_split() {
        let m = top_level(r#" {"a": [1, {"b": "]}\"x"}], "c":"d\\e", "n": -1.5e3 , "t":true} "#);
        assert_eq!(
            m.unwrap(),
            vec![
                ("a", r#"[1, {"b": "]}\"x"}]"#),
                ("c", r#""d\\e""#),
                ("n", "-1.5e3"),
                ("t", "true")
            ]
        );
        assert_eq!(top_level("{}").unwrap(), vec![]);
        for bad in [
            "[1]",
            "{\"a\":1",
            "{\"a\" 1}",
            "{\"a\\u0062\":1}",
            "{\"a\":1} x",
            "",
        ] {
            assert!(top_level(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_written_text_is_what_the_value_tree_serializes_to() {
        let groups = vec![
            ("g1".to_string(), "Ops \"night\" ü".to_string()),
            ("g2".to_string(), "Zeta".to_string()),
        ];
        let attributes = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ann@example.test",
            "active": false,
            "name": {"givenName": "Ann \\ \"Q\"", "familyName": "Ünï 😀\u{1}"},
            "emails": [{"value": "ann@example.test", "type": "work", "primary": true}],
            "addresses": [{"locality": "x", "postalCode": "1"}],
            "x": 1.25,
            "n": null,
            "$weird": [],
            "Upper": {},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
        });
        for (active, groups) in [(true, &groups[..]), (false, &[][..])] {
            let u = raw(&attributes, active);
            let expected = to_value(&u, "https://p.test/scim/v2/o1", groups).to_string();
            assert_eq!(written(&u, groups), expected);
            let parsed: Value = serde_json::from_str(&written(&u, groups)).unwrap();
            assert_eq!(parsed["active"], json!(active), "the column wins");
            assert_eq!(parsed["meta"]["version"], "W/\"7\"");
            assert_eq!(
                parsed["groups"].as_array().map(Vec::len),
                (!groups.is_empty()).then_some(2)
            );
        }
        // Text that is not an object of plain keys takes the ordinary way, with the same result.
        let u = RawUser {
            attributes: "{\"user\\u004eame\": \"a\", \"b\": 1}".into(),
            ..raw(&json!({}), true)
        };
        let expected = to_value(&u, "https://p.test/scim/v2/o1", &groups).to_string();
        assert_eq!(written(&u, &groups), expected);
        assert!(expected.contains("\"userName\":\"a\""));
    }
}
