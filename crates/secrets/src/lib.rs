//! Secrets in the files of a model (configs, notebooks, `.env`, scripts, the
//! strings inside pickles, safetensors metadata), found with gitleaks' rule
//! set (`rules/gitleaks.toml`, vendored unchanged; see `rules/SOURCE.md`).
//!
//! What gitleaks does, done the same way: a keyword prefilter (a rule runs
//! only on text that holds one of its keywords, ASCII case-insensitively, or
//! always when it has none), the rule's regular expression, the secret taken
//! from its `secretGroup` (else the first non-empty group, else the whole
//! match), Shannon entropy over the threshold (`entropy <= threshold` is not
//! a secret), the global and per-rule allow-lists (`regexes` against the
//! secret, the match or the line per `regexTarget`, `stopwords` in the
//! secret, `paths`, `condition = "AND"`), a `gitleaks:allow` comment on the
//! line, and rules with a `path` only (a file name that is itself a finding).
//!
//! The traps: gitleaks' patterns are Go (RE2) syntax, compiled here by the
//! `regex` crate over bytes with Unicode off, which is what RE2's ASCII `\w`,
//! `\b` and `\s` mean. A rule that does not compile is not dropped in
//! silence: [`Rules::refused`] lists it with the compiler's reason.
//!
//! A [`Hit`] never holds the secret: only its place, a redacted form (its
//! first characters then `…`) and its SHA-256 fingerprint.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `git describe --tags` of the gitleaks commit the rules were copied from.
pub const GITLEAKS_VERSION: &str = "v8.30.0-27-gb58d3f10";

const GITLEAKS_TOML: &str = include_str!("../rules/gitleaks.toml");

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("gitleaks config: {0}")]
    Toml(String),
}

/// One secret found. The secret itself is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The gitleaks rule id (`huggingface-access-token`, `aws-access-token`, …).
    pub rule: String,
    /// Byte offset of the secret in the text scanned.
    pub offset: usize,
    /// 1-based line of the secret in the text scanned.
    pub line: usize,
    /// The secret's first characters, then `…` (at most a quarter of it).
    pub redacted: String,
    /// Lower-case hex SHA-256 of the secret's bytes.
    pub fingerprint: String,
}

/// The compiled rule set.
#[derive(Debug)]
pub struct Rules {
    rules: Vec<Rule>,
    global: Vec<Allowlist>,
    /// Every keyword (lower-case), and which rules each one turns on.
    prefilter: Option<AhoCorasick>,
    keyword_rules: Vec<Vec<usize>>,
    /// Rules with a regex and no keyword: run on every text.
    always: Vec<usize>,
    refused: Vec<(String, String)>,
}

#[derive(Debug)]
struct Rule {
    id: String,
    regex: Option<Regex>,
    path: Option<Regex>,
    entropy: f64,
    secret_group: usize,
    allowlists: Vec<Allowlist>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Secret,
    Match,
    Line,
}

#[derive(Debug)]
struct Allowlist {
    target: Target,
    and: bool,
    regexes: Vec<Regex>,
    paths: Vec<Regex>,
    stopwords: Vec<String>,
    /// Commits only apply to git history: an allow-list of commits alone
    /// never allows a file here.
    commits: bool,
}

#[derive(Deserialize)]
struct ConfigWire {
    #[serde(default)]
    allowlist: Option<AllowWire>,
    #[serde(default)]
    allowlists: Vec<AllowWire>,
    #[serde(default)]
    rules: Vec<RuleWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleWire {
    id: String,
    regex: Option<String>,
    path: Option<String>,
    entropy: Option<f64>,
    secret_group: Option<usize>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    allowlists: Vec<AllowWire>,
    #[serde(default)]
    allowlist: Option<AllowWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AllowWire {
    condition: Option<String>,
    regex_target: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    commits: Vec<String>,
}

/// RE2 reads a `{` that does not open a repetition (`{n}`, `{n,}`, `{n,m}`)
/// and a `}` that closes none as literal characters; the `regex` crate
/// refuses them. They are escaped, outside character classes, before
/// compiling — the only translation gitleaks' patterns need.
pub fn translate_go(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut class = 0usize; // nesting of `[...]` (POSIX `[:alpha:]` inside too)
    let mut open_repetition = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            out.push(c);
            if let Some(n) = chars.get(i + 1) {
                out.push(*n);
            }
            i += 2;
            continue;
        }
        if class > 0 {
            if c == '[' && chars.get(i + 1) == Some(&':') {
                class += 1;
            } else if c == ']' && (class > 1 || !out.ends_with('[') && !out.ends_with("[^")) {
                class -= 1;
            }
            out.push(c);
            i += 1;
            continue;
        }
        match c {
            '[' => {
                class = 1;
                out.push(c);
            }
            '{' => {
                let rest: String = chars[i + 1..].iter().take(24).collect();
                let valid = rest.find('}').is_some_and(|end| {
                    let body = &rest[..end];
                    let (a, b) = body.split_once(',').unwrap_or((body, "0"));
                    !a.is_empty()
                        && a.bytes().all(|x| x.is_ascii_digit())
                        && b.bytes().all(|x| x.is_ascii_digit())
                });
                if valid {
                    open_repetition = true;
                    out.push('{');
                } else {
                    out.push_str("\\{");
                }
            }
            '}' => {
                if open_repetition {
                    open_repetition = false;
                    out.push('}');
                } else {
                    out.push_str("\\}");
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(&translate_go(pattern))
        .unicode(false)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
        .map_err(|e| {
            e.to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string()
        })
}

fn allowlist(w: &AllowWire) -> Result<Allowlist, String> {
    let all = |ps: &[String]| ps.iter().map(|p| compile(p)).collect::<Result<Vec<_>, _>>();
    Ok(Allowlist {
        target: match w.regex_target.as_deref() {
            Some("match") => Target::Match,
            Some("line") => Target::Line,
            _ => Target::Secret,
        },
        and: w
            .condition
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("and")),
        regexes: all(&w.regexes)?,
        paths: all(&w.paths)?,
        stopwords: w.stopwords.iter().map(|s| s.to_ascii_lowercase()).collect(),
        commits: !w.commits.is_empty(),
    })
}

impl Rules {
    /// The vendored gitleaks rules, compiled once.
    pub fn gitleaks() -> &'static Rules {
        static RULES: LazyLock<Rules> = LazyLock::new(|| {
            // The vendored file is tested to parse; an error here is a build
            // that changed it without running the tests.
            Rules::load(GITLEAKS_TOML).unwrap_or_else(|e| Rules {
                rules: Vec::new(),
                global: Vec::new(),
                prefilter: None,
                keyword_rules: Vec::new(),
                always: Vec::new(),
                refused: vec![("(config)".into(), e.to_string())],
            })
        });
        &RULES
    }

    /// Compiles a gitleaks TOML configuration. Rules (or allow-lists) whose
    /// patterns do not compile are left out and listed in [`Rules::refused`].
    pub fn load(toml_text: &str) -> Result<Rules, RulesError> {
        let wire: ConfigWire =
            toml::from_str(toml_text).map_err(|e| RulesError::Toml(e.to_string()))?;
        let mut refused = Vec::new();
        let mut global = Vec::new();
        for (i, a) in wire.allowlist.iter().chain(&wire.allowlists).enumerate() {
            match allowlist(a) {
                Ok(a) => global.push(a),
                Err(e) => refused.push((format!("(global allowlist {i})"), e)),
            }
        }
        let mut rules = Vec::new();
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for r in wire.rules {
            let built = (|| -> Result<Rule, String> {
                let lists = r
                    .allowlists
                    .iter()
                    .chain(&r.allowlist)
                    .map(allowlist)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Rule {
                    id: r.id.clone(),
                    regex: r.regex.as_deref().map(compile).transpose()?,
                    path: r.path.as_deref().map(compile).transpose()?,
                    entropy: r.entropy.unwrap_or(0.0),
                    secret_group: r.secret_group.unwrap_or(0),
                    allowlists: lists,
                })
            })();
            let rule = match built {
                Ok(rule) => rule,
                Err(e) => {
                    refused.push((r.id, e));
                    continue;
                }
            };
            let index = rules.len();
            if rule.regex.is_some() {
                if r.keywords.is_empty() {
                    always.push(index);
                }
                for k in &r.keywords {
                    let k = k.to_ascii_lowercase();
                    match keywords.iter().position(|x| *x == k) {
                        Some(i) => keyword_rules[i].push(index),
                        None => {
                            keywords.push(k);
                            keyword_rules.push(vec![index]);
                        }
                    }
                }
            }
            rules.push(rule);
        }
        // A DFA: the keywords are a few hundred short strings (a few MiB of
        // transitions), and every byte of every text file goes through it.
        let prefilter = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&keywords)
            .map_err(|e| RulesError::Toml(format!("keywords: {e}")))?;
        Ok(Rules {
            rules,
            global,
            prefilter: Some(prefilter),
            keyword_rules,
            always,
            refused,
        })
    }

    /// Rules in use.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rules (or allow-lists) not compiled, with the reason: (rule id, error).
    pub fn refused(&self) -> &[(String, String)] {
        &self.refused
    }

    /// Whether the global allow-list's `paths` exclude this file (gitleaks
    /// does not read it: images, fonts, lock files, vendored code).
    pub fn path_allowed(&self, path: &str) -> bool {
        self.global
            .iter()
            .any(|a| !a.and && a.paths.iter().any(|p| p.is_match(path.as_bytes())))
    }

    /// Rules with a `path` and no pattern: the file's name is the finding
    /// (a PKCS #12 file). Returns their ids.
    pub fn path_hits(&self, path: &str) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| r.regex.is_none())
            .filter(|r| r.path.as_ref().is_some_and(|p| p.is_match(path.as_bytes())))
            .map(|r| r.id.clone())
            .collect()
    }

    /// Every secret in `text`, which is (part of) the file `path` (relative,
    /// `/`-separated; rules and allow-lists with paths match against it).
    pub fn scan(&self, text: &[u8], path: &str) -> Vec<Hit> {
        // Which keywords occur (a keyword like `token` occurs thousands of
        // times in a tokenizer file: marked once), then their rules.
        let mut seen = vec![false; self.keyword_rules.len()];
        if let Some(ac) = &self.prefilter {
            for m in ac.find_overlapping_iter(text) {
                seen[m.pattern().as_usize()] = true;
            }
        }
        let mut candidates: Vec<usize> = self.always.clone();
        for (k, rules) in self.keyword_rules.iter().enumerate() {
            if seen[k] {
                candidates.extend(rules);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut hits = Vec::new();
        for i in candidates {
            self.scan_rule(&self.rules[i], text, path, &mut hits);
        }
        hits.sort_by(|a, b| (a.offset, &a.rule).cmp(&(b.offset, &b.rule)));
        hits
    }

    fn scan_rule(&self, rule: &Rule, text: &[u8], path: &str, hits: &mut Vec<Hit>) {
        let Some(regex) = &rule.regex else { return };
        if rule
            .path
            .as_ref()
            .is_some_and(|p| !p.is_match(path.as_bytes()))
        {
            return;
        }
        // A rule's allow-list of paths alone (or of paths AND nothing that
        // needs a finding) excludes the file for this rule.
        if rule.allowlists.iter().any(|a| {
            !a.paths.is_empty()
                && a.paths.iter().any(|p| p.is_match(path.as_bytes()))
                && (!a.and || (a.regexes.is_empty() && a.stopwords.is_empty() && !a.commits))
        }) {
            return;
        }
        for caps in regex.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            // gitleaks trims newlines off the match.
            let mut start = whole.start();
            let mut end = whole.end();
            while start < end && text[start] == b'\n' {
                start += 1;
            }
            while end > start && text[end - 1] == b'\n' {
                end -= 1;
            }
            let (s_start, s_end) = if caps.len() >= 2 {
                let group = if rule.secret_group > 0 {
                    caps.get(rule.secret_group)
                } else {
                    (1..caps.len())
                        .filter_map(|g| caps.get(g))
                        .find(|m| !m.is_empty())
                };
                match group {
                    Some(g) => (g.start(), g.end()),
                    None if rule.secret_group > 0 => continue,
                    None => (start, end),
                }
            } else {
                (start, end)
            };
            let secret = &text[s_start..s_end];
            let matched = &text[start..end];
            let line_start = text[..start]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            let line_end = text[end..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(text.len(), |i| end + i);
            let line = &text[line_start..line_end];
            if contains(line, b"gitleaks:allow") {
                continue;
            }
            if rule.entropy != 0.0 && shannon_entropy(secret) <= rule.entropy {
                continue;
            }
            let allowed =
                |lists: &[Allowlist]| lists.iter().any(|a| a.allows(secret, matched, line, path));
            if allowed(&self.global) || allowed(&rule.allowlists) {
                continue;
            }
            hits.push(Hit {
                rule: rule.id.clone(),
                offset: s_start,
                line: 1 + text[..s_start].iter().filter(|b| **b == b'\n').count(),
                redacted: redact(secret),
                fingerprint: fingerprint(secret),
            });
        }
    }
}

impl Allowlist {
    fn allows(&self, secret: &[u8], matched: &[u8], line: &[u8], path: &str) -> bool {
        let target = match self.target {
            Target::Secret => secret,
            Target::Match => matched,
            Target::Line => line,
        };
        let regex = !target.is_empty() && self.regexes.iter().any(|r| r.is_match(target));
        let lower = secret.to_ascii_lowercase();
        let stopword = !secret.is_empty()
            && self
                .stopwords
                .iter()
                .any(|w| contains(&lower, w.as_bytes()));
        if self.and {
            let mut checks = Vec::new();
            if self.commits {
                checks.push(false);
            }
            if !self.paths.is_empty() {
                checks.push(self.paths.iter().any(|p| p.is_match(path.as_bytes())));
            }
            if !self.regexes.is_empty() {
                checks.push(regex);
            }
            if !self.stopwords.is_empty() {
                checks.push(stopword);
            }
            checks.iter().all(|c| *c)
        } else {
            regex || stopword
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// gitleaks' `shannonEntropy`: over the characters, divided by the length in
/// bytes (as Go's `len` of a string counts).
pub fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let text = String::from_utf8_lossy(data);
    let mut counts: std::collections::HashMap<char, usize> = Default::default();
    for c in text.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let inv = 1.0 / data.len() as f64;
    counts
        .values()
        .map(|n| {
            let f = *n as f64 * inv;
            -f * f.log2()
        })
        .sum()
}

/// The first characters of a secret (a quarter of it, at most four), then `…`.
pub fn redact(secret: &[u8]) -> String {
    let text = String::from_utf8_lossy(secret);
    let n = text.chars().count();
    let shown: String = text.chars().take((n / 4).min(4)).collect();
    format!("{shown}…")
}

/// Lower-case hex SHA-256 of the secret.
pub fn fingerprint(secret: &[u8]) -> String {
    Sha256::digest(secret)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every gitleaks rule compiles with the `regex` crate, or is listed with
    /// the reason; the list is what docs/ARCHITECTURE.md says.
    #[test]
    fn every_rule_compiles_or_is_listed() {
        let rules = Rules::gitleaks();
        let wire: ConfigWire = toml::from_str(GITLEAKS_TOML).unwrap();
        for (id, why) in rules.refused() {
            eprintln!("refused: {id}: {why}");
        }
        let refused_rules = rules
            .refused()
            .iter()
            .filter(|(id, _)| !id.starts_with('('))
            .count();
        assert_eq!(rules.len() + refused_rules, wire.rules.len());
        assert_eq!(wire.rules.len(), 222);
        let refused: Vec<&str> = rules.refused().iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(refused, Vec::<&str>::new());
    }

    #[test]
    fn a_refused_rule_is_listed_not_dropped() {
        let rules = Rules::load(
            "[[rules]]\nid = \"lookahead\"\nregex = '''a(?=b)'''\nkeywords = [\"a\"]\n\n[[rules]]\nid = \"ok\"\nregex = '''tok_[a-z]{8}'''\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules.refused()[0].0, "lookahead");
        assert!(
            rules.refused()[0].1.contains("look-around"),
            "{:?}",
            rules.refused()
        );
    }

    #[test]
    fn go_braces_become_literals() {
        assert_eq!(translate_go(r"^\$\{\d{0,2}}$"), r"^\$\{\d{0,2}\}$");
        assert_eq!(translate_go(r"^\${(?:[A-Z_]+)}$"), r"^\$\{(?:[A-Z_]+)\}$");
        assert_eq!(translate_go(r"[{}]a{2,}b{3}"), r"[{}]a{2,}b{3}");
        assert_eq!(translate_go(r"x{{y}}"), r"x\{\{y\}\}");
        assert_eq!(translate_go(r"[[:alnum:]]{14}"), r"[[:alnum:]]{14}");
    }

    #[test]
    fn entropy_matches_gitleaks() {
        // Values from gitleaks' detect/utils_test.go style: uniform strings.
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert_eq!(shannon_entropy(b""), 0.0);
    }

    #[test]
    fn keywords_entropy_and_allowlists() {
        let rules = Rules::gitleaks();
        // The documented AWS example key is allow-listed (`.+EXAMPLE$`).
        assert!(
            rules
                .scan(b"key = AKIAIOSFODNN7EXAMPLE\n", "a.txt")
                .is_empty()
        );
        let hits = rules.scan(b"id: AKIAZ4XQ3TJ7WCNRKH2L\n", "a.yaml");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].rule, "aws-access-token");
        assert_eq!(hits[0].redacted, "AKIA…");
        assert_eq!((hits[0].line, hits[0].offset), (1, 4));
        // Low entropy: not a secret.
        assert!(rules.scan(b"AKIAAAAAAAAAAAAAAAAA\n", "a").is_empty());
        // gitleaks:allow on the line.
        assert!(
            rules
                .scan(b"id: AKIAZ4XQ3TJ7WCNRKH2L # gitleaks:allow\n", "a")
                .is_empty()
        );
        // A global allow-listed path.
        assert!(rules.path_allowed("node_modules/x/index.js"));
        assert!(!rules.path_allowed("config.json"));
        assert_eq!(rules.path_hits("certs/client.p12"), ["pkcs12-file"]);
    }
}
