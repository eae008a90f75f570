//! Query text whose `$n` placeholders are numbered as they are written, with their values kept in
//! the same order, so no caller counts parameters by hand.
//!
//! Why not `sqlx::QueryBuilder`: with `sqlx::Any` it writes `?` placeholders (the Any driver's
//! own syntax), which PostgreSQL refuses. Every query here runs on SQLite and PostgreSQL through
//! one `AnyPool`, and both accept `$n`, so this builder writes `$n`.
//!
//! A SCIM filter is translated separately ([`scim_filter::to_sql_in_org`]) with placeholders
//! starting at a number it is given: pass [`SqlBuilder::next_param`] and append the result with
//! [`SqlBuilder::push_fragment`].

use std::fmt;

use sqlx::any::AnyArguments;
use sqlx::Any;

/// One bound value. `None` binds SQL NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(Option<String>),
    Int(Option<i64>),
    Float(f64),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_string()))
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}

impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        Self::Text(Some(v.clone()))
    }
}

impl From<Option<String>> for SqlValue {
    fn from(v: Option<String>) -> Self {
        Self::Text(v)
    }
}

impl From<&Option<String>> for SqlValue {
    fn from(v: &Option<String>) -> Self {
        Self::Text(v.clone())
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}

impl From<Option<i64>> for SqlValue {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}

/// 0/1, as every boolean column here is stored.
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        Self::Int(Some(i64::from(v)))
    }
}

impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

impl From<scim_filter::SqlParam> for SqlValue {
    fn from(v: scim_filter::SqlParam) -> Self {
        match v {
            scim_filter::SqlParam::Text(s) => Self::Text(Some(s)),
            scim_filter::SqlParam::Int(i) => Self::Int(Some(i)),
            scim_filter::SqlParam::Float(f) => Self::Float(f),
        }
    }
}

/// A placeholder already bound (from [`SqlBuilder::bind`]); displays as `$n`, for a value the
/// query text uses more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param(usize);

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.0)
    }
}

/// SQL text and its bound values; `$1` is the first value pushed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlBuilder {
    sql: String,
    params: Vec<SqlValue>,
}

impl SqlBuilder {
    pub fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_string(),
            params: Vec::new(),
        }
    }

    /// Appends query text (never a value: values go through [`Self::push_bind`]).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Records a value and returns its placeholder without writing it.
    pub fn bind(&mut self, value: impl Into<SqlValue>) -> Param {
        self.params.push(value.into());
        Param(self.params.len())
    }

    /// Writes the next `$n` and records its value.
    pub fn push_bind(&mut self, value: impl Into<SqlValue>) -> &mut Self {
        let p = self.bind(value);
        self.sql.push_str(&p.to_string());
        self
    }

    /// Writes one placeholder per value, separated by `sep`.
    pub fn push_binds<V: Into<SqlValue>>(
        &mut self,
        values: impl IntoIterator<Item = V>,
        sep: &str,
    ) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(sep);
            }
            self.push_bind(v);
        }
        self
    }

    /// The number the next bound value will get: the `first_param` of a fragment translated
    /// elsewhere (e.g. [`scim_filter::to_sql_in_org`]).
    pub fn next_param(&self) -> usize {
        self.params.len() + 1
    }

    /// Appends SQL whose placeholders were numbered from [`Self::next_param`] (at the time it was
    /// translated) with their values in order.
    pub fn push_numbered<V: Into<SqlValue>>(
        &mut self,
        sql: &str,
        params: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        self.sql.push_str(sql);
        self.params.extend(params.into_iter().map(Into::into));
        self
    }

    /// Appends a translated SCIM filter; its `first_param` must have been [`Self::next_param`].
    pub fn push_fragment(&mut self, fragment: scim_filter::SqlFragment) -> &mut Self {
        self.push_numbered(&fragment.sql, fragment.params)
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The bound values, `$1` first.
    pub fn params(&self) -> &[SqlValue] {
        &self.params
    }

    /// The query with every value bound, in placeholder order.
    pub fn query(&self) -> sqlx::query::Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for p in &self.params {
            q = match p {
                SqlValue::Text(s) => q.bind(s.as_deref()),
                SqlValue::Int(i) => q.bind(*i),
                SqlValue::Float(f) => q.bind(*f),
            };
        }
        q
    }

    /// Like [`Self::query`], mapping rows to `T`.
    pub fn query_as<T>(&self) -> sqlx::query::QueryAs<'_, Any, T, AnyArguments<'_>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_as(&self.sql);
        for p in &self.params {
            q = match p {
                SqlValue::Text(s) => q.bind(s.as_deref()),
                SqlValue::Int(i) => q.bind(*i),
                SqlValue::Float(f) => q.bind(*f),
            };
        }
        q
    }
}

/// Statements that run together, in order, inside the caller's transaction: on SQLite in one
/// call (one trip to the connection's worker thread instead of one per statement, which is what a
/// write holding SQLite's single writer turn pays for), on PostgreSQL one after the other (its
/// protocol takes one statement per prepared query).
///
/// Each statement is a [`SqlBuilder`] numbered from `$1`; on SQLite they are joined with their
/// placeholders renumbered, which is why statement text must never contain a `$` of its own (a
/// value is always bound, never written into the text).
///
/// A statement that fails stops the script; the ones before it have run, so the caller must then
/// roll its transaction back (returning the error does: the transaction is dropped uncommitted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    statements: Vec<SqlBuilder>,
    /// Not kept prepared on the connection after it ran (see [`Script::run_once`]).
    once: bool,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a script whose text will rarely come again (its statements vary with the data, e.g.
    /// one per token of a batch): on SQLite it is then not kept among the connection's prepared
    /// statements, where each distinct text would hold memory until evicted.
    pub fn run_once(&mut self) -> &mut Self {
        self.once = true;
        self
    }

    /// Appends a statement.
    pub fn push(&mut self, statement: SqlBuilder) -> &mut Self {
        self.statements.push(statement);
        self
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn statements(&self) -> &[SqlBuilder] {
        &self.statements
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The statements as one SQL text with one list of values (what SQLite runs).
    pub fn joined(&self) -> SqlBuilder {
        let mut all = SqlBuilder::default();
        for (i, s) in self.statements.iter().enumerate() {
            if i > 0 {
                all.sql.push_str(";\n");
            }
            let offset = all.params.len();
            all.sql.push_str(&shift_placeholders(&s.sql, offset));
            all.params.extend(s.params.iter().cloned());
        }
        all
    }

    /// Runs the statements; returns the rows each one affected, in order.
    pub async fn run(&self, conn: &mut sqlx::AnyConnection) -> Result<Vec<u64>, sqlx::Error> {
        use futures::TryStreamExt;
        use sqlx::Executor;
        let mut affected = Vec::with_capacity(self.statements.len());
        if self.statements.len() > 1
            && conn.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME
        {
            let all = self.joined();
            let mut results = conn.execute_many(all.query().persistent(!self.once));
            while let Some(r) = results.try_next().await? {
                affected.push(r.rows_affected());
            }
            if affected.len() != self.statements.len() {
                return Err(sqlx::Error::Protocol(format!(
                    "a script of {} statements reported {} results",
                    self.statements.len(),
                    affected.len()
                )));
            }
        } else {
            for s in &self.statements {
                affected.push(s.query().execute(&mut *conn).await?.rows_affected());
            }
        }
        Ok(affected)
    }
}

/// `$n` → `$(n + offset)` throughout `sql`.
fn shift_placeholders(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at + 1]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_push_order() {
        let mut b = SqlBuilder::new("SELECT id FROM users WHERE org_id = ");
        b.push_bind("org-1")
            .push(" AND source = ")
            .push_bind("scim");
        b.push(" LIMIT ")
            .push_bind(50)
            .push(" OFFSET ")
            .push_bind(100);
        assert_eq!(
            b.sql(),
            "SELECT id FROM users WHERE org_id = $1 AND source = $2 LIMIT $3 OFFSET $4"
        );
        assert_eq!(
            b.params(),
            &[
                SqlValue::from("org-1"),
                SqlValue::from("scim"),
                SqlValue::Int(Some(50)),
                SqlValue::Int(Some(100)),
            ]
        );
        assert_eq!(b.next_param(), 5);
    }

    #[test]
    fn a_bound_placeholder_can_be_written_twice() {
        let mut b = SqlBuilder::new("UPDATE t SET a = ");
        b.push_bind(true);
        let v = b.bind(-1);
        b.push(&format!(" WHERE ({v} < 0 OR version = {v})"));
        assert_eq!(
            b.sql(),
            "UPDATE t SET a = $1 WHERE ($2 < 0 OR version = $2)"
        );
        assert_eq!(
            b.params(),
            &[SqlValue::Int(Some(1)), SqlValue::Int(Some(-1))]
        );
    }

    #[test]
    fn separated_binds_and_nulls() {
        let mut b = SqlBuilder::new("VALUES (");
        b.push_binds([Some("a".to_string()), None], ", ").push(")");
        assert_eq!(b.sql(), "VALUES ($1, $2)");
        assert_eq!(b.params(), &[SqlValue::from("a"), SqlValue::Text(None)]);
    }

    #[test]
    fn a_scim_filter_fragment_continues_the_numbering() {
        let mut b = SqlBuilder::new("SELECT u.id FROM users u WHERE u.org_id = ");
        b.push_bind("org-1").push(" AND ");
        let filter = scim_filter::parse_filter(r#"userName eq "a" and active eq true"#).unwrap();
        let frag = scim_filter::to_sql_in_org(
            &filter,
            b.next_param(),
            "$1",
            &crate::users::SCIM_FILTER_COLUMNS,
        )
        .unwrap();
        let n = frag.params.len();
        assert!(n >= 1);
        assert!(frag.sql.contains("$2"));
        b.push_fragment(frag).push(" LIMIT ").push_bind(10);
        assert!(b.sql().ends_with(&format!(" LIMIT ${}", n + 2)));
        assert_eq!(b.params()[0], SqlValue::from("org-1"));
        assert_eq!(b.params()[1], SqlValue::from("a"));
        assert_eq!(b.params()[n + 1], SqlValue::Int(Some(10)));
        assert_eq!(b.params().len(), n + 2);
    }

    #[test]
    fn a_script_joins_its_statements_with_placeholders_renumbered() {
        let mut a = SqlBuilder::new("INSERT INTO t (a, b) VALUES (");
        a.push_binds(["x", "y"], ", ").push(")");
        let mut b = SqlBuilder::new("UPDATE u SET c = ");
        let v = b.bind(7);
        b.push(&format!("{v} WHERE d = {v} OR e = ")).push_bind("z");
        let mut s = Script::new();
        s.push(a).push(b);
        let all = s.joined();
        assert_eq!(
            all.sql(),
            "INSERT INTO t (a, b) VALUES ($1, $2);\nUPDATE u SET c = $3 WHERE d = $3 OR e = $4"
        );
        assert_eq!(
            all.params(),
            &[
                SqlValue::from("x"),
                SqlValue::from("y"),
                SqlValue::Int(Some(7)),
                SqlValue::from("z"),
            ]
        );
        assert_eq!(shift_placeholders("$1, $10 and $", 5), "$6, $15 and $");
    }
}
