//! SCIM 2.0 filter support (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).
//!
//! * [`parse_filter`] parses a `filter=` query parameter into a [`Filter`] AST.
//! * [`parse_path`] parses a PATCH operation `path` into a [`PatchPath`].
//! * [`matches()`] evaluates a [`Filter`] against a SCIM resource held as JSON.
//! * [`sql::to_sql`] translates a [`Filter`] into a parameterised SQL boolean
//!   expression over the `users u` table (see `SCHEMA.md`).
//!
//! Parsing is bounded: inputs longer than [`MAX_INPUT_CHARS`] characters and
//! filters nested deeper than [`MAX_NESTING`] levels (each `(`, `not (` and
//! `[` counts one) are rejected with a [`FilterError`], so hostile input cannot
//! exhaust the stack. `and`/`or` chains are not nested: they are parsed,
//! evaluated and translated iteratively, so a parsed [`Filter`] is at most
//! about 1,300 levels deep (a 10,000-character chain); the derived `Clone`,
//! `PartialEq`, `Debug` and `Drop` recurse along it and fit in a 2 MiB thread
//! stack (tested).

mod ast;
mod eval;
mod lexer;
mod parser;
pub mod sql;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, FilterError, PatchPath};
pub use eval::matches;
pub use parser::{parse_filter, parse_path, MAX_INPUT_CHARS, MAX_NESTING};
pub use sql::{
    to_sql, to_sql_in_org, Col, ColumnMap, Kind, MultiTable, SqlError, SqlFragment, SqlParam,
};
