//! The filter AST and the error type shared by the parser, evaluator and SQL translator.

use std::fmt;

/// The SCIM core User schema URN; on a User this prefix names top-level attributes.
pub(crate) const CORE_USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension URN (RFC 7643 §4.3).
pub(crate) const ENTERPRISE_USER_URN: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// An attribute path: `[urn ":"] name ["." sub]`.
///
/// Names keep the spelling of the input; they are matched case-insensitively.
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value` is
/// `urn = Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")`,
/// `name = "manager"`, `sub = Some("value")`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path with just a name (no URN, no sub-attribute).
    pub fn simple(name: impl Into<String>) -> Self {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    /// A path `name.sub` (no URN).
    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: Some(sub.into()),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3). `pr` is [`Filter::Present`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator as written in a filter (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Parses an operator keyword case-insensitively (`pr` is not a `CompareOp`).
    pub(crate) fn from_keyword(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison value: a JSON string, number, boolean or null.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
    Null,
}

/// A parsed SCIM filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        attr: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]` — the inner filter's AttrPaths are relative (their `name` is the sub-attribute, urn None)
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH `path`: attrPath, or attrPath "[" valFilter "]" ["." subAttr]
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

/// Why a filter or PATCH path was rejected.
///
/// `position` is the 0-based character (not byte) offset in the input where the
/// problem was found, when there is one. The `Display` text (the message followed
/// by "(at character N)", with N counted from 1 for humans) is meant to be shown
/// to the identity-provider administrator as the SCIM error `detail`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}{}", position_suffix(*.position))]
pub struct FilterError {
    pub message: String,
    pub position: Option<usize>,
}

fn position_suffix(position: Option<usize>) -> String {
    match position {
        Some(p) => format!(" (at character {})", p.saturating_add(1)),
        None => String::new(),
    }
}

impl FilterError {
    pub(crate) fn at(message: impl Into<String>, position: usize) -> Self {
        FilterError {
            message: message.into(),
            position: Some(position),
        }
    }
}
