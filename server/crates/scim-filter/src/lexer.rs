//! Tokenizer shared by the filter and PATCH path parsers.
//!
//! Positions are 0-based character offsets into the input.

use crate::ast::FilterError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A JSON string literal, already unescaped.
    Str(String),
    /// A run of word characters: an attribute path, an operator, a keyword,
    /// a number or a literal (`true`, `false`, `null`). After `]` a word that
    /// starts with `.` is the sub-attribute of a value path.
    Word(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Character offset of the first character of the token.
    pub pos: usize,
    /// Whether whitespace separates this token from the previous one.
    pub ws_before: bool,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$' | ':' | '.' | '+')
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits `input` into tokens. Linear in the input length; never recurses.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut ws_before = false;
    while i < chars.len() {
        let c = chars[i];
        if is_space(c) {
            ws_before = true;
            i += 1;
            continue;
        }
        let pos = i;
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '[' => {
                i += 1;
                Tok::LBracket
            }
            ']' => {
                i += 1;
                Tok::RBracket
            }
            '"' => {
                let (s, next) = lex_string(&chars, i)?;
                i = next;
                Tok::Str(s)
            }
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                Tok::Word(chars[start..i].iter().collect())
            }
            other => return Err(unexpected_char(other, pos)),
        };
        tokens.push(Token {
            tok,
            pos,
            ws_before,
        });
        ws_before = false;
    }
    Ok(tokens)
}

fn unexpected_char(c: char, pos: usize) -> FilterError {
    let hint = match c {
        '\'' => "; string values must be in double quotes, e.g. userName eq \"bjensen\"",
        '=' => "; use the operator eq (or ne, gt, ge, lt, le), e.g. userName eq \"bjensen\"",
        '!' => "; use ne for 'not equal' or not (...) to negate a filter",
        '<' | '>' => "; use the operators gt, ge, lt or le",
        '&' => "; use the keyword and",
        '|' => "; use the keyword or",
        '{' | '}' => "; comparison values must be JSON strings, numbers, true, false or null",
        _ => "",
    };
    FilterError::at(
        format!("unexpected character '{}'{hint}", c.escape_debug()),
        pos,
    )
}

/// Lexes a JSON string starting at the opening quote `chars[start]`.
/// Returns the unescaped string and the index just past the closing quote.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(FilterError::at(
                "unterminated string: a value that starts with '\"' needs a closing '\"'",
                start,
            ));
        };
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err(FilterError::at(
                        "unterminated string: it ends with a lone backslash",
                        start,
                    ));
                };
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let (ch, next) = lex_unicode_escape(chars, i)?;
                        out.push(ch);
                        i = next;
                        continue;
                    }
                    other => {
                        return Err(FilterError::at(
                            format!(
                                "invalid escape '\\{}' in string; valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX",
                                other.escape_debug()
                            ),
                            i,
                        ))
                    }
                }
                i += 2;
            }
            c if (c as u32) < 0x20 => {
                return Err(FilterError::at(
                    format!(
                        "control character U+{:04X} must be escaped inside a string",
                        c as u32
                    ),
                    i,
                ))
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// Reads the 4 hex digits of `\uXXXX` whose backslash is at `chars[at]`.
fn read_hex4(chars: &[char], at: usize) -> Result<u32, FilterError> {
    let mut v: u32 = 0;
    for k in 0..4 {
        let d = chars
            .get(at + 2 + k)
            .and_then(|c| c.to_digit(16))
            .ok_or_else(|| {
                FilterError::at("invalid \\u escape: expected 4 hexadecimal digits", at)
            })?;
        v = v * 16 + d;
    }
    Ok(v)
}

/// Decodes `\uXXXX` (and a following low surrogate when XXXX is a high surrogate)
/// whose backslash is at `chars[at]`. Returns the character and the next index.
fn lex_unicode_escape(chars: &[char], at: usize) -> Result<(char, usize), FilterError> {
    let hi = read_hex4(chars, at)?;
    let lone = || {
        FilterError::at(
            "invalid \\u escape: a lone UTF-16 surrogate is not a character (a high surrogate \\uD800-\\uDBFF must be followed by a low surrogate \\uDC00-\\uDFFF)",
            at,
        )
    };
    match hi {
        0xD800..=0xDBFF => {
            let next = at + 6;
            if chars.get(next) != Some(&'\\') || chars.get(next + 1) != Some(&'u') {
                return Err(lone());
            }
            let lo = read_hex4(chars, next)?;
            if !(0xDC00..=0xDFFF).contains(&lo) {
                return Err(lone());
            }
            let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            let ch = char::from_u32(cp).ok_or_else(lone)?;
            Ok((ch, next + 6))
        }
        0xDC00..=0xDFFF => Err(lone()),
        0 => Err(FilterError::at(
            "the NUL character (\\u0000) is not allowed in a string value",
            at,
        )),
        _ => {
            let ch = char::from_u32(hi).ok_or_else(lone)?;
            Ok((ch, at + 6))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_strings_and_brackets() {
        assert_eq!(
            toks(r#"emails[type eq "work"].value"#),
            vec![
                Tok::Word("emails".into()),
                Tok::LBracket,
                Tok::Word("type".into()),
                Tok::Word("eq".into()),
                Tok::Str("work".into()),
                Tok::RBracket,
                Tok::Word(".value".into()),
            ]
        );
        assert_eq!(
            toks("not(a pr)"),
            vec![
                Tok::Word("not".into()),
                Tok::LParen,
                Tok::Word("a".into()),
                Tok::Word("pr".into()),
                Tok::RParen,
            ]
        );
    }

    #[test]
    fn positions_are_character_offsets() {
        let t = tokenize("\"ü\" x").unwrap();
        assert_eq!(t[1].pos, 4);
        assert!(t[1].ws_before);
        assert!(!t[0].ws_before);
    }

    #[test]
    fn string_escapes() {
        let cases: &[(&str, &str)] = &[
            (r#""a\"b""#, "a\"b"),
            (r#""a\\b""#, "a\\b"),
            (r#""a\/b""#, "a/b"),
            (r#""\b\f\n\r\t""#, "\u{8}\u{c}\n\r\t"),
            (r#""\u00fc\u6771""#, "ü東"),
            (r#""\uD83D\uDE00""#, "😀"),
            (r#""\ud83d\ude00""#, "😀"),
            ("\"Jürgen 東京\"", "Jürgen 東京"),
            (r#""""#, ""),
        ];
        for (input, want) in cases {
            assert_eq!(toks(input), vec![Tok::Str((*want).into())], "{input}");
        }
    }

    #[test]
    fn string_errors() {
        let cases: &[(&str, usize)] = &[
            (r#""abc"#, 0),
            (r#"x "abc\"#, 2),
            (r#""\x""#, 1),
            (r#""\u12""#, 1),
            (r#""\uD83D""#, 1),
            (r#""\uD83Dx""#, 1),
            (r#""\uD83D\u0041""#, 1),
            (r#""\uDE00""#, 1),
            ("\"a\u{1}\"", 2),
            (r#""a\u0000""#, 2),
        ];
        for (input, pos) in cases {
            let e = tokenize(input).unwrap_err();
            assert_eq!(e.position, Some(*pos), "{input}: {e}");
        }
    }

    #[test]
    fn unexpected_characters() {
        for (input, pos) in [("a = 'b'", 2), ("a eq 'b'", 5), ("a & b", 2), ("ü", 0)] {
            let e = tokenize(input).unwrap_err();
            assert_eq!(e.position, Some(pos), "{input}: {e}");
            assert!(e.message.starts_with("unexpected character"), "{e}");
        }
    }
}
