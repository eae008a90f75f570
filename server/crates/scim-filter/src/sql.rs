//! Translation of a [`Filter`] into a parameterised SQL boolean expression over
//! the `users u` table (and the `user_emails e` / `user_addresses a` tables for
//! multi-valued attributes). The output works on both SQLite and PostgreSQL,
//! which accept `$1, $2, …` positional placeholders.
//!
//! Why one file of this size: the attribute-to-column table and the operator translation must
//! agree on every type; splitting them would separate a column's kind from its use.
//!
//! Guarantees:
//!
//! * Values only ever reach the database as parameters; the SQL text holds
//!   nothing from the filter but fixed column names, operators and the
//!   constants `0`, `1` and `''`.
//! * Two-valued logic: every generated expression is TRUE or FALSE, never
//!   NULL, so `NOT (…)` means exactly "the inner filter does not match".
//!   Comparisons on nullable columns are guarded, e.g.
//!   `(u.title IS NOT NULL AND lower(u.title) = $1)` and
//!   `(u.title IS NULL OR lower(u.title) <> $1)`.
//! * The fragment can be embedded as `… AND <fragment>` without extra
//!   parentheses (`OR` chains come out parenthesised).
//! * Case-insensitive attributes compare `lower(column)` with a value
//!   lower-cased in Rust, so `lower(...)` expression indexes apply.
//!   (SQLite's built-in `lower()` folds ASCII letters only, PostgreSQL's folds
//!   all of Unicode; stored non-ASCII capitals therefore only match
//!   case-insensitively on PostgreSQL.)
//!
//! Semantics follow [`matches`](fn@crate::matches): a comparison on a multi-valued
//! attribute matches when one element matches; `ne` (and `eq null`) also match
//! a user with no element at all, as they match an absent single value.

use crate::ast::{AttrPath, CompValue, CompareOp, Filter, CORE_USER_URN, ENTERPRISE_USER_URN};
use crate::eval::chain_operands;

/// A positional parameter value, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Text(String),
    Int(i64),
    Float(f64),
}

/// A boolean SQL expression and the values of its placeholders
/// (`params[0]` is `$first_param`, `params[1]` is `$first_param + 1`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFragment {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

/// Why a filter cannot be translated. Both map to HTTP 400 `invalidFilter`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SqlError {
    /// The filter names an attribute this server cannot filter on.
    #[error("the filter uses the attribute '{0}', which is unknown or cannot be filtered on; filterable attributes are id, userName, externalId, active, displayName, nickName, title, userType, preferredLanguage, locale, timezone, profileUrl, name.givenName, name.familyName, name.formatted, name.middleName, emails.value, emails.type, emails.primary, addresses.(type, formatted, streetAddress, locality, region, postalCode, country, primary), meta.created, meta.lastModified and the enterprise attributes department, employeeNumber, costCenter, organization and division")]
    UnknownAttribute(String),
    /// The filter is well-formed but asks for something that cannot be
    /// evaluated (e.g. `gt` on a boolean, an invalid date-time).
    #[error("{0}")]
    Unsupported(String),
}

/// Hand-built filters could nest arbitrarily; translation refuses past this depth.
const MAX_SQL_DEPTH: usize = 512;

/// Translate to a boolean SQL expression over table alias `u`. Placeholders start at `$first_param`.
pub fn to_sql(filter: &Filter, first_param: usize) -> Result<SqlFragment, SqlError> {
    translate_top(filter, first_param, None)
}

/// Like `to_sql`, for a query whose rows all belong to one organisation: every subquery on a
/// multi-valued table (emails, addresses) is restricted to `org_id = <org_expr>` too (e.g.
/// `"$1"`, the placeholder the caller binds the org id to), so it never scans, or could match,
/// another organisation's rows.
pub fn to_sql_in_org(
    filter: &Filter,
    first_param: usize,
    org_expr: &str,
) -> Result<SqlFragment, SqlError> {
    translate_top(filter, first_param, Some(org_expr.to_string()))
}

fn translate_top(
    filter: &Filter,
    first_param: usize,
    org_scope: Option<String>,
) -> Result<SqlFragment, SqlError> {
    if first_param == 0 {
        return Err(SqlError::Unsupported(
            "SQL placeholders are numbered from $1; first_param must be at least 1".into(),
        ));
    }
    let mut out = Params {
        next: first_param,
        params: Vec::new(),
        org_scope,
    };
    let sql = translate(filter, Ctx::User, &mut out, 0)?;
    Ok(SqlFragment {
        sql: sql.text,
        params: out.params,
    })
}

struct Params {
    next: usize,
    params: Vec<SqlParam>,
    /// SQL for the organisation id that subqueries are restricted to.
    org_scope: Option<String>,
}

impl Params {
    fn push(&mut self, p: SqlParam) -> String {
        let placeholder = format!("${}", self.next);
        self.next += 1;
        self.params.push(p);
        placeholder
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// Text compared case-insensitively (`exact == false`) or case-exactly.
    Text { exact: bool },
    /// BIGINT 0/1.
    Bool,
    /// BIGINT unix milliseconds, compared with RFC 3339 strings.
    DateTime,
}

#[derive(Clone, Copy, Debug)]
struct Col {
    expr: &'static str,
    kind: Kind,
    nullable: bool,
}

const fn ci(expr: &'static str, nullable: bool) -> Col {
    Col {
        expr,
        kind: Kind::Text { exact: false },
        nullable,
    }
}

const fn exact(expr: &'static str, nullable: bool) -> Col {
    Col {
        expr,
        kind: Kind::Text { exact: true },
        nullable,
    }
}

const fn boolean(expr: &'static str) -> Col {
    Col {
        expr,
        kind: Kind::Bool,
        nullable: false,
    }
}

const fn datetime(expr: &'static str) -> Col {
    Col {
        expr,
        kind: Kind::DateTime,
        nullable: false,
    }
}

/// A multi-valued attribute stored in its own table.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Multi {
    Emails,
    Addresses,
}

impl Multi {
    fn table(self) -> &'static str {
        match self {
            Multi::Emails => "user_emails e",
            Multi::Addresses => "user_addresses a",
        }
    }

    fn alias(self) -> &'static str {
        match self {
            Multi::Emails => "e",
            Multi::Addresses => "a",
        }
    }

    /// The column for a (lower-cased) sub-attribute name.
    fn column(self, sub: &str) -> Option<Col> {
        Some(match (self, sub) {
            (Multi::Emails, "value") => ci("e.value", false),
            (Multi::Emails, "type") => ci("e.type", true),
            (Multi::Emails, "primary") => boolean("e.primary_flag"),
            (Multi::Addresses, "type") => ci("a.type", true),
            (Multi::Addresses, "country") => ci("a.country", true),
            (Multi::Addresses, "locality") => ci("a.locality", true),
            (Multi::Addresses, "region") => ci("a.region", true),
            (Multi::Addresses, "postalcode") => ci("a.postal_code", true),
            (Multi::Addresses, "streetaddress") => ci("a.street_address", true),
            (Multi::Addresses, "formatted") => ci("a.formatted", true),
            (Multi::Addresses, "primary") => boolean("a.primary_flag"),
            _ => return None,
        })
    }

    /// `u.id IN (SELECT x.user_id FROM table x WHERE [x.org_id = scope AND] cond)`
    fn exists(self, cond: &str, scope: Option<&str>) -> String {
        let a = self.alias();
        let cond = match scope {
            Some(org) => format!("{a}.org_id = {org} AND ({cond})"),
            None => cond.to_string(),
        };
        format!(
            "u.id IN (SELECT {a}.user_id FROM {from} WHERE {cond})",
            from = self.table()
        )
    }

    /// `NOT EXISTS (SELECT 1 FROM table x WHERE x.user_id = u.id)`
    fn none(self) -> String {
        format!(
            "NOT EXISTS (SELECT 1 FROM {from} WHERE {a}.user_id = u.id)",
            a = self.alias(),
            from = self.table()
        )
    }
}

/// Where attribute names are resolved.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Ctx {
    /// The user resource.
    User,
    /// Inside `emails[...]` / `addresses[...]`: names are sub-attributes of one element.
    Elem(Multi),
    /// Inside `name[...]`.
    Name,
    /// Inside `meta[...]`.
    Meta,
}

enum Target {
    Col(Col),
    Multi(Multi, Col),
}

fn name_column(sub: &str) -> Option<Col> {
    Some(match sub {
        "givenname" => ci("u.given_name", true),
        "familyname" => ci("u.family_name", true),
        "formatted" => ci("u.formatted_name", true),
        "middlename" => ci("u.middle_name", true),
        _ => return None,
    })
}

fn meta_column(sub: &str) -> Option<Col> {
    Some(match sub {
        "created" => datetime("u.created_at"),
        "lastmodified" => datetime("u.updated_at"),
        _ => return None,
    })
}

fn core_target(name: &str, sub: Option<&str>) -> Option<Target> {
    let col = match (name, sub) {
        ("id", None) => exact("u.id", false),
        ("username", None) => ci("u.user_name", false),
        ("externalid", None) => exact("u.external_id", true),
        ("active", None) => boolean("u.active"),
        ("displayname", None) => ci("u.display_name", true),
        ("nickname", None) => ci("u.nick_name", true),
        ("title", None) => ci("u.title", true),
        ("usertype", None) => ci("u.user_type", true),
        ("preferredlanguage", None) => ci("u.preferred_language", true),
        ("locale", None) => ci("u.locale", true),
        ("timezone", None) => ci("u.timezone", true),
        ("profileurl", None) => ci("u.profile_url", true),
        ("name", None) => ci("u.formatted_name", true),
        ("name", Some(s)) => name_column(s)?,
        ("meta", Some(s)) => meta_column(s)?,
        ("emails", s) => {
            return Multi::Emails
                .column(s.unwrap_or("value"))
                .map(|c| Target::Multi(Multi::Emails, c))
        }
        ("addresses", s) => {
            return Multi::Addresses
                .column(s.unwrap_or("formatted"))
                .map(|c| Target::Multi(Multi::Addresses, c))
        }
        _ => return None,
    };
    Some(Target::Col(col))
}

fn enterprise_column(name: &str) -> Option<Col> {
    Some(match name {
        "department" => ci("u.department", true),
        "employeenumber" => ci("u.employee_number", true),
        "costcenter" => ci("u.cost_center", true),
        "organization" => ci("u.organization", true),
        "division" => ci("u.division", true),
        _ => return None,
    })
}

/// Which schemas a path may name: (core, enterprise).
fn schemas_allowed(attr: &AttrPath) -> Option<(bool, bool)> {
    match attr.urn.as_deref() {
        None => Some((true, true)),
        Some(u) if u.eq_ignore_ascii_case(CORE_USER_URN) => Some((true, false)),
        Some(u) if u.eq_ignore_ascii_case(ENTERPRISE_USER_URN) => Some((false, true)),
        Some(_) => None,
    }
}

fn resolve(attr: &AttrPath, ctx: Ctx) -> Result<Target, SqlError> {
    let unknown = || SqlError::UnknownAttribute(attr.to_string());
    let name = attr.name.to_ascii_lowercase();
    let sub = attr.sub.as_deref().map(str::to_ascii_lowercase);
    if ctx != Ctx::User {
        if attr.urn.is_some() || sub.is_some() {
            return Err(unknown());
        }
        let col = match ctx {
            Ctx::Elem(m) => m.column(&name),
            Ctx::Name => name_column(&name),
            Ctx::Meta => meta_column(&name),
            Ctx::User => None,
        };
        return col.map(Target::Col).ok_or_else(unknown);
    }
    let (core_ok, enterprise_ok) = schemas_allowed(attr).ok_or_else(unknown)?;
    if core_ok {
        if let Some(t) = core_target(&name, sub.as_deref()) {
            return Ok(t);
        }
    }
    if enterprise_ok && sub.is_none() {
        if let Some(c) = enterprise_column(&name) {
            return Ok(Target::Col(c));
        }
    }
    Err(unknown())
}

/// Generated SQL; `grouped` means the whole text is wrapped in one pair of parentheses.
struct Sql {
    text: String,
    grouped: bool,
}

/// A leaf condition; `absent_matches` is true when the condition holds for an
/// absent value (`ne "x"`, `eq null`), which for a multi-valued attribute
/// includes a user with no element at all.
struct Cond {
    sql: Sql,
    absent_matches: bool,
}

fn plain(text: String) -> Sql {
    Sql {
        text,
        grouped: false,
    }
}

fn group(text: String) -> Sql {
    Sql {
        text: format!("({text})"),
        grouped: true,
    }
}

fn translate(f: &Filter, ctx: Ctx, out: &mut Params, depth: usize) -> Result<Sql, SqlError> {
    if depth > MAX_SQL_DEPTH {
        return Err(SqlError::Unsupported("filter is nested too deeply".into()));
    }
    match f {
        Filter::And(..) | Filter::Or(..) => {
            let sep = if matches!(f, Filter::And(..)) {
                " AND "
            } else {
                " OR "
            };
            let mut parts = Vec::new();
            for x in chain_operands(f) {
                parts.push(translate(x, ctx, out, depth + 1)?.text);
            }
            Ok(group(parts.join(sep)))
        }
        Filter::Not(x) => {
            let inner = translate(x, ctx, out, depth + 1)?;
            Ok(plain(if inner.grouped {
                format!("NOT {}", inner.text)
            } else {
                format!("NOT ({})", inner.text)
            }))
        }
        Filter::Compare { attr, op, value } => {
            let label = attr.to_string();
            leaf(
                resolve(attr, ctx)?,
                |col, out| compare(col, &label, *op, value, out),
                out,
            )
        }
        Filter::Present(attr) => leaf(resolve(attr, ctx)?, |col, _| Ok(present(col)), out),
        Filter::ValuePath { attr, filter } => {
            if ctx != Ctx::User {
                return Err(SqlError::Unsupported(
                    "value filters [...] cannot be nested".into(),
                ));
            }
            let inner_ctx = value_path_ctx(attr)?;
            let inner = translate(filter, inner_ctx, out, depth + 1)?;
            match inner_ctx {
                Ctx::Elem(m) => Ok(plain(m.exists(&inner.text, out.org_scope.as_deref()))),
                _ => Ok(inner),
            }
        }
    }
}

fn leaf(
    target: Target,
    make: impl FnOnce(Col, &mut Params) -> Result<Cond, SqlError>,
    out: &mut Params,
) -> Result<Sql, SqlError> {
    match target {
        Target::Col(col) => Ok(make(col, out)?.sql),
        Target::Multi(m, col) => {
            // Only reachable from the user context: element contexts resolve to columns.
            let cond = make(col, out)?;
            let exists = m.exists(&cond.sql.text, out.org_scope.as_deref());
            Ok(if cond.absent_matches {
                group(format!("{exists} OR {}", m.none()))
            } else {
                plain(exists)
            })
        }
    }
}

fn value_path_ctx(attr: &AttrPath) -> Result<Ctx, SqlError> {
    let core_ok = schemas_allowed(attr).is_some_and(|(core, _)| core);
    if core_ok && attr.sub.is_none() {
        let name = attr.name.to_ascii_lowercase();
        match name.as_str() {
            "emails" => return Ok(Ctx::Elem(Multi::Emails)),
            "addresses" => return Ok(Ctx::Elem(Multi::Addresses)),
            "name" => return Ok(Ctx::Name),
            "meta" => return Ok(Ctx::Meta),
            _ => {}
        }
    }
    match resolve(attr, Ctx::User) {
        Ok(_) => Err(SqlError::Unsupported(format!(
            "a value filter [...] cannot be applied to '{attr}'; use it on emails, addresses or name"
        ))),
        Err(e) => Err(e),
    }
}

fn op_symbol(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "LIKE",
    }
}

/// Wraps a comparison so a NULL column gives FALSE (or TRUE for `ne`) instead of NULL.
fn guarded(col: Col, op: CompareOp, body: String) -> Cond {
    let c = col.expr;
    let is_ne = op == CompareOp::Ne;
    let sql = match (col.nullable, is_ne) {
        (false, _) => plain(body),
        (true, true) => group(format!("{c} IS NULL OR {body}")),
        (true, false) => group(format!("{c} IS NOT NULL AND {body}")),
    };
    Cond {
        sql,
        absent_matches: is_ne,
    }
}

fn null_comparison(col: Col, label: &str, op: CompareOp) -> Result<Cond, SqlError> {
    let c = col.expr;
    match op {
        CompareOp::Eq => Ok(Cond {
            sql: plain(format!("{c} IS NULL")),
            absent_matches: true,
        }),
        CompareOp::Ne => Ok(Cond {
            sql: plain(format!("{c} IS NOT NULL")),
            absent_matches: false,
        }),
        _ => Err(SqlError::Unsupported(format!(
            "'{label} {op} null' is not meaningful: null can only be used with eq and ne (or test presence with '{label} pr')"
        ))),
    }
}

/// Escapes `\`, `%` and `_` for `LIKE … ESCAPE '\'`.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
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

fn compare(
    col: Col,
    label: &str,
    op: CompareOp,
    value: &CompValue,
    out: &mut Params,
) -> Result<Cond, SqlError> {
    if *value == CompValue::Null {
        return null_comparison(col, label, op);
    }
    let c = col.expr;
    match col.kind {
        Kind::Text { exact } => {
            let CompValue::String(s) = value else {
                return Err(SqlError::Unsupported(format!(
                    "'{label}' is a text attribute; compare it with a string in double quotes, e.g. {label} {op} \"...\""
                )));
            };
            let body = match (op, exact) {
                (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, false) => {
                    let v = escape_like(&s.to_lowercase());
                    let pattern = match op {
                        CompareOp::Co => format!("%{v}%"),
                        CompareOp::Sw => format!("{v}%"),
                        _ => format!("%{v}"),
                    };
                    let p = out.push(SqlParam::Text(pattern));
                    format!("lower({c}) LIKE {p} ESCAPE '\\'")
                }
                // Case-exact substring tests without LIKE (SQLite's LIKE ignores ASCII case).
                (CompareOp::Co, true) => {
                    if s.is_empty() {
                        "1 = 1".to_string()
                    } else {
                        let p = out.push(SqlParam::Text(s.clone()));
                        format!("replace({c}, {p}, '') <> {c}")
                    }
                }
                // The placeholder appears twice; both engines bind it once.
                (CompareOp::Sw, true) => {
                    let p = out.push(SqlParam::Text(s.clone()));
                    format!("substr({c}, 1, length({p})) = {p}")
                }
                (CompareOp::Ew, true) => {
                    let p = out.push(SqlParam::Text(s.clone()));
                    format!("substr({c}, length({c}) - length({p}) + 1) = {p}")
                }
                (_, false) => {
                    let p = out.push(SqlParam::Text(s.to_lowercase()));
                    format!("lower({c}) {} {p}", op_symbol(op))
                }
                (_, true) => {
                    let p = out.push(SqlParam::Text(s.clone()));
                    format!("{c} {} {p}", op_symbol(op))
                }
            };
            Ok(guarded(col, op, body))
        }
        Kind::Bool => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(SqlError::Unsupported(format!(
                    "'{label}' is a boolean attribute; only eq, ne and pr can be used with it, not {op}"
                )));
            }
            let b = match value {
                CompValue::Bool(b) => Some(*b),
                CompValue::String(s) => parse_bool(s),
                _ => None,
            };
            let Some(b) = b else {
                return Err(SqlError::Unsupported(format!(
                    "'{label}' is a boolean attribute; compare it with true or false"
                )));
            };
            let body = format!("{c} {} {}", op_symbol(op), i32::from(b));
            Ok(guarded(col, op, body))
        }
        Kind::DateTime => {
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return Err(SqlError::Unsupported(format!(
                    "'{label}' is a date-time attribute; {op} cannot be used with it, use eq, ne, gt, ge, lt or le"
                )));
            }
            let CompValue::String(s) = value else {
                return Err(SqlError::Unsupported(format!(
                    "'{label}' is a date-time attribute; compare it with an RFC 3339 date-time string such as \"2024-01-31T12:00:00Z\""
                )));
            };
            let ms = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| {
                    SqlError::Unsupported(format!(
                        "'{s}' is not a valid date-time for '{label}'; use RFC 3339, e.g. \"2024-01-31T12:00:00Z\""
                    ))
                })?
                .timestamp_millis();
            let p = out.push(SqlParam::Int(ms));
            Ok(guarded(col, op, format!("{c} {} {p}", op_symbol(op))))
        }
    }
}

fn present(col: Col) -> Cond {
    let c = col.expr;
    let text = match col.kind {
        Kind::Text { .. } => format!("({c} IS NOT NULL AND {c} <> '')"),
        Kind::Bool | Kind::DateTime => format!("{c} IS NOT NULL"),
    };
    Cond {
        sql: Sql {
            grouped: text.starts_with('('),
            text,
        },
        absent_matches: false,
    }
}
