//! A client's User body → the canonical stored form, and the stored form → a response with
//! `attributes` / `excludedAttributes` applied.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{find, Attr, Mutability, Ty, ENTERPRISE_ATTRS, USER_ATTRS};
use crate::{CORE_USER_URN, ENTERPRISE_USER_URN};

pub const MAX_USER_NAME: usize = 256;
pub const MAX_STRING: usize = 1024;
pub const MAX_ELEMENTS: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedUser {
    /// Canonical attribute names; no id, meta or password; `schemas` set.
    pub resource: Value,
    pub password: Option<String>,
}

fn invalid(attr: &str, what: &str) -> ScimError {
    ScimError::invalid_value(format!("Attribute '{attr}' {what}."))
}

fn check_string(attr: &str, s: &str, max: usize) -> Result<(), ScimError> {
    if s.chars().count() > max {
        return Err(invalid(attr, &format!("is longer than {max} characters")));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(attr, "contains control characters"));
    }
    Ok(())
}

/// Normalises one value against its attribute definition; `Ok(None)` means "absent".
fn norm_value(a: &Attr, path: &str, v: &Value) -> Result<Option<Value>, ScimError> {
    if v.is_null() {
        return Ok(None);
    }
    if a.multi {
        let items: Vec<Value> = match v {
            Value::Array(items) => items.clone(),
            Value::Object(_) => vec![v.clone()],
            _ => return Err(invalid(path, "must be an array of objects")),
        };
        if items.len() > MAX_ELEMENTS {
            return Err(invalid(
                path,
                &format!("has more than {MAX_ELEMENTS} values"),
            ));
        }
        let mut out = Vec::new();
        for item in &items {
            if item.is_null() {
                continue;
            }
            if !item.is_object() {
                return Err(invalid(path, "must be an array of objects"));
            }
            let Some(x) = norm_complex(a.sub, path, item)? else {
                continue;
            };
            // An element of a value-bearing attribute without a value carries nothing: IdP
            // templates send `{"type": "work", "value": ""}` for a user with no phone or email.
            if find(a.sub, "value").is_some() && x.get("value").is_none() {
                continue;
            }
            out.push(x);
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    match a.ty {
        Ty::Complex => match v {
            Value::Object(_) => norm_complex(a.sub, path, v),
            // Entra ID sends the enterprise `manager` as the manager's id string.
            Value::String(s) if find(a.sub, "value").is_some() => {
                let mut m = Map::new();
                m.insert("value".into(), Value::String(s.clone()));
                norm_complex(a.sub, path, &Value::Object(m))
            }
            _ => Err(invalid(path, "must be an object")),
        },
        Ty::Boolean => match v {
            Value::Bool(b) => Ok(Some(Value::Bool(*b))),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => Err(invalid(path, "must be true or false")),
        },
        Ty::String | Ty::Reference => {
            let s = match v {
                Value::String(s) => s.clone(),
                // The identifier must be a JSON string (RFC 7643 §2.3: a string is a string): a
                // number would be stored under a text that the IdP never sent and then match
                // another user's name. Other string attributes keep the leniency IdP templates
                // need (a numeric employee number, say).
                Value::Number(_) if a.name == "userName" => {
                    return Err(invalid(path, "must be a string"))
                }
                Value::Number(n) => n.to_string(),
                _ => return Err(invalid(path, "must be a string")),
            };
            let max = if a.name == "userName" {
                MAX_USER_NAME
            } else {
                MAX_STRING
            };
            check_string(path, &s, max)?;
            // The identifier is single-line: no tab or line break inside it either.
            if a.name == "userName" && s.trim().chars().any(char::is_control) {
                return Err(invalid(path, "contains control characters"));
            }
            if s.trim().is_empty() {
                return Ok(None);
            }
            Ok(Some(Value::String(s)))
        }
    }
}

fn norm_complex(sub: &[Attr], path: &str, v: &Value) -> Result<Option<Value>, ScimError> {
    let Some(obj) = v.as_object() else {
        return Err(invalid(path, "must be an object"));
    };
    let mut out = Map::new();
    for (k, val) in obj {
        let Some(a) = find(sub, k) else { continue };
        if let Some(x) = norm_value(a, &format!("{path}.{}", a.name), val)? {
            out.insert(a.name.to_string(), x);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

/// A top-level attribute name that means the enterprise extension's attribute of that name.
/// JumpCloud's attribute table (and some IdP templates) name the department plainly,
/// `"department": "Sales"`, where RFC 7643 §4.3 puts it in the enterprise extension; the core
/// User schema has no `department`, so the plain name is unambiguous. When a body carries both,
/// the extension's value wins: it is the schema-qualified spelling, so an IdP that sends both
/// meant that one, and the result does not depend on the order of the JSON keys.
pub const DEPARTMENT_ALIAS: &str = "department";

/// Whether a key is the plain `department` alias (not URN-qualified).
pub fn is_department_alias(key: &str) -> bool {
    key.eq_ignore_ascii_case(DEPARTMENT_ALIAS)
}

/// Where a (possibly dotted, possibly URN-qualified) attribute key points.
pub enum Target<'a> {
    Core(&'static Attr, Option<&'static Attr>),
    Enterprise(&'static Attr, Option<&'static Attr>),
    EnterpriseObject,
    Id,
    Meta,
    Schemas,
    Password,
    Unknown(&'a str),
}

/// Resolves `userName`, `name.givenName`, `urn:…:core:2.0:User:name.givenName`,
/// `urn:…:enterprise:2.0:User:department`, `urn:…:enterprise:2.0:User` (case-insensitive).
pub fn resolve(key: &str) -> Target<'_> {
    if key.eq_ignore_ascii_case(ENTERPRISE_USER_URN) {
        return Target::EnterpriseObject;
    }
    let (attrs, rest, ent) =
        if let Some(rest) = strip_prefix_ci(key, &format!("{ENTERPRISE_USER_URN}:")) {
            (ENTERPRISE_ATTRS, rest, true)
        } else if let Some(rest) = strip_prefix_ci(key, &format!("{CORE_USER_URN}:")) {
            (USER_ATTRS, rest, false)
        } else {
            (USER_ATTRS, key, false)
        };
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    if !ent {
        if name.eq_ignore_ascii_case("id") && sub.is_none() {
            return Target::Id;
        }
        if name.eq_ignore_ascii_case("meta") {
            return Target::Meta;
        }
        if name.eq_ignore_ascii_case("schemas") && sub.is_none() {
            return Target::Schemas;
        }
        if name.eq_ignore_ascii_case("password") && sub.is_none() {
            return Target::Password;
        }
    }
    let (attrs, ent) = match find(attrs, name) {
        Some(_) => (attrs, ent),
        // A plain `department` is the enterprise extension's (see [`DEPARTMENT_ALIAS`]).
        None if !ent && name.eq_ignore_ascii_case(DEPARTMENT_ALIAS) && rest.len() == key.len() => {
            (ENTERPRISE_ATTRS, true)
        }
        None => return Target::Unknown(key),
    };
    let Some(a) = find(attrs, name) else {
        return Target::Unknown(key);
    };
    let sub_attr = match sub {
        None => None,
        Some(s) => match find(a.sub, s) {
            Some(x) if !s.contains('.') => Some(x),
            _ => return Target::Unknown(key),
        },
    };
    if ent {
        Target::Enterprise(a, sub_attr)
    } else {
        Target::Core(a, sub_attr)
    }
}

fn set_path(
    out: &mut Map<String, Value>,
    container: Option<&str>,
    a: &Attr,
    sub: Option<&Attr>,
    v: Value,
) {
    let obj = match container {
        Some(urn) => {
            let e = out
                .entry(urn.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !e.is_object() {
                *e = Value::Object(Map::new());
            }
            e.as_object_mut().expect("just made an object")
        }
        None => out,
    };
    match sub {
        // `"name": {…}` and `"name.givenName": …` (or two spellings of `name`) merge.
        None => match (obj.get_mut(a.name), v) {
            (Some(Value::Object(cur)), Value::Object(new)) if !a.multi => cur.extend(new),
            (_, v) => {
                obj.insert(a.name.to_string(), v);
            }
        },
        Some(s) => {
            let parent = obj
                .entry(a.name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !parent.is_object() {
                *parent = Value::Object(Map::new());
            }
            if let Some(p) = parent.as_object_mut() {
                p.insert(s.name.to_string(), v);
            }
        }
    }
}

/// Normalises a POST/PUT body. See the crate docs for the rules; highlights: case-insensitive
/// keys rewritten to canonical names, `id`/`meta` ignored, null/""/[] mean absent (so does an
/// `emails`/`phoneNumbers`/… element without a `value`), unknown attributes dropped, wrong types
/// → 400 invalidValue, "True"/"False" strings accepted, a bare string for `manager` taken as its
/// `value`, `userName` required and single-line, and the work email must equal `userName`.
/// `active` is left absent when the body has none; the caller decides the default.
pub fn normalize_user(body: &Value) -> Result<NormalizedUser, ScimError> {
    normalize_user_with(body, Rules::default())
}

/// The per-organisation rules [`normalize_user_with`] applies on top of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The work email must equal `userName` (the default). Off for tenants whose sign-in name
    /// (e.g. an Entra ID or Okta UPN) differs from the mail address.
    pub username_equals_work_email: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            username_equals_work_email: true,
        }
    }
}

/// [`normalize_user`] with the organisation's [`Rules`].
pub fn normalize_user_with(body: &Value, rules: Rules) -> Result<NormalizedUser, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "The request body must be a JSON object (a User resource).",
        ));
    };
    let mut out = Map::new();
    let mut password = None;
    let mut department_alias = None;
    for (k, v) in obj {
        if is_department_alias(k) {
            // Applied after the loop, so that the extension's own value wins whatever the order.
            department_alias = Some(v);
            continue;
        }
        match resolve(k) {
            Target::Id | Target::Meta | Target::Schemas | Target::Unknown(_) => {}
            Target::Password => {
                if v.is_null() {
                    continue;
                }
                let Some(p) = v.as_str() else {
                    return Err(invalid("password", "must be a string"));
                };
                check_string("password", p, 256)?;
                if !p.is_empty() {
                    password = Some(p.to_string());
                }
            }
            Target::EnterpriseObject => {
                if v.is_null() {
                    continue;
                }
                if !v.is_object() {
                    return Err(invalid(ENTERPRISE_USER_URN, "must be an object"));
                }
                let ext = norm_complex(ENTERPRISE_ATTRS, "enterprise", v)?;
                if let Some(Value::Object(m)) = ext {
                    for (ek, ev) in m {
                        if let Some(a) = find(ENTERPRISE_ATTRS, &ek) {
                            set_path(&mut out, Some(ENTERPRISE_USER_URN), a, None, ev);
                        }
                    }
                }
            }
            Target::Core(a, sub) | Target::Enterprise(a, sub) => {
                let container =
                    matches!(resolve(k), Target::Enterprise(..)).then_some(ENTERPRISE_USER_URN);
                let (def, path) = match sub {
                    Some(s) => (s, format!("{}.{}", a.name, s.name)),
                    None => (a, a.name.to_string()),
                };
                if def.mutability == Mutability::WriteOnly {
                    continue;
                }
                if let Some(x) = norm_value(def, &path, v)? {
                    set_path(&mut out, container, a, sub, x);
                }
            }
        }
    }
    if let (Some(v), Some(a)) = (department_alias, find(ENTERPRISE_ATTRS, DEPARTMENT_ALIAS)) {
        let given = out
            .get(ENTERPRISE_USER_URN)
            .and_then(|e| e.get(a.name))
            .is_some();
        // Validated even when the extension's value wins: a wrong type is still an error.
        if let Some(x) = norm_value(a, a.name, v)? {
            if !given {
                set_path(&mut out, Some(ENTERPRISE_USER_URN), a, None, x);
            }
        }
    }
    let user_name = match out.get("userName") {
        Some(Value::String(s)) => s.trim().to_string(),
        _ => {
            return Err(invalid("userName", "is required"));
        }
    };
    out.insert("userName".into(), Value::String(user_name.clone()));
    validate_emails(&out, &user_name, rules)?;
    let mut schemas = vec![Value::String(CORE_USER_URN.into())];
    if out.contains_key(ENTERPRISE_USER_URN) {
        schemas.push(Value::String(ENTERPRISE_USER_URN.into()));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    Ok(NormalizedUser {
        resource: Value::Object(out),
        password,
    })
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((l, d)) => {
            !l.is_empty()
                && !d.is_empty()
                && !d.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn validate_emails(
    out: &Map<String, Value>,
    user_name: &str,
    rules: Rules,
) -> Result<(), ScimError> {
    let Some(Value::Array(emails)) = out.get("emails") else {
        return Ok(());
    };
    for e in emails {
        match e.get("value").and_then(Value::as_str) {
            Some(v) if looks_like_email(v) => {}
            Some(v) => {
                return Err(invalid(
                    "emails.value",
                    &format!("({v:?}) is not an email address"),
                ))
            }
            None => return Err(invalid("emails", "has an element without a value")),
        }
    }
    if !rules.username_equals_work_email {
        return Ok(());
    }
    let typed = emails.iter().find(|e| {
        e.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("work"))
    });
    let untyped = emails.iter().all(|e| e.get("type").is_none());
    let work = typed.or_else(|| {
        if untyped {
            emails
                .iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| (emails.len() == 1).then(|| &emails[0]))
        } else {
            None
        }
    });
    if let Some(w) = work.and_then(|w| w.get("value")).and_then(Value::as_str) {
        if !w.eq_ignore_ascii_case(user_name) {
            return Err(ScimError::invalid_value(format!(
                "The work email ({w}) must equal userName ({user_name}): map userName and \
                 emails[type eq \"work\"].value from the same source attribute in your identity \
                 provider (in JumpCloud: Company Email)."
            )));
        }
    }
    Ok(())
}

/// Which attribute names a response keeps (RFC 7644 §3.4.2.5). `id`, `schemas`, `userName` and
/// `active` are always returned; `meta` only by default.
pub fn project(
    resource: &Value,
    attributes: Option<&[String]>,
    excluded: Option<&[String]>,
) -> Value {
    if attributes.is_none_or(|a| a.is_empty()) && excluded.is_none_or(|e| e.is_empty()) {
        return resource.clone();
    }
    let Some(obj) = resource.as_object() else {
        return resource.clone();
    };
    const ALWAYS: [&str; 4] = ["id", "schemas", "userName", "active"];
    let always = |k: &str| ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(k));
    let split = |p: &str| -> (Option<String>, String, Option<String>) {
        // (container urn, attribute, sub-attribute)
        let (urn, rest) = if let Some(r) = strip_prefix_ci(p, &format!("{ENTERPRISE_USER_URN}:")) {
            (Some(ENTERPRISE_USER_URN.to_string()), r)
        } else if p.eq_ignore_ascii_case(ENTERPRISE_USER_URN) {
            return (Some(ENTERPRISE_USER_URN.to_string()), String::new(), None);
        } else if let Some(r) = strip_prefix_ci(p, &format!("{CORE_USER_URN}:")) {
            (None, r)
        } else {
            (None, p)
        };
        match rest.split_once('.') {
            Some((a, s)) => (urn, a.to_string(), Some(s.to_string())),
            None => (urn, rest.to_string(), None),
        }
    };
    if let Some(attrs) = attributes.filter(|a| !a.is_empty()) {
        let mut out = Map::new();
        for (k, v) in obj {
            if always(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        for p in attrs {
            let (urn, name, sub) = split(p);
            let (src, dst): (Option<&Map<String, Value>>, &mut Map<String, Value>) = match &urn {
                Some(u) => {
                    let src = obj.get(u).and_then(Value::as_object);
                    if name.is_empty() {
                        if let Some(s) = src {
                            out.insert(u.clone(), Value::Object(s.clone()));
                        }
                        continue;
                    }
                    let dst = out
                        .entry(u.clone())
                        .or_insert_with(|| Value::Object(Map::new()))
                        .as_object_mut()
                        .expect("object");
                    (src, dst)
                }
                None => (Some(obj), &mut out),
            };
            let Some(src) = src else { continue };
            let Some((key, val)) = src.iter().find(|(k, _)| k.eq_ignore_ascii_case(&name)) else {
                continue;
            };
            match sub {
                None => {
                    dst.insert(key.clone(), val.clone());
                }
                Some(s) => {
                    let pick = |o: &Value| -> Option<Value> {
                        let m = o.as_object()?;
                        let (sk, sv) = m.iter().find(|(k, _)| k.eq_ignore_ascii_case(&s))?;
                        let mut n = Map::new();
                        n.insert(sk.clone(), sv.clone());
                        Some(Value::Object(n))
                    };
                    let picked = match val {
                        // One (possibly empty) object per element, so that picks of different
                        // sub-attributes merge element by element; empties are pruned below.
                        Value::Array(items) => Some(Value::Array(
                            items
                                .iter()
                                .map(|it| pick(it).unwrap_or_else(|| Value::Object(Map::new())))
                                .collect(),
                        )),
                        other => pick(other),
                    };
                    if let Some(p) = picked {
                        merge_into(dst, key, p);
                    }
                }
            }
        }
        // Drop extension containers and elements that stayed empty.
        let mut out = Value::Object(out);
        prune_empty(&mut out, PRUNE_DEPTH);
        return out;
    }
    let mut out = obj.clone();
    for p in excluded.unwrap_or(&[]) {
        let (urn, name, sub) = split(p);
        if urn.is_none() && always(&name) && sub.is_none() {
            continue;
        }
        let target = match &urn {
            Some(u) => {
                if name.is_empty() {
                    out.remove(u);
                    continue;
                }
                match out.get_mut(u).and_then(Value::as_object_mut) {
                    Some(m) => m,
                    None => continue,
                }
            }
            None => &mut out,
        };
        let Some(key) = target
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&name))
            .cloned()
        else {
            continue;
        };
        match sub {
            None => {
                target.remove(&key);
            }
            Some(s) => {
                if let Some(v) = target.get_mut(&key) {
                    let strip = |o: &mut Value| {
                        if let Some(m) = o.as_object_mut() {
                            m.retain(|k, _| !k.eq_ignore_ascii_case(&s));
                        }
                    };
                    match v {
                        Value::Array(items) => items.iter_mut().for_each(strip),
                        other => strip(other),
                    }
                }
            }
        }
    }
    let mut out = Value::Object(out);
    if excluded.is_some_and(|e| !e.is_empty()) {
        // Excluding every sub-attribute must not leave `"name": {}` behind.
        prune_empty(&mut out, PRUNE_DEPTH);
    }
    out
}

const PRUNE_DEPTH: usize = 4;

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Removes the empty objects and arrays a projection leaves behind (`"name": {}`,
/// `"emails": [{}]`), innermost first. A normalised resource is four levels deep at most
/// (resource → extension → complex attribute → sub-attribute), which bounds the recursion.
fn prune_empty(v: &mut Value, depth: usize) {
    if depth == 0 {
        return;
    }
    match v {
        Value::Object(o) => {
            o.values_mut().for_each(|x| prune_empty(x, depth - 1));
            o.retain(|_, x| !is_empty(x));
        }
        Value::Array(a) => {
            a.iter_mut().for_each(|x| prune_empty(x, depth - 1));
            a.retain(|x| !is_empty(x));
        }
        _ => {}
    }
}

fn merge_into(dst: &mut Map<String, Value>, key: &str, v: Value) {
    match (dst.get_mut(key), v) {
        (Some(Value::Object(a)), Value::Object(b)) => a.extend(b),
        (Some(Value::Array(a)), Value::Array(b)) => {
            for (i, x) in b.into_iter().enumerate() {
                match (a.get_mut(i), x) {
                    (Some(Value::Object(ao)), Value::Object(xo)) => ao.extend(xo),
                    (_, x) => a.push(x),
                }
            }
        }
        (_, v) => {
            dst.insert(key.to_string(), v);
        }
    }
}
