//! pip's preprocessing of a requirements file, step by step as
//! `pip._internal.req.req_file.preprocess` does it: join lines ending in `\`
//! (not comment lines), strip comments (`#` at the start or after
//! whitespace), drop empty lines, expand `${NAME}` variables. Whole-line
//! comments are kept apart for pip-compile's and uv's `# via` annotations.

/// One logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    /// 1-based number of the first physical line (pip's numbering).
    pub(super) number: usize,
    pub(super) text: String,
    /// A whole-line comment (text kept as written, `#` included).
    pub(super) comment: bool,
}

/// pip's `COMMENT_RE.match`: the line starts with `#`, after optional
/// whitespace.
fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// pip's `join_lines` + `ignore_comments`: a line ending in `\` is joined to
/// the next with the backslash removed and nothing inserted; a comment line
/// ends a continuation (and is not itself continued); the joined line takes
/// the number of its first line. Comments are then stripped and empty lines
/// dropped; whole-line comments are returned as `comment` lines.
pub(super) fn preprocess(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    let emit = |out: &mut Vec<Line>, number: usize, joined: &str| {
        let text = strip_comment(joined);
        if !text.is_empty() {
            out.push(Line {
                number,
                text: text.to_string(),
                comment: false,
            });
        }
    };
    // `str::lines` splits on `\n` and `\r\n`, as Python's `splitlines` does
    // for the files tools write.
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if is_comment(line) {
            if let Some((first, joined)) = pending.take() {
                emit(&mut out, first, &joined);
            }
            out.push(Line {
                number,
                text: line.trim().to_string(),
                comment: true,
            });
        } else if line.ends_with('\\') {
            let body = line.trim_matches('\\');
            match pending.as_mut() {
                Some((_, joined)) => joined.push_str(body),
                None => pending = Some((number, body.to_string())),
            }
        } else {
            match pending.take() {
                Some((first, mut joined)) => {
                    joined.push_str(line);
                    emit(&mut out, first, &joined);
                }
                None => emit(&mut out, number, line),
            }
        }
    }
    if let Some((first, joined)) = pending {
        emit(&mut out, first, &joined);
    }
    out
}

/// pip's `COMMENT_RE = (^|\s+)#.*$`: everything from the first `#` that
/// starts the line or follows whitespace. A `#` inside a URL
/// (`foo.tar.gz#egg=wat`) is not a comment.
pub(super) fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let cut = bytes
        .iter()
        .enumerate()
        .find(|&(i, &b)| b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()))
        .map_or(line.len(), |(i, _)| i);
    line[..cut].trim()
}

/// A `${NAME}` reference pip would expand (`NAME` of `A-Z`, `0-9`, `_`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unresolved {
    pub(super) name: String,
}

/// pip's `expand_env_variables`: `${NAME}` with `NAME` of upper-case letters,
/// digits and `_` is replaced by the variable's value; an unset or empty one
/// is left as written (pip does the same), and returned so the caller can say
/// so. `$NAME`, `%NAME%` and `${lower}` are not references.
pub(super) fn expand_vars(
    line: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (String, Vec<Unresolved>) {
    let mut out = String::with_capacity(line.len());
    let mut unresolved = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            match lookup(name).filter(|v| !v.is_empty()) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push_str(&rest[start..start + 3 + name_len]);
                    if !unresolved.iter().any(|u: &Unresolved| u.name == name) {
                        unresolved.push(Unresolved {
                            name: name.to_string(),
                        });
                    }
                }
            }
            rest = &after[name_len + 1..];
        } else {
            out.push_str("${");
            rest = after;
        }
    }
    out.push_str(rest);
    (out, unresolved)
}

/// pip's `break_args_options`: the line split on single spaces; the
/// arguments are the tokens before the first one starting with `-`, the
/// options the rest (joined back with spaces).
pub(super) fn break_args_options(line: &str) -> (String, String) {
    let tokens: Vec<&str> = line.split(' ').collect();
    let split = tokens
        .iter()
        .position(|t| t.starts_with('-'))
        .unwrap_or(tokens.len());
    (tokens[..split].join(" "), tokens[split..].join(" "))
}

/// Python's `shlex.split` in POSIX mode (what pip splits options with):
/// whitespace separates words, `'…'` quotes literally, `"…"` quotes with `\`
/// escaping `\`, `"`, `$` and `` ` ``, and a bare `\` escapes the next
/// character. An open quote or a trailing escape is an error.
pub(super) fn shlex_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('\\' | '"' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("No closing quotation".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("No escaped character".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    //! Cases from pip's own tests, `tests/unit/test_req_file.py` at pypa/pip
    //! commit 6d309205789d368b2749d93fd6193d584811efd5 (classes
    //! TestPreprocess, TestIgnoreComments, TestJoinLines,
    //! TestBreakOptionsArgs, TestParseRequirements).
    use super::*;

    fn pairs(text: &str) -> Vec<(usize, String)> {
        preprocess(text)
            .into_iter()
            .filter(|l| !l.comment)
            .map(|l| (l.number, l.text))
            .collect()
    }

    #[test]
    fn comments_and_joins_as_pip() {
        // test_comments_and_joins_case1..3
        assert_eq!(
            pairs("req1 \\\n# comment \\\nreq2\n"),
            [(1, "req1".into()), (3, "req2".into())]
        );
        assert_eq!(pairs("req1\\\n# comment\n"), [(1, "req1".into())]);
        assert_eq!(
            pairs("req1 \\\n# comment\nreq2\n"),
            [(1, "req1".into()), (3, "req2".into())]
        );
        // test_strip_comment / test_ignore_line
        assert_eq!(
            pairs("\nreq1\nreq # comment\nreq2"),
            [(2, "req1".into()), (3, "req".into()), (4, "req2".into())]
        );
    }

    #[test]
    fn join_lines_as_pip() {
        // test_join_lines and test_last_line_with_escape
        let text = "line 1\nline 2:1 \\\nline 2:2\nline 3:1 \\\nline 3:2 \\\nline 3:3\nline 4\n";
        assert_eq!(
            pairs(text),
            [
                (1, "line 1".into()),
                (2, "line 2:1 line 2:2".into()),
                (4, "line 3:1 line 3:2 line 3:3".into()),
                (7, "line 4".into())
            ]
        );
        assert_eq!(
            pairs("line 1\nline 2 \\"),
            [(1, "line 1".into()), (2, "line 2".into())]
        );
    }

    #[test]
    fn a_hash_in_a_url_is_not_a_comment() {
        // test_req_file_parse_comment_end_of_line_with_url / _egginfo_
        assert_eq!(
            strip_comment("https://example.com/foo.tar.gz # Comment "),
            "https://example.com/foo.tar.gz"
        );
        assert_eq!(
            strip_comment("https://example.com/foo.tar.gz#egg=wat"),
            "https://example.com/foo.tar.gz#egg=wat"
        );
    }

    #[test]
    fn break_args_options_as_pip() {
        let b = |s: &str| {
            let (a, o) = break_args_options(s);
            (a, o)
        };
        assert_eq!(b("--option"), ("".into(), "--option".into()));
        assert_eq!(b("arg arg"), ("arg arg".into(), "".into()));
        assert_eq!(b("arg arg -s"), ("arg arg".into(), "-s".into()));
        assert_eq!(b("arg arg --long"), ("arg arg".into(), "--long".into()));
    }

    #[test]
    fn variables_as_pip() {
        // test_expand_existing_env_variables
        let env = |n: &str| match n {
            "GITHUB_TOKEN" => Some("notarealtoken".to_string()),
            "DO_12_FACTOR" => Some("awwyeah".to_string()),
            _ => None,
        };
        let (line, missing) = expand_vars(
            "https://${GITHUB_TOKEN}:x-oauth-basic@github.com/user/${DO_12_FACTOR}/archive/master.zip",
            &env,
        );
        assert_eq!(
            line,
            "https://notarealtoken:x-oauth-basic@github.com/user/awwyeah/archive/master.zip"
        );
        assert!(missing.is_empty());
        // test_expand_missing_env_variables: left as written.
        let url = "https://${NON_EXISTENT_VARIABLE}:$WRONG_FORMAT@%WINDOWS_FORMAT%github.com/user/repo/archive/master.zip";
        let (line, missing) = expand_vars(url, &|_| Some(String::new()));
        assert_eq!(line, url);
        assert_eq!(
            missing,
            [Unresolved {
                name: "NON_EXISTENT_VARIABLE".into()
            }]
        );
        // Lower-case names are not references.
        assert_eq!(expand_vars("${lower}x", &env).0, "${lower}x");
    }

    #[test]
    fn shlex_as_python() {
        assert_eq!(
            shlex_split(r#"--config-settings="yo3=yo4" --config-settings "yo1=yo2""#).unwrap(),
            ["--config-settings=yo3=yo4", "--config-settings", "yo1=yo2"]
        );
        assert_eq!(shlex_split("-i 'url'").unwrap(), ["-i", "url"]);
        // test_invalid_options: `--'data` has no closing quotation.
        assert!(shlex_split("--'data").is_err());
    }
}
