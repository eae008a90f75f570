//! Recursive-descent parser for SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths
//! (RFC 7644 §3.5.2).
//!
//! Why one file of this size: it is the whole grammar, one function per production, and reads
//! top to bottom against the RFC's ABNF.
//!
//! Grammar accepted (keywords and operators case-insensitive):
//!
//! ```text
//! filter    = or-expr
//! or-expr   = and-expr *("or" and-expr)              ; left-associative
//! and-expr  = unary *("and" unary)                   ; left-associative
//! unary     = "not" "(" filter ")" / "(" filter ")" / attr-expr
//! attr-expr = attrPath "pr"
//!           / attrPath compareOp compValue
//!           / attrPath "[" valFilter "]" [ "." subAttr ( "pr" / compareOp compValue ) ]
//! path      = attrPath [ "[" valFilter "]" [ "." subAttr ] ]
//! ```
//!
//! `valFilter` is the same grammar with relative attribute names and no nested
//! `[...]`. The trailing `"." subAttr compareOp compValue` form after a value
//! filter is not in the RFC's ABNF but is what Microsoft Entra ID sends; it is
//! folded into the value filter with `and`.
//!
//! Recursion only happens on `(`, `not (` and `[`, each of which counts one level
//! of nesting; more than [`MAX_NESTING`] levels is an error, so the recursion
//! depth is bounded no matter the input. `and`/`or` chains are parsed in loops.

use crate::ast::{AttrPath, CompValue, CompareOp, Filter, FilterError, PatchPath};
use crate::lexer::{tokenize, Tok, Token};

/// Longest accepted filter or path, in characters.
pub const MAX_INPUT_CHARS: usize = 10_000;
/// Deepest accepted nesting of parentheses, `not (...)` and value filters `[...]`.
pub const MAX_NESTING: usize = 64;

const OPERATORS_HINT: &str = "eq, ne, co, sw, ew, gt, ge, lt, le or pr";

/// Parses a SCIM filter expression such as `userName eq "bjensen"`.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    check_length(input, "filter")?;
    parse_filter_any_len(input)
}

/// Parses a PATCH operation `path` such as `emails[type eq "work"].value`.
///
/// A path that is only a schema URN (e.g. the enterprise extension URN itself,
/// with no attribute) is not handled here: it would be read as URN + attribute.
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    check_length(input, "path")?;
    if input.trim().is_empty() {
        return Err(FilterError::at("path is empty", 0));
    }
    let tokens = tokenize(input)?;
    let mut p = Parser::new(tokens, input);
    let Some(first) = p.peek().cloned() else {
        return Err(FilterError::at("path is empty", 0));
    };
    let Tok::Word(word) = &first.tok else {
        return Err(FilterError::at(
            format!(
                "a path must start with an attribute name, not {}",
                describe(&first.tok)
            ),
            first.pos,
        ));
    };
    p.bump();
    let attr = parse_attr_path(word, first.pos)?;
    let mut filter = None;
    let mut sub = None;
    if let Some(Token {
        tok: Tok::LBracket,
        pos,
        ..
    }) = p.peek()
    {
        let pos = *pos;
        if attr.sub.is_some() {
            return Err(sub_before_bracket(&attr, pos));
        }
        let (inner, after) = p.parse_bracket()?;
        filter = Some(inner);
        sub = after.map(|(name, _)| name);
    }
    if let Some(t) = p.peek() {
        return Err(FilterError::at(
            format!(
                "unexpected {} after the path; a path is attribute, attribute.subAttribute or attribute[filter].subAttribute",
                describe(&t.tok)
            ),
            t.pos,
        ));
    }
    Ok(PatchPath { attr, filter, sub })
}

/// `parse_filter` without the length limit (the nesting limit still applies).
pub(crate) fn parse_filter_any_len(input: &str) -> Result<Filter, FilterError> {
    if input.trim().is_empty() {
        return Err(FilterError::at("filter is empty", 0));
    }
    let tokens = tokenize(input)?;
    let mut p = Parser::new(tokens, input);
    let filter = p.parse_or(false)?;
    if let Some(t) = p.peek() {
        return Err(unexpected_after(t, "'and', 'or' or the end of the filter"));
    }
    Ok(filter)
}

fn check_length(input: &str, what: &str) -> Result<(), FilterError> {
    if input.chars().take(MAX_INPUT_CHARS + 1).count() > MAX_INPUT_CHARS {
        return Err(FilterError {
            message: format!("{what} is too long: the maximum is {MAX_INPUT_CHARS} characters"),
            position: Some(MAX_INPUT_CHARS),
        });
    }
    Ok(())
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    /// Character length of the input, the position reported for "unexpected end".
    end: usize,
}

impl Parser {
    fn new(toks: Vec<Token>, input: &str) -> Self {
        Parser {
            toks,
            i: 0,
            depth: 0,
            end: input.chars().count(),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn bump(&mut self) {
        self.i += 1;
    }

    fn peek_keyword(&self, kw: &str) -> Option<usize> {
        match self.peek() {
            Some(Token {
                tok: Tok::Word(w),
                pos,
                ..
            }) if w.eq_ignore_ascii_case(kw) => Some(*pos),
            _ => None,
        }
    }

    fn enter(&mut self, pos: usize) -> Result<(), FilterError> {
        if self.depth >= MAX_NESTING {
            return Err(FilterError::at(
                format!(
                    "filter is nested too deeply: at most {MAX_NESTING} levels of parentheses, not (...) and value filters [...] are allowed"
                ),
                pos,
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn parse_or(&mut self, in_vf: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(in_vf)?;
        while let Some(pos) = self.peek_keyword("or") {
            self.bump();
            self.require_operand("or", pos)?;
            let right = self.parse_and(in_vf)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self, in_vf: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(in_vf)?;
        while let Some(pos) = self.peek_keyword("and") {
            self.bump();
            self.require_operand("and", pos)?;
            let right = self.parse_unary(in_vf)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn require_operand(&self, kw: &str, kw_pos: usize) -> Result<(), FilterError> {
        if self.peek().is_none() {
            return Err(FilterError::at(
                format!("missing expression after '{kw}'"),
                kw_pos,
            ));
        }
        Ok(())
    }

    fn parse_unary(&mut self, in_vf: bool) -> Result<Filter, FilterError> {
        let Some(t) = self.peek().cloned() else {
            return Err(FilterError::at("missing expression", self.end));
        };
        match &t.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                self.bump();
                match self.peek() {
                    Some(Token {
                        tok: Tok::LParen, ..
                    }) => {}
                    other => {
                        let pos = other.map_or(self.end, |t| t.pos);
                        return Err(FilterError::at(
                            "'not' must be followed by a filter in parentheses, e.g. not (title pr)",
                            pos,
                        ));
                    }
                }
                let inner = self.parse_group(in_vf)?;
                Ok(Filter::Not(Box::new(inner)))
            }
            Tok::LParen => self.parse_group(in_vf),
            Tok::Word(w) if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") => {
                Err(FilterError::at(
                    format!("missing expression before '{w}'"),
                    t.pos,
                ))
            }
            Tok::Word(w) if is_operator(w) => Err(FilterError::at(
                format!("missing attribute name before the operator '{w}', e.g. userName {w} ..."),
                t.pos,
            )),
            Tok::Word(w) => {
                self.bump();
                self.parse_attr_expr(w, t.pos, in_vf)
            }
            Tok::Str(_) => Err(FilterError::at(
                "expected an attribute name but found a string value; a comparison is attribute operator value, e.g. userName eq \"bjensen\"",
                t.pos,
            )),
            Tok::RParen => Err(FilterError::at(
                "unexpected ')': expected an expression",
                t.pos,
            )),
            Tok::RBracket => Err(FilterError::at(
                "unexpected ']': expected an expression",
                t.pos,
            )),
            Tok::LBracket => Err(FilterError::at(
                "unexpected '[': a value filter must directly follow an attribute name, e.g. emails[type eq \"work\"]",
                t.pos,
            )),
        }
    }

    /// Parses `"(" filter ")"` starting at the `(`.
    fn parse_group(&mut self, in_vf: bool) -> Result<Filter, FilterError> {
        let open = self.peek().map_or(self.end, |t| t.pos);
        self.bump();
        self.enter(open)?;
        if let Some(Token {
            tok: Tok::RParen,
            pos,
            ..
        }) = self.peek()
        {
            return Err(FilterError::at("empty parentheses '()'", *pos));
        }
        let inner = self.parse_or(in_vf)?;
        match self.peek() {
            Some(Token {
                tok: Tok::RParen, ..
            }) => self.bump(),
            Some(t) => return Err(unexpected_after(t, "'and', 'or' or ')'")),
            None => {
                return Err(FilterError::at(
                    format!(
                        "missing ')' to close the '(' at character {}",
                        open.saturating_add(1)
                    ),
                    open,
                ))
            }
        }
        self.leave();
        Ok(inner)
    }

    /// Parses `"[" valFilter "]" ["." subAttr]` starting at the `[`.
    /// Returns the value filter and the optional trailing sub-attribute with its position.
    fn parse_bracket(&mut self) -> Result<(Filter, Option<(String, usize)>), FilterError> {
        let open = self.peek().map_or(self.end, |t| t.pos);
        self.bump();
        self.enter(open)?;
        if let Some(Token {
            tok: Tok::RBracket,
            pos,
            ..
        }) = self.peek()
        {
            return Err(FilterError::at(
                "empty value filter '[]'; put a filter inside, e.g. emails[type eq \"work\"]",
                *pos,
            ));
        }
        let inner = self.parse_or(true)?;
        match self.peek() {
            Some(Token {
                tok: Tok::RBracket, ..
            }) => self.bump(),
            Some(t) => return Err(unexpected_after(t, "'and', 'or' or ']'")),
            None => {
                return Err(FilterError::at(
                    format!(
                        "missing ']' to close the value filter opened at character {}",
                        open.saturating_add(1)
                    ),
                    open,
                ))
            }
        }
        self.leave();
        let mut sub = None;
        if let Some(Token {
            tok: Tok::Word(w),
            pos,
            ws_before: false,
        }) = self.peek()
        {
            if let Some(name) = w.strip_prefix('.') {
                if let Some(k) = name.find(['.', ':']) {
                    return Err(FilterError::at(
                        format!(
                            "only one sub-attribute may follow a value filter, e.g. emails[type eq \"work\"].value; found '{w}'"
                        ),
                        pos + 1 + k,
                    ));
                }
                validate_attr_name(name, pos + 1, w)?;
                sub = Some((name.to_string(), pos + 1));
                self.bump();
            }
        }
        Ok((inner, sub))
    }

    fn parse_attr_expr(
        &mut self,
        word: &str,
        pos: usize,
        in_vf: bool,
    ) -> Result<Filter, FilterError> {
        let attr = parse_attr_path(word, pos)?;
        if in_vf && (attr.urn.is_some() || attr.sub.is_some()) {
            return Err(FilterError::at(
                format!(
                    "inside a value filter [...] use a plain sub-attribute name such as type or value, not '{word}'"
                ),
                pos,
            ));
        }
        let Some(t) = self.peek().cloned() else {
            return Err(FilterError::at(
                format!("missing operator after '{word}'; expected {OPERATORS_HINT}"),
                self.end,
            ));
        };
        match &t.tok {
            Tok::LBracket => {
                if in_vf {
                    return Err(FilterError::at(
                        "value filters cannot be nested: '[' inside another '[...]'",
                        t.pos,
                    ));
                }
                if attr.sub.is_some() {
                    return Err(sub_before_bracket(&attr, t.pos));
                }
                let (inner, sub) = self.parse_bracket()?;
                let filter = match sub {
                    None => inner,
                    Some((sub, sub_pos)) => {
                        let leaf = self.parse_operation(AttrPath::simple(sub), sub_pos)?;
                        Filter::And(Box::new(inner), Box::new(leaf))
                    }
                };
                Ok(Filter::ValuePath {
                    attr,
                    filter: Box::new(filter),
                })
            }
            _ => self.parse_operation(attr, pos),
        }
    }

    /// Parses `"pr"` or `compareOp compValue` after the attribute `attr`
    /// (which was written at `attr_pos`).
    fn parse_operation(&mut self, attr: AttrPath, attr_pos: usize) -> Result<Filter, FilterError> {
        let Some(t) = self.peek().cloned() else {
            return Err(FilterError::at(
                format!("missing operator after '{attr}'; expected {OPERATORS_HINT}"),
                self.end.max(attr_pos),
            ));
        };
        match &t.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("pr") => {
                self.bump();
                if let Some(v) = self.peek() {
                    let is_value = match &v.tok {
                        Tok::Str(_) => true,
                        Tok::Word(x) => looks_like_literal(x),
                        _ => false,
                    };
                    if is_value {
                        return Err(FilterError::at(
                            "'pr' (present) takes no comparison value; remove the value, or use eq to compare",
                            v.pos,
                        ));
                    }
                }
                Ok(Filter::Present(attr))
            }
            Tok::Word(w) => {
                let Some(op) = CompareOp::from_keyword(w) else {
                    return Err(FilterError::at(
                        format!("unknown operator '{w}' after '{attr}'; expected {OPERATORS_HINT}"),
                        t.pos,
                    ));
                };
                self.bump();
                let value = self.parse_value(w, t.pos)?;
                Ok(Filter::Compare { attr, op, value })
            }
            Tok::Str(_) => Err(FilterError::at(
                format!(
                    "missing operator between '{attr}' and the value; expected {OPERATORS_HINT}"
                ),
                t.pos,
            )),
            other => Err(FilterError::at(
                format!(
                    "missing operator after '{attr}' (found {}); expected {OPERATORS_HINT}",
                    describe(other)
                ),
                t.pos,
            )),
        }
    }

    fn parse_value(&mut self, op: &str, op_pos: usize) -> Result<CompValue, FilterError> {
        let missing = |pos: usize| {
            FilterError::at(
                format!("missing comparison value after '{op}', e.g. userName {op} \"bjensen\""),
                pos,
            )
        };
        let Some(t) = self.peek().cloned() else {
            return Err(missing(self.end.max(op_pos)));
        };
        match t.tok {
            Tok::Str(s) => {
                self.bump();
                Ok(CompValue::String(s))
            }
            Tok::Word(w) => {
                if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") {
                    return Err(missing(t.pos));
                }
                self.bump();
                parse_literal(&w, t.pos)
            }
            _ => Err(missing(t.pos)),
        }
    }
}

fn sub_before_bracket(attr: &AttrPath, pos: usize) -> FilterError {
    FilterError::at(
        format!(
            "a value filter [...] must follow a multi-valued attribute such as emails, not the sub-attribute '{attr}'"
        ),
        pos,
    )
}

fn is_operator(w: &str) -> bool {
    w.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(w).is_some()
}

fn looks_like_literal(w: &str) -> bool {
    w.eq_ignore_ascii_case("true")
        || w.eq_ignore_ascii_case("false")
        || w.eq_ignore_ascii_case("null")
        || w.starts_with(|c: char| c.is_ascii_digit() || c == '-')
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::LParen => "'('".to_string(),
        Tok::RParen => "')'".to_string(),
        Tok::LBracket => "'['".to_string(),
        Tok::RBracket => "']'".to_string(),
        Tok::Str(_) => "a string value".to_string(),
        Tok::Word(w) => format!("'{w}'"),
    }
}

/// The error for a token found where an expression was already complete.
fn unexpected_after(t: &Token, expected: &str) -> FilterError {
    let closing = if expected.ends_with("')'") {
        Some(')')
    } else if expected.ends_with("']'") {
        Some(']')
    } else {
        None
    };
    let message = match (&t.tok, closing) {
        (Tok::RParen, Some(']')) => "found ')' where ']' was expected to close the value filter".to_string(),
        (Tok::RBracket, Some(')')) => "found ']' where ')' was expected".to_string(),
        (Tok::RParen, _) => "unbalanced ')': there is no matching '('".to_string(),
        (Tok::RBracket, _) => "unbalanced ']': there is no matching '['".to_string(),
        (Tok::Word(w), _) if is_operator(w) => format!(
            "unexpected operator '{w}'; a comparison is attribute operator value, and expressions are joined with 'and' or 'or'"
        ),
        (Tok::Str(_), _) => format!(
            "unexpected string value; expected {expected} (is an operator missing, or a quote misplaced?)"
        ),
        (other, _) => format!("unexpected {}; expected {expected}", describe(other)),
    };
    FilterError::at(message, t.pos)
}

fn parse_literal(w: &str, pos: usize) -> Result<CompValue, FilterError> {
    if w.eq_ignore_ascii_case("true") {
        return Ok(CompValue::Bool(true));
    }
    if w.eq_ignore_ascii_case("false") {
        return Ok(CompValue::Bool(false));
    }
    if w.eq_ignore_ascii_case("null") {
        return Ok(CompValue::Null);
    }
    if w.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
        if !is_json_number(w) {
            return Err(FilterError::at(
                format!("'{w}' is not a valid JSON number"),
                pos,
            ));
        }
        return serde_json::from_str::<serde_json::Number>(w)
            .map(CompValue::Number)
            .map_err(|_| FilterError::at(format!("number '{w}' is out of range"), pos));
    }
    Err(FilterError::at(
        format!(
            "comparison value '{w}' is not valid: put text in double quotes (\"{w}\"), or use a number, true, false or null"
        ),
        pos,
    ))
}

/// JSON number syntax (RFC 8259 §6): `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// Parses `[urn ":"] name ["." sub]` from a word token written at `pos`.
/// Words only contain ASCII characters, so byte offsets equal character offsets.
pub(crate) fn parse_attr_path(word: &str, pos: usize) -> Result<AttrPath, FilterError> {
    let (urn, rest, rest_pos) = if word.len() >= 4 && word[..4].eq_ignore_ascii_case("urn:") {
        let idx = word.rfind(':').unwrap_or(3);
        let urn = &word[..idx];
        let rest = &word[idx + 1..];
        if urn.split(':').any(str::is_empty) || urn.len() <= 4 {
            return Err(FilterError::at(
                format!("invalid schema URN '{urn}' in '{word}'"),
                pos,
            ));
        }
        if rest.is_empty() {
            return Err(FilterError::at(
                format!(
                    "'{word}' has no attribute name after the schema URN; write urn:...:attributeName"
                ),
                pos + idx,
            ));
        }
        (Some(urn.to_string()), rest, pos + idx + 1)
    } else {
        if let Some(k) = word.find(':') {
            return Err(FilterError::at(
                format!(
                    "unexpected ':' in attribute name '{word}'; a schema-qualified name must start with 'urn:'"
                ),
                pos + k,
            ));
        }
        (None, word, pos)
    };
    let mut part_pos = rest_pos;
    let mut parts = Vec::new();
    for part in rest.split('.') {
        validate_attr_name(part, part_pos, word)?;
        parts.push(part);
        part_pos += part.len() + 1;
    }
    match parts.as_slice() {
        [name] => Ok(AttrPath {
            urn,
            name: (*name).to_string(),
            sub: None,
        }),
        [name, sub] => Ok(AttrPath {
            urn,
            name: (*name).to_string(),
            sub: Some((*sub).to_string()),
        }),
        _ => Err(FilterError::at(
            format!(
                "too many '.' in '{word}'; an attribute path is attribute or attribute.subAttribute"
            ),
            rest_pos,
        )),
    }
}

/// ATTRNAME = ALPHA *(ALPHA / DIGIT / "-" / "_" / "$"), plus the `$ref` sub-attribute.
fn validate_attr_name(name: &str, pos: usize, word: &str) -> Result<(), FilterError> {
    if name.is_empty() {
        return Err(FilterError::at(
            format!(
                "empty attribute name in '{word}' (look for '..' or a leading or trailing '.')"
            ),
            pos,
        ));
    }
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(FilterError::at(
            format!("attribute name '{name}' must start with a letter"),
            pos,
        ));
    }
    if let Some(k) = name
        .chars()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$')))
    {
        let c = name[k..].chars().next().unwrap_or(' ');
        return Err(FilterError::at(
            format!("invalid character '{c}' in attribute name '{name}'"),
            pos + k,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_number_syntax() {
        for ok in [
            "0", "-0", "12", "-12", "1.5", "1e3", "1E+3", "1.25e-3", "-0.0",
        ] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "1.2.3", "--1", "1-2",
        ] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }

    #[test]
    fn nesting_bomb_without_length_limit_hits_depth_limit() {
        // 100,000 levels would be rejected by the length limit first; check that
        // the parser itself also stops at the nesting limit without recursing deeper.
        for depth in [2_000usize, 100_000] {
            let input = format!("{}a pr{}", "(".repeat(depth), ")".repeat(depth));
            let e = parse_filter_any_len(&input).unwrap_err();
            assert!(e.message.contains("filter is nested too deeply"), "{e}");
            assert_eq!(e.position, Some(MAX_NESTING));
            let input = format!("{}a pr{}", "not (".repeat(depth), ")".repeat(depth));
            let e = parse_filter_any_len(&input).unwrap_err();
            assert!(e.message.contains("filter is nested too deeply"), "{e}");
        }
    }

    #[test]
    fn attr_path_positions() {
        let e = parse_attr_path("name..x", 10).unwrap_err();
        assert_eq!(e.position, Some(15));
        let e = parse_attr_path("urn:a:b:n+e", 0).unwrap_err();
        assert_eq!(e.position, Some(9));
        let e = parse_attr_path("a.b.c", 0).unwrap_err();
        assert!(e.message.starts_with("too many '.'"), "{e}");
    }
}
