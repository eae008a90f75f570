//! PATCH (RFC 7644 §3.5.2) as a pure function over the canonical resource: all operations apply
//! in order to a copy, and any failure leaves the input untouched. The caller re-normalises the
//! result with [`crate::normalize_user`], which also coerces the `"True"`/`"False"` strings some
//! clients send.

use scim_filter::{CompValue, CompareOp, Filter};
use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{find, Attr, Mutability, ENTERPRISE_ATTRS, USER_ATTRS};
use crate::user::{is_department_alias, resolve, Target};
use crate::ENTERPRISE_USER_URN;

pub const MAX_OPERATIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Applies a PatchOp body to a resource and returns the new resource.
pub fn apply_patch(resource: &Value, body: &Value) -> Result<Value, ScimError> {
    let Some(body) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "The PATCH body must be a JSON object (PatchOp).",
        ));
    };
    let ops = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .map(|(_, v)| v);
    let Some(Value::Array(ops)) = ops else {
        return Err(ScimError::invalid_syntax(
            "The PATCH body needs an 'Operations' array.",
        ));
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("'Operations' is empty."));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            400,
            Some(crate::ScimType::TooMany),
            format!("At most {MAX_OPERATIONS} operations per PATCH."),
        ));
    }
    let mut res = resource.clone();
    if !res.is_object() {
        return Err(ScimError::internal());
    }
    for (i, op) in ops.iter().enumerate() {
        apply_one(&mut res, op).map_err(|mut e| {
            e.detail = format!("Operation {} : {}", i + 1, e.detail).replacen(" :", ":", 1);
            e
        })?;
    }
    Ok(res)
}

fn get_ci<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(x, _)| x.eq_ignore_ascii_case(k))
        .map(|(_, v)| v)
}

fn apply_one(res: &mut Value, op: &Value) -> Result<(), ScimError> {
    let Some(op) = op.as_object() else {
        return Err(ScimError::invalid_syntax(
            "each operation must be an object",
        ));
    };
    let kind = match get_ci(op, "op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("add") => Op::Add,
        Some("replace") => Op::Replace,
        Some("remove") => Op::Remove,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "unknown op '{other}' (expected add, replace or remove)"
            )))
        }
        None => return Err(ScimError::invalid_syntax("'op' is missing")),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(p.trim().to_string()),
        Some(_) => return Err(ScimError::invalid_path("'path' must be a string")),
    };
    let value = get_ci(op, "value").cloned();
    match (path, kind) {
        (None, Op::Remove) => Err(ScimError::no_target("remove needs a path")),
        (None, _) => {
            let Some(Value::Object(map)) = value else {
                return Err(ScimError::invalid_syntax(
                    "an operation without a path needs an object 'value'",
                ));
            };
            // A plain `department` first, so that the enterprise extension's value, when the
            // same value object carries both, wins as it does on create (`DEPARTMENT_ALIAS`).
            let (alias, rest): (Vec<_>, Vec<_>) =
                map.into_iter().partition(|(k, _)| is_department_alias(k));
            for (k, v) in alias.into_iter().chain(rest) {
                apply_path(res, kind, &k, Some(v), true)?;
            }
            Ok(())
        }
        (Some(p), _) => {
            if kind != Op::Remove && value.is_none() {
                return Err(ScimError::invalid_syntax("add and replace need a 'value'"));
            }
            apply_path(res, kind, &p, value, false)
        }
    }
}

/// The object holding an attribute: the resource itself or the enterprise extension object.
fn container(res: &mut Value, enterprise: bool) -> &mut Map<String, Value> {
    let root = res.as_object_mut().expect("resource is an object");
    if !enterprise {
        return root;
    }
    let e = root
        .entry(ENTERPRISE_USER_URN.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !e.is_object() {
        *e = Value::Object(Map::new());
    }
    e.as_object_mut().expect("object")
}

fn apply_path(
    res: &mut Value,
    kind: Op,
    path: &str,
    value: Option<Value>,
    pathless: bool,
) -> Result<(), ScimError> {
    // Null means "remove" for replace (and is a no-op for add).
    let (kind, value) = match (kind, value) {
        (Op::Replace, Some(Value::Null)) => (Op::Remove, None),
        (Op::Add, Some(Value::Null)) => return Ok(()),
        (k, v) => (k, v),
    };
    match resolve(path) {
        // A pathless body may echo the resource (as read with GET): an unchanged id is harmless,
        // and meta is ignored as on PUT — the server maintains it and never passes it in here,
        // so an echoed meta could never compare equal.
        Target::Id if pathless && (value.is_none() || res.get("id") == value.as_ref()) => Ok(()),
        Target::Meta if pathless => Ok(()),
        Target::Id | Target::Meta => Err(ScimError::mutability(format!("'{path}' is read-only"))),
        Target::Schemas => Ok(()),
        // Employees never sign in with a password here: a password an IdP syncs (Okta's password
        // push) is accepted and discarded, exactly as on create, so syncing does not fail.
        Target::Password => Ok(()),
        Target::EnterpriseObject => {
            let root = res.as_object_mut().expect("object");
            match (kind, value) {
                (Op::Remove, _) => {
                    root.remove(ENTERPRISE_USER_URN);
                    Ok(())
                }
                (_, Some(Value::Object(m))) => {
                    for (k, v) in m {
                        // Keys inside the extension object that are not attributes (a nested
                        // "schemas", say) are ignored, as on create.
                        let key = format!("{ENTERPRISE_USER_URN}:{k}");
                        apply_path(res, kind, &key, Some(v), true)?;
                    }
                    Ok(())
                }
                _ => Err(ScimError::invalid_value(format!(
                    "'{ENTERPRISE_USER_URN}' must be an object"
                ))),
            }
        }
        Target::Core(a, sub) | Target::Enterprise(a, sub) if !path.contains('[') => {
            let ent = matches!(resolve(path), Target::Enterprise(..));
            if a.mutability == Mutability::WriteOnly {
                return Err(ScimError::mutability(format!(
                    "'{}' cannot be patched",
                    a.name
                )));
            }
            let obj = container(res, ent);
            apply_simple(obj, kind, a, sub, value);
            if ent && obj.is_empty() {
                res.as_object_mut()
                    .expect("object")
                    .remove(ENTERPRISE_USER_URN);
            }
            Ok(())
        }
        Target::Unknown(_) if !path.contains('[') => {
            if pathless {
                // Unknown keys in a pathless value are ignored, as on create.
                Ok(())
            } else {
                Err(ScimError::invalid_path(format!(
                    "'{path}' is not an attribute of User"
                )))
            }
        }
        _ => apply_filtered(res, kind, path, value),
    }
}

fn apply_simple(
    obj: &mut Map<String, Value>,
    kind: Op,
    a: &Attr,
    sub: Option<&Attr>,
    value: Option<Value>,
) {
    let key = a.name.to_string();
    match sub {
        None => match kind {
            Op::Remove => {
                obj.remove(&key);
            }
            Op::Add | Op::Replace => {
                let v = value.unwrap_or(Value::Null);
                if a.multi {
                    let new_items = match v {
                        Value::Array(items) => items,
                        other => vec![other],
                    };
                    if kind == Op::Replace {
                        obj.insert(key, Value::Array(new_items));
                    } else {
                        let entry = obj.entry(key).or_insert_with(|| Value::Array(vec![]));
                        if !entry.is_array() {
                            *entry = Value::Array(vec![]);
                        }
                        let arr = entry.as_array_mut().expect("array");
                        for item in new_items {
                            if !arr.contains(&item) {
                                arr.push(item);
                            }
                        }
                    }
                } else if !a.sub.is_empty() {
                    // Complex: the given sub-attributes replace or add; the others stay.
                    match (obj.get_mut(&key), v) {
                        (Some(Value::Object(cur)), Value::Object(new)) => {
                            for (k, v) in new {
                                let canon =
                                    find(a.sub, &k).map(|s| s.name.to_string()).unwrap_or(k);
                                cur.insert(canon, v);
                            }
                        }
                        (_, v) => {
                            obj.insert(key, v);
                        }
                    }
                } else {
                    obj.insert(key, v);
                }
            }
        },
        Some(s) => {
            let skey = s.name.to_string();
            let entry = obj.entry(key.clone());
            match kind {
                Op::Remove => {
                    if let serde_json::map::Entry::Occupied(mut e) = entry {
                        match e.get_mut() {
                            Value::Object(m) => {
                                m.remove(&skey);
                            }
                            Value::Array(items) => items.iter_mut().for_each(|it| {
                                if let Some(m) = it.as_object_mut() {
                                    m.remove(&skey);
                                }
                            }),
                            _ => {}
                        }
                    }
                }
                Op::Add | Op::Replace => {
                    let v = value.unwrap_or(Value::Null);
                    let cur = entry.or_insert_with(|| {
                        if a.multi {
                            Value::Array(vec![])
                        } else {
                            Value::Object(Map::new())
                        }
                    });
                    match cur {
                        Value::Array(items) if items.is_empty() => {
                            let mut m = Map::new();
                            m.insert(skey, v);
                            items.push(Value::Object(m));
                        }
                        Value::Array(items) => items.iter_mut().for_each(|it| {
                            if let Some(m) = it.as_object_mut() {
                                m.insert(skey.clone(), v.clone());
                            }
                        }),
                        Value::Object(m) => {
                            m.insert(skey, v);
                        }
                        other => {
                            let mut m = Map::new();
                            m.insert(skey, v);
                            *other = Value::Object(m);
                        }
                    }
                }
            }
        }
    }
}

/// `eq` conditions of a value filter, to build the element an add/replace creates when none matches.
fn eq_conditions(f: &Filter, out: &mut Map<String, Value>) {
    match f {
        Filter::Compare {
            attr,
            op: CompareOp::Eq,
            value,
        } if attr.sub.is_none() => {
            let v = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return,
            };
            out.insert(attr.name.clone(), v);
        }
        Filter::And(a, b) => {
            eq_conditions(a, out);
            eq_conditions(b, out);
        }
        _ => {}
    }
}

fn apply_filtered(
    res: &mut Value,
    kind: Op,
    path: &str,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let pp = scim_filter::parse_path(path).map_err(|e| {
        ScimError::invalid_path(format!("'{path}' is not a valid path: {}", e.message))
    })?;
    let ent = match pp.attr.urn.as_deref() {
        None => false,
        Some(u) if u.eq_ignore_ascii_case(ENTERPRISE_USER_URN) => true,
        Some(u) if u.eq_ignore_ascii_case(crate::CORE_USER_URN) => false,
        Some(u) => return Err(ScimError::invalid_path(format!("unknown schema '{u}'"))),
    };
    let attrs = if ent { ENTERPRISE_ATTRS } else { USER_ATTRS };
    let Some(a) = find(attrs, &pp.attr.name) else {
        return Err(ScimError::invalid_path(format!(
            "'{}' is not an attribute of User",
            pp.attr.name
        )));
    };
    let Some(filter) = pp.filter else {
        return Err(ScimError::invalid_path(format!(
            "'{path}' is not a valid path"
        )));
    };
    if !a.multi {
        return Err(ScimError::invalid_path(format!(
            "'{}' is not multi-valued; a value filter cannot select from it",
            a.name
        )));
    }
    let sub = match &pp.sub {
        Some(s) => Some(find(a.sub, s).ok_or_else(|| {
            ScimError::invalid_path(format!("'{s}' is not a sub-attribute of '{}'", a.name))
        })?),
        None => None,
    };
    let obj = container(res, ent);
    let entry = obj
        .entry(a.name.to_string())
        .or_insert_with(|| Value::Array(vec![]));
    if !entry.is_array() {
        *entry = Value::Array(vec![]);
    }
    let items = entry.as_array_mut().expect("array");
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, it)| scim_filter::matches(&filter, it))
        .map(|(i, _)| i)
        .collect();
    match kind {
        Op::Remove => {
            if hits.is_empty() {
                return Err(ScimError::no_target(format!(
                    "no value of '{}' matches '{path}'",
                    a.name
                )));
            }
            match sub {
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !hits.contains(&i);
                        i += 1;
                        keep
                    });
                }
                Some(s) => {
                    for i in hits {
                        if let Some(m) = items[i].as_object_mut() {
                            m.remove(s.name);
                        }
                    }
                }
            }
        }
        Op::Add | Op::Replace => {
            let v = value.unwrap_or(Value::Null);
            if hits.is_empty() {
                let mut m = Map::new();
                eq_conditions(&filter, &mut m);
                match sub {
                    Some(s) => {
                        m.insert(s.name.to_string(), v);
                    }
                    None => match v {
                        Value::Object(vm) => {
                            for (k, x) in vm {
                                let canon =
                                    find(a.sub, &k).map(|s| s.name.to_string()).unwrap_or(k);
                                m.insert(canon, x);
                            }
                        }
                        _ => {
                            return Err(ScimError::invalid_value(format!(
                                "the value for '{path}' must be an object"
                            )))
                        }
                    },
                }
                // Canonical sub-attribute names for the filter's keys too.
                let m = m
                    .into_iter()
                    .map(|(k, x)| (find(a.sub, &k).map(|s| s.name.to_string()).unwrap_or(k), x))
                    .collect();
                items.push(Value::Object(m));
            } else {
                for i in hits {
                    let Some(m) = items[i].as_object_mut() else {
                        continue;
                    };
                    match sub {
                        Some(s) => {
                            m.insert(s.name.to_string(), v.clone());
                        }
                        None => match &v {
                            Value::Object(vm) => {
                                for (k, x) in vm {
                                    let canon = find(a.sub, k)
                                        .map(|s| s.name.to_string())
                                        .unwrap_or(k.clone());
                                    m.insert(canon, x.clone());
                                }
                            }
                            _ => {
                                return Err(ScimError::invalid_value(format!(
                                    "the value for '{path}' must be an object"
                                )))
                            }
                        },
                    }
                }
            }
        }
    }
    Ok(())
}
