//! In-memory evaluation of a [`Filter`] against a SCIM resource held as JSON.
//!
//! Semantics (kept in step with the SQL translation in `sql.rs`):
//!
//! * An attribute resolves to a list of *slots*: one per element of a
//!   multi-valued attribute, or one for a single-valued attribute. A missing
//!   attribute, `null` or an empty array is a single empty slot.
//! * A comparison matches when it matches in any slot. An empty slot never
//!   matches `eq`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le` or `pr`, but does
//!   match `ne` (an absent value is "not equal") and `eq null`.
//! * `ValuePath` evaluates its inner filter against each element and matches
//!   when one element satisfies the whole inner filter.
//! * A comparison on a complex value without a sub-attribute (`emails eq "x"`)
//!   compares its `value` sub-attribute, or `formatted` when it has no `value`
//!   (`name co "Jensen"`, `addresses co "Hollywood"`).

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use crate::ast::{CompValue, CompareOp, Filter};
use crate::AttrPath;

/// Filters built by hand could be nested arbitrarily deep; evaluation gives up
/// (no match) rather than recursing past this depth. Parsed filters never get near it.
const MAX_EVAL_DEPTH: usize = 512;

const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

/// In-memory evaluation against a SCIM resource JSON object (attribute names matched case-insensitively;
/// URN-qualified names look inside the extension object keyed by that URN, and core-schema URN
/// `urn:ietf:params:scim:schemas:core:2.0:User:userName` means top-level `userName`).
/// Multi-valued attributes (arrays) match when any element matches; for `ValuePath` the inner filter is
/// evaluated against each element. String comparisons case-insensitive except for `id`, `externalId`
/// (caseExact per RFC 7643). `gt/ge/lt/le` compare strings lexicographically, numbers numerically,
/// and datetime-looking strings (meta.created/lastModified) as datetimes. `pr` = present, non-null,
/// not empty string, not empty array/object.
///
/// An attribute without a URN that is not found at the top level is also looked
/// up inside the resource's extension objects (so `department` finds the
/// enterprise extension's `department`).
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    eval(filter, resource, Scope::Resource, 0).unwrap_or(false)
}

#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// Paths are resolved against the whole resource.
    Resource,
    /// Paths are relative to one element of a multi-valued attribute.
    Element,
}

struct TooDeep;

/// Collects the operands of a chain of the same logical operator without recursion.
pub(crate) fn chain_operands(f: &Filter) -> Vec<&Filter> {
    let is_and = matches!(f, Filter::And(..));
    let mut out = Vec::new();
    let mut stack = vec![f];
    while let Some(x) = stack.pop() {
        match x {
            Filter::And(l, r) if is_and => {
                stack.push(r);
                stack.push(l);
            }
            Filter::Or(l, r) if !is_and => {
                stack.push(r);
                stack.push(l);
            }
            other => out.push(other),
        }
    }
    out
}

fn eval(f: &Filter, ctx: &Value, scope: Scope, depth: usize) -> Result<bool, TooDeep> {
    if depth > MAX_EVAL_DEPTH {
        return Err(TooDeep);
    }
    match f {
        Filter::And(..) => {
            for x in chain_operands(f) {
                if !eval(x, ctx, scope, depth + 1)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Filter::Or(..) => {
            for x in chain_operands(f) {
                if eval(x, ctx, scope, depth + 1)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Filter::Not(x) => Ok(!eval(x, ctx, scope, depth + 1)?),
        Filter::Present(attr) => Ok(slots(ctx, attr, scope)
            .into_iter()
            .any(|s| s.is_some_and(is_present))),
        Filter::Compare { attr, op, value } => {
            let exact = scope == Scope::Resource && is_case_exact(attr);
            Ok(slots(ctx, attr, scope).into_iter().any(|s| {
                let s = if attr.sub.is_none() {
                    s.and_then(simple_value)
                } else {
                    s
                };
                compare_slot(s, *op, value, exact)
            }))
        }
        Filter::ValuePath { attr, filter } => {
            for el in elements(ctx, attr, scope) {
                if eval(filter, el, Scope::Element, depth + 1)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// Case-insensitive key lookup (exact spelling first).
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The value of `attr.name` (before any sub-attribute) in `ctx`.
fn lookup<'a>(ctx: &'a Value, attr: &AttrPath, scope: Scope) -> Option<&'a Value> {
    let obj = match ctx {
        Value::Object(obj) => obj,
        // An element of a multi-valued simple attribute: `value` is the element itself.
        other => {
            return (scope == Scope::Element
                && attr.urn.is_none()
                && attr.name.eq_ignore_ascii_case("value"))
            .then_some(other);
        }
    };
    match &attr.urn {
        Some(urn) => {
            if let Some(Value::Object(ext)) = get_ci(obj, urn) {
                get_ci(ext, &attr.name)
            } else if starts_with_ci(urn, CORE_URN_PREFIX) {
                get_ci(obj, &attr.name)
            } else {
                None
            }
        }
        None => get_ci(obj, &attr.name).or_else(|| {
            if scope != Scope::Resource {
                return None;
            }
            obj.iter()
                .filter(|(k, _)| starts_with_ci(k, "urn:"))
                .find_map(|(_, v)| v.as_object().and_then(|ext| get_ci(ext, &attr.name)))
        }),
    }
}

/// Pushes the slots of one value: an empty slot for absent/null/empty array,
/// one slot per element for an array, one slot otherwise.
fn expand<'a>(v: Option<&'a Value>, out: &mut Vec<Option<&'a Value>>) {
    match v {
        None | Some(Value::Null) => out.push(None),
        Some(Value::Array(items)) if items.is_empty() => out.push(None),
        Some(Value::Array(items)) => {
            out.extend(items.iter().map(|e| (!e.is_null()).then_some(e)));
        }
        Some(other) => out.push(Some(other)),
    }
}

fn slots<'a>(ctx: &'a Value, attr: &AttrPath, scope: Scope) -> Vec<Option<&'a Value>> {
    let mut base = Vec::new();
    expand(lookup(ctx, attr, scope), &mut base);
    let Some(sub) = &attr.sub else {
        return base;
    };
    let mut out = Vec::new();
    for slot in base {
        match slot {
            Some(Value::Object(o)) => expand(get_ci(o, sub), &mut out),
            _ => out.push(None),
        }
    }
    out
}

/// The elements a value path filters: the items of an array, or a single complex value.
fn elements<'a>(ctx: &'a Value, attr: &AttrPath, scope: Scope) -> Vec<&'a Value> {
    let mut v = lookup(ctx, attr, scope);
    if let Some(sub) = &attr.sub {
        v = v.and_then(Value::as_object).and_then(|o| get_ci(o, sub));
    }
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|e| !e.is_null()).collect(),
        Some(other) => vec![other],
    }
}

/// A complex value compared without a sub-attribute is compared by its `value`
/// sub-attribute, or by `formatted` when it has no `value` (`name`, `addresses`).
fn simple_value(v: &Value) -> Option<&Value> {
    match v {
        Value::Object(o) => get_ci(o, "value")
            .or_else(|| get_ci(o, "formatted"))
            .filter(|x| !x.is_null()),
        other => Some(other),
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// `id` and `externalId` are caseExact (RFC 7643 §3.1); everything else is compared case-insensitively.
fn is_case_exact(attr: &AttrPath) -> bool {
    attr.sub.is_none()
        && attr
            .urn
            .as_deref()
            .is_none_or(|u| starts_with_ci(u, CORE_URN_PREFIX))
        && (attr.name.eq_ignore_ascii_case("id") || attr.name.eq_ignore_ascii_case("externalId"))
}

fn compare_slot(slot: Option<&Value>, op: CompareOp, value: &CompValue, exact: bool) -> bool {
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq => slot.is_none(),
            CompareOp::Ne => slot.is_some(),
            _ => false,
        };
    }
    match (slot, op) {
        (None, CompareOp::Ne) => true,
        (None, _) => false,
        (Some(v), CompareOp::Ne) => !compare(v, CompareOp::Eq, value, exact),
        (Some(v), op) => compare(v, op, value, exact),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn ordering_matches(op: CompareOp, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else {
        return false;
    };
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Compares a non-null resource value with a non-null comparison value.
fn compare(v: &Value, op: CompareOp, value: &CompValue, exact: bool) -> bool {
    match (v, value) {
        (Value::String(s), CompValue::String(t)) => compare_strings(s, t, op, exact),
        (Value::Number(a), CompValue::Number(b)) => ordering_matches(op, compare_numbers(a, b)),
        (Value::Bool(a), CompValue::Bool(b)) => op == CompareOp::Eq && a == b,
        // Entra ID sends booleans as strings: active eq "True".
        (Value::Bool(a), CompValue::String(t)) => {
            op == CompareOp::Eq && parse_bool(t).is_some_and(|b| *a == b)
        }
        (Value::String(s), CompValue::Bool(b)) => {
            op == CompareOp::Eq && parse_bool(s).is_some_and(|a| a == *b)
        }
        _ => false,
    }
}

fn parse_datetime(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    // Cheap shape check before the real parse: "YYYY-MM-DDT...".
    let b = s.as_bytes();
    if b.len() < 20 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

fn compare_strings(s: &str, t: &str, op: CompareOp, exact: bool) -> bool {
    if matches!(
        op,
        CompareOp::Eq | CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    ) {
        if let (Some(a), Some(b)) = (parse_datetime(s), parse_datetime(t)) {
            return ordering_matches(op, Some(a.cmp(&b)));
        }
    }
    let (a, b): (Cow<str>, Cow<str>) = if exact {
        (Cow::Borrowed(s), Cow::Borrowed(t))
    } else {
        (Cow::Owned(s.to_lowercase()), Cow::Owned(t.to_lowercase()))
    };
    match op {
        CompareOp::Co => a.contains(b.as_ref()),
        CompareOp::Sw => a.starts_with(b.as_ref()),
        CompareOp::Ew => a.ends_with(b.as_ref()),
        _ => ordering_matches(op, Some(a.cmp(&b))),
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    fn as_int(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    }
    if let (Some(x), Some(y)) = (as_int(a), as_int(b)) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_operands_keeps_order_for_any_shape() {
        let leaf = |n: &str| Filter::Present(AttrPath::simple(n));
        // (a and (b and c)) and d
        let f = Filter::And(
            Box::new(Filter::And(
                Box::new(leaf("a")),
                Box::new(Filter::And(Box::new(leaf("b")), Box::new(leaf("c")))),
            )),
            Box::new(leaf("d")),
        );
        let names: Vec<_> = chain_operands(&f)
            .into_iter()
            .map(|x| match x {
                Filter::Present(a) => a.name.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }

    #[test]
    fn hand_built_deep_filter_does_not_overflow() {
        let mut f = Filter::Present(AttrPath::simple("a"));
        for _ in 0..2_000 {
            f = Filter::Not(Box::new(f));
        }
        let r = serde_json::json!({"a": "x"});
        assert!(!matches(&f, &r));
        // Dismantle iteratively so the derived recursive Drop stays shallow.
        while let Filter::Not(inner) = f {
            f = *inner;
        }
    }
}
