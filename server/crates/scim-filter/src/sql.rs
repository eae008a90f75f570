//! Translation of a [`Filter`] into a parameterised SQL boolean expression over
//! the users table `u` (and the tables of multi-valued attributes), with the column names a
//! [`ColumnMap`] from the storage layer gives. The output works on both SQLite and PostgreSQL,
//! which accept `$1, $2, …` positional placeholders.
//!
//! Why one file of this size: every comparison's SQL depends on the column's kind (text,
//! boolean, date-time; nullable or not) and on where the attribute lives (the row or an
//! element table), and the absent-value rules tie the three together; split, the rules would
//! live apart from the cases they cover.
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

/// Translate to a boolean SQL expression over table alias `u`, with columns named by `map`.
/// Placeholders start at `$first_param`.
pub fn to_sql(
    filter: &Filter,
    first_param: usize,
    map: &ColumnMap,
) -> Result<SqlFragment, SqlError> {
    translate_top(filter, first_param, map, None)
}

/// Like `to_sql`, for a query whose rows all belong to one organisation: every subquery on a
/// multi-valued table (emails, addresses) is restricted to `org_id = <org_expr>` too (e.g.
/// `"$1"`, the placeholder the caller binds the org id to), so it never scans, or could match,
/// another organisation's rows.
pub fn to_sql_in_org(
    filter: &Filter,
    first_param: usize,
    org_expr: &str,
    map: &ColumnMap,
) -> Result<SqlFragment, SqlError> {
    translate_top(filter, first_param, map, Some(org_expr.to_string()))
}

fn translate_top(
    filter: &Filter,
    first_param: usize,
    map: &ColumnMap,
    org_scope: Option<String>,
) -> Result<SqlFragment, SqlError> {
    if first_param == 0 {
        return Err(SqlError::Unsupported(
            "SQL placeholders are numbered from $1; first_param must be at least 1".into(),
        ));
    }
    let mut out = Params {
        map,
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

struct Params<'m> {
    map: &'m ColumnMap,
    next: usize,
    params: Vec<SqlParam>,
    /// SQL for the organisation id that subqueries are restricted to.
    org_scope: Option<String>,
}

impl Params<'_> {
    fn push(&mut self, p: SqlParam) -> String {
        let placeholder = format!("${}", self.next);
        self.next += 1;
        self.params.push(p);
        placeholder
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    /// Text compared case-insensitively (`exact == false`) or case-exactly.
    Text { exact: bool },
    /// BIGINT 0/1.
    Bool,
    /// BIGINT unix milliseconds, compared with RFC 3339 strings.
    DateTime,
}

/// A column the storage layer names for an attribute, with how to compare it.
#[derive(Clone, Copy, Debug)]
pub struct Col {
    pub expr: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

impl Col {
    /// Text compared case-insensitively (`lower(expr)`).
    pub const fn ci(expr: &'static str, nullable: bool) -> Col {
        Col {
            expr,
            kind: Kind::Text { exact: false },
            nullable,
        }
    }

    /// Text compared case-exactly.
    pub const fn exact(expr: &'static str, nullable: bool) -> Col {
        Col {
            expr,
            kind: Kind::Text { exact: true },
            nullable,
        }
    }

    /// BIGINT 0/1.
    pub const fn boolean(expr: &'static str) -> Col {
        Col {
            expr,
            kind: Kind::Bool,
            nullable: false,
        }
    }

    /// BIGINT unix milliseconds.
    pub const fn datetime(expr: &'static str) -> Col {
        Col {
            expr,
            kind: Kind::DateTime,
            nullable: false,
        }
    }
}

/// Where each filterable attribute is stored. The storage layer owns this table (portal-core's
/// `users::SCIM_FILTER_COLUMNS`); this crate owns the grammar, the attribute model (which
/// attributes are multi-valued, which sub-attributes exist) and the translation. The users table
/// is aliased `u`; `u.id` and `u.org_id` are assumed.
#[derive(Debug)]
pub struct ColumnMap {
    /// Single-valued core attributes by lower-case name (`"username"`; `"name"` alone is the
    /// formatted name).
    pub user: &'static [(&'static str, Col)],
    /// `name.<sub>` by lower-case sub-attribute.
    pub name: &'static [(&'static str, Col)],
    /// `meta.<sub>` by lower-case sub-attribute.
    pub meta: &'static [(&'static str, Col)],
    /// Enterprise extension attributes by lower-case name.
    pub enterprise: &'static [(&'static str, Col)],
    pub emails: MultiTable,
    pub addresses: MultiTable,
}

/// A multi-valued attribute's own table: `table` with `alias`, a `user_id` and an `org_id`
/// column, and its sub-attributes by lower-case name.
#[derive(Debug)]
pub struct MultiTable {
    pub table: &'static str,
    pub alias: &'static str,
    pub columns: &'static [(&'static str, Col)],
}

fn lookup(list: &[(&'static str, Col)], name: &str) -> Option<Col> {
    list.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// A multi-valued attribute stored in its own table.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Multi {
    Emails,
    Addresses,
}

impl Multi {
    fn storage(self, map: &ColumnMap) -> &MultiTable {
        match self {
            Multi::Emails => &map.emails,
            Multi::Addresses => &map.addresses,
        }
    }

    /// The sub-attribute a bare `emails` / `addresses` stands for.
    fn default_sub(self) -> &'static str {
        match self {
            Multi::Emails => "value",
            Multi::Addresses => "formatted",
        }
    }

    /// The column for a (lower-cased) sub-attribute name.
    fn column(self, map: &ColumnMap, sub: &str) -> Option<Col> {
        lookup(self.storage(map).columns, sub)
    }

    /// `u.id IN (SELECT x.user_id FROM table x WHERE [x.org_id = scope AND] cond)`
    fn exists(self, map: &ColumnMap, cond: &str, scope: Option<&str>) -> String {
        let t = self.storage(map);
        let a = t.alias;
        let cond = match scope {
            Some(org) => format!("{a}.org_id = {org} AND ({cond})"),
            None => cond.to_string(),
        };
        format!(
            "u.id IN (SELECT {a}.user_id FROM {from} {a} WHERE {cond})",
            from = t.table
        )
    }

    /// `NOT EXISTS (SELECT 1 FROM table x WHERE x.user_id = u.id)`
    fn none(self, map: &ColumnMap) -> String {
        let t = self.storage(map);
        format!(
            "NOT EXISTS (SELECT 1 FROM {from} {a} WHERE {a}.user_id = u.id)",
            a = t.alias,
            from = t.table
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

fn core_target(map: &ColumnMap, name: &str, sub: Option<&str>) -> Option<Target> {
    match (name, sub) {
        ("name", Some(s)) => lookup(map.name, s).map(Target::Col),
        ("meta", Some(s)) => lookup(map.meta, s).map(Target::Col),
        ("emails", s) => {
            let m = Multi::Emails;
            m.column(map, s.unwrap_or(m.default_sub()))
                .map(|c| Target::Multi(m, c))
        }
        ("addresses", s) => {
            let m = Multi::Addresses;
            m.column(map, s.unwrap_or(m.default_sub()))
                .map(|c| Target::Multi(m, c))
        }
        (n, None) => lookup(map.user, n).map(Target::Col),
        _ => None,
    }
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

fn resolve(map: &ColumnMap, attr: &AttrPath, ctx: Ctx) -> Result<Target, SqlError> {
    let unknown = || SqlError::UnknownAttribute(attr.to_string());
    let name = attr.name.to_ascii_lowercase();
    let sub = attr.sub.as_deref().map(str::to_ascii_lowercase);
    if ctx != Ctx::User {
        if attr.urn.is_some() || sub.is_some() {
            return Err(unknown());
        }
        let col = match ctx {
            Ctx::Elem(m) => m.column(map, &name),
            Ctx::Name => lookup(map.name, &name),
            Ctx::Meta => lookup(map.meta, &name),
            Ctx::User => None,
        };
        return col.map(Target::Col).ok_or_else(unknown);
    }
    let (core_ok, enterprise_ok) = schemas_allowed(attr).ok_or_else(unknown)?;
    if core_ok {
        if let Some(t) = core_target(map, &name, sub.as_deref()) {
            return Ok(t);
        }
    }
    if enterprise_ok && sub.is_none() {
        if let Some(c) = lookup(map.enterprise, &name) {
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
                resolve(out.map, attr, ctx)?,
                |col, out| compare(col, &label, *op, value, out),
                out,
            )
        }
        Filter::Present(attr) => leaf(resolve(out.map, attr, ctx)?, |col, _| Ok(present(col)), out),
        Filter::ValuePath { attr, filter } => {
            if ctx != Ctx::User {
                return Err(SqlError::Unsupported(
                    "value filters [...] cannot be nested".into(),
                ));
            }
            let inner_ctx = value_path_ctx(out.map, attr)?;
            let inner = translate(filter, inner_ctx, out, depth + 1)?;
            match inner_ctx {
                Ctx::Elem(m) => Ok(plain(m.exists(
                    out.map,
                    &inner.text,
                    out.org_scope.as_deref(),
                ))),
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
            let exists = m.exists(out.map, &cond.sql.text, out.org_scope.as_deref());
            Ok(if cond.absent_matches {
                group(format!("{exists} OR {}", m.none(out.map)))
            } else {
                plain(exists)
            })
        }
    }
}

fn value_path_ctx(map: &ColumnMap, attr: &AttrPath) -> Result<Ctx, SqlError> {
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
    match resolve(map, attr, Ctx::User) {
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
