//! The options pip accepts in a requirements file (`SUPPORTED_OPTIONS` and
//! `SUPPORTED_OPTIONS_REQ` of `pip._internal.req.req_file`), parsed as
//! optparse does: `--opt=value`, `--opt value`, `-ovalue`, `-o value`, and a
//! long option abbreviated to any unique prefix.

/// Whether an option takes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    Flag,
    Value,
}

/// (long, short, arity). `--global-option` and `--install-option` were
/// per-requirement options of pip up to 23.x and are still found in files;
/// they are read (and have no effect on what is installed from where).
const OPTIONS: &[(&str, Option<char>, Arity)] = &[
    ("--index-url", Some('i'), Arity::Value),
    ("--extra-index-url", None, Arity::Value),
    ("--no-index", None, Arity::Flag),
    ("--constraint", Some('c'), Arity::Value),
    ("--requirement", Some('r'), Arity::Value),
    ("--editable", Some('e'), Arity::Value),
    ("--find-links", Some('f'), Arity::Value),
    ("--no-binary", None, Arity::Value),
    ("--only-binary", None, Arity::Value),
    ("--prefer-binary", None, Arity::Flag),
    ("--require-hashes", None, Arity::Flag),
    ("--no-require-hashes", None, Arity::Flag),
    ("--pre", None, Arity::Flag),
    ("--all-releases", None, Arity::Value),
    ("--only-final", None, Arity::Value),
    ("--trusted-host", None, Arity::Value),
    ("--use-feature", None, Arity::Value),
    ("--hash", None, Arity::Value),
    ("--config-settings", Some('C'), Arity::Value),
    ("--global-option", None, Arity::Value),
    ("--install-option", None, Arity::Value),
];

/// One option as given, under its long name (`-C` → `--config-settings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Opt {
    pub(super) name: &'static str,
    pub(super) value: Option<String>,
}

/// Parses the words of an option string (already split as `shlex` does)
/// into the options and the words that are no option's value (optparse
/// hands those back; pip ignores them). Errors are optparse's: an unknown
/// option, a missing value, an ambiguous abbreviation, a value given to a
/// flag.
pub(super) fn parse(words: &[String]) -> Result<(Vec<Opt>, Vec<String>), String> {
    let mut out = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        let (spec, inline) = if let Some(long) = w.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            (long_option(name)?, inline)
        } else if let Some(short) = w.strip_prefix('-').filter(|s| !s.is_empty()) {
            let c = short.chars().next().unwrap_or_default();
            let spec = OPTIONS
                .iter()
                .find(|o| o.1 == Some(c))
                .ok_or_else(|| format!("no such option: -{c}"))?;
            let rest = &short[c.len_utf8()..];
            if spec.2 == Arity::Flag && !rest.is_empty() {
                return Err(format!(
                    "no such option: -{}",
                    rest.chars().next().unwrap_or(c)
                ));
            }
            (spec, (!rest.is_empty()).then(|| rest.to_string()))
        } else {
            rest.push(w.clone());
            continue;
        };
        let value = match spec.2 {
            Arity::Flag => {
                if inline.is_some() {
                    return Err(format!("{} option does not take a value", spec.0));
                }
                None
            }
            Arity::Value => match inline {
                Some(v) => Some(v),
                None => {
                    let v = words
                        .get(i)
                        .ok_or_else(|| format!("{} option requires 1 argument", spec.0))?;
                    i += 1;
                    Some(v.clone())
                }
            },
        };
        out.push(Opt {
            name: spec.0,
            value,
        });
    }
    Ok((out, rest))
}

/// optparse's `_match_abbrev`: an exact name, else the one option the
/// prefix abbreviates.
fn long_option(name: &str) -> Result<&'static (&'static str, Option<char>, Arity), String> {
    let full = format!("--{name}");
    if let Some(o) = OPTIONS.iter().find(|o| o.0 == full) {
        return Ok(o);
    }
    let matches: Vec<_> = OPTIONS.iter().filter(|o| o.0.starts_with(&full)).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no such option: {full}")),
        many => Err(format!(
            "ambiguous option: {full} ({}?)",
            many.iter().map(|o| o.0).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Per-requirement options pip takes on a requirement line.
pub(super) fn is_requirement_option(name: &str) -> bool {
    matches!(
        name,
        "--hash" | "--config-settings" | "--global-option" | "--install-option"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        super::super::lines::shlex_split(s).unwrap()
    }

    #[test]
    fn variants_as_optparse() {
        // pip tests/unit/test_req_file.py TestOptionVariants (commit
        // 6d309205789d368b2749d93fd6193d584811efd5).
        for line in [
            "-i url",
            "-i 'url'",
            "--index-url=url",
            "--index-url url",
            "--index-url='url'",
            "-iurl",
            "--index url",
        ] {
            let (opts, rest) = parse(&words(line)).unwrap();
            assert!(rest.is_empty());
            assert_eq!(
                opts,
                [Opt {
                    name: "--index-url",
                    value: Some("url".into())
                }],
                "{line}"
            );
        }
        let (c, _) = parse(&words(r#"-C "yo1=yo2" --config-settings=yo3=yo4"#)).unwrap();
        assert!(c.iter().all(|o| o.name == "--config-settings"));
        assert_eq!(c[1].value.as_deref(), Some("yo3=yo4"));
    }

    #[test]
    fn errors_as_optparse() {
        // test_parser_error: `--bogus`.
        assert_eq!(
            parse(&words("--bogus")).unwrap_err(),
            "no such option: --bogus"
        );
        assert!(parse(&words("--hash")).unwrap_err().contains("requires"));
        assert!(parse(&words("--pre=yes")).is_err());
        assert!(parse(&words("--no")).unwrap_err().contains("ambiguous"));
    }
}
