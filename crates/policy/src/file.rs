//! The policy file: TOML, `version = 1`, one table per built-in rule.
//! Everything is checked before anything is evaluated, and every error names
//! the file, the line and the rule it is in.

use std::ops::Range;
use std::path::Path;

use aibomdb_osv::Level as Severity;
use serde::Deserialize;
use toml::Spanned;

use crate::PolicyError;

/// Whether a failing rule stops the release or only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    Allow,
    Warn,
    Deny,
}

impl Enforcement {
    fn parse(s: &str) -> Option<Enforcement> {
        Some(match s {
            "deny" => Enforcement::Deny,
            "warn" => Enforcement::Warn,
            "allow" => Enforcement::Allow,
            _ => return None,
        })
    }

    /// The milder of the two: a rule at `warn` never denies.
    pub fn at_most(self, cap: Enforcement) -> Enforcement {
        self.min(cap)
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    /// Where it came from (file path, or the name it was stored under).
    pub source: String,
    pub name: Option<String>,
    pub vulnerabilities: Option<Vulnerabilities>,
    pub pinning: Option<Pinning>,
    pub freshness: Option<Freshness>,
    pub models: Option<Models>,
    pub licenses: Option<Licenses>,
    pub evidence: Option<Evidence>,
    pub drift: Option<Drift>,
    pub secrets: Option<Secrets>,
    pub custom: Vec<Custom>,
}

#[derive(Debug, Clone)]
pub struct Vulnerabilities {
    pub level: Enforcement,
    /// Open matches at or above this severity fail.
    pub severity: Severity,
    /// What a match whose severity nobody stated (or whose version could not
    /// be ordered) counts as.
    pub unknown: Enforcement,
    /// Only matches with a fixed version count.
    pub only_with_fix: bool,
    /// What an open match whose advisory is in CISA's KEV catalog counts
    /// as, whatever its severity (`None`: by severity like the others).
    pub kev: Option<Enforcement>,
    /// An open match whose advisory's EPSS score is at least this (0–1)
    /// fails, whatever its severity (`None`: EPSS is not looked at).
    pub epss_at_least: Option<f64>,
    pub waivers: Vec<Waiver>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Waiver {
    /// Any id or alias of the advisory.
    pub advisory: String,
    /// A purl (with or without version) the waiver is limited to.
    pub package: Option<String>,
    pub deployment: Option<String>,
    pub reason: String,
    /// Unix seconds; the waiver holds before this instant.
    #[serde(skip)]
    pub expires_at: i64,
    pub expires: String,
    /// Line in the policy file, for reports.
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Pinning {
    pub level: Enforcement,
    /// Hub models (and the bases they name) by a 40-hex commit revision.
    pub models: bool,
    /// Container images by digest.
    pub images: bool,
    /// PyPI packages at one exact version with hashes.
    pub python: bool,
}

#[derive(Debug, Clone)]
pub struct Models {
    pub level: Enforcement,
    pub require_signature: bool,
    pub require_approval: bool,
    pub no_dangerous_pickle: bool,
    pub no_hash_mismatch: bool,
    pub require_known_base: bool,
    /// Lower-cased SPDX ids (or Hub licence names) allowed for models; empty: any.
    pub allowed_licenses: Vec<String>,
    pub allowed_dataset_licenses: Vec<String>,
    /// Hub organisations a base model may come from; empty: any.
    pub allowed_base_orgs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Freshness {
    pub level: Enforcement,
    pub max_age_days: u32,
    /// A package whose release time no document and no index states.
    pub unknown: Enforcement,
    /// Purl types checked (`pypi`, `npm`, …); empty: all.
    pub ecosystems: Vec<String>,
    /// Release times from the optional index file: package key → Unix seconds.
    pub index: std::collections::HashMap<String, i64>,
    pub index_source: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Licenses {
    pub level: Enforcement,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    /// A package whose licence no document states.
    pub unknown: Enforcement,
}

/// What a custom rule's expression is evaluated for, once each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    Deployment,
    Document,
    Package,
    Advisory,
    Model,
    Artifact,
}

impl Subject {
    fn parse(s: &str) -> Option<Subject> {
        Some(match s {
            "deployment" => Subject::Deployment,
            "document" => Subject::Document,
            "package" => Subject::Package,
            "advisory" => Subject::Advisory,
            "model" => Subject::Model,
            "artifact" => Subject::Artifact,
            _ => return None,
        })
    }

    /// The variables an expression for this subject may name (`package` is
    /// reserved in CEL, so a package is `pkg`).
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Subject::Deployment => &["deployment"],
            Subject::Document => &["deployment", "document"],
            Subject::Package => &["deployment", "document", "pkg"],
            Subject::Advisory => &["deployment", "pkg", "advisory"],
            Subject::Model => &["deployment", "model"],
            Subject::Artifact => &["deployment", "model", "artifact"],
        }
    }
}

/// A rule the built-ins miss: a CEL expression over the fact model
/// (docs/ARCHITECTURE.md, "Policy gate"), true for each offending subject.
#[derive(Debug, Clone)]
pub struct Custom {
    pub name: String,
    pub level: Enforcement,
    pub subject: Subject,
    pub expression: String,
    pub program: std::sync::Arc<cel::Program>,
    pub message: String,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Drift {
    pub level: Enforcement,
    /// A deployment with no release or no observation yet fails too
    /// (otherwise it passes, with the reason in the summary).
    pub require_observation: bool,
}

/// `[secrets]`: no credential (a gitleaks rule's finding) in any file of
/// the deployment's models.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub level: Enforcement,
}

#[derive(Debug, Clone)]
pub struct Evidence {
    pub level: Enforcement,
    /// Who the exported SBOM names as its creator (TR-03183-2 field 1): the
    /// same values `aibomdb export` takes as flags.
    pub creator_email: Option<String>,
    pub creator_url: Option<String>,
    pub author: Option<String>,
}

// The wire form: unknown fields are errors, so a typo never turns a rule off.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyWire {
    version: Spanned<i64>,
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    vulnerabilities: Option<VulnerabilitiesWire>,
    pinning: Option<PinningWire>,
    freshness: Option<FreshnessWire>,
    models: Option<ModelsWire>,
    licenses: Option<LicensesWire>,
    evidence: Option<EvidenceWire>,
    drift: Option<DriftWire>,
    secrets: Option<SecretsWire>,
    #[serde(default)]
    custom: Vec<Spanned<CustomWire>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsWire {
    level: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DriftWire {
    level: Option<Spanned<String>>,
    #[serde(default)]
    require_observation: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomWire {
    name: String,
    level: Option<Spanned<String>>,
    #[serde(rename = "for")]
    subject: Spanned<String>,
    deny_if: Spanned<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VulnerabilitiesWire {
    level: Option<Spanned<String>>,
    severity: Option<Spanned<String>>,
    unknown: Option<Spanned<String>>,
    #[serde(default)]
    only_with_fix: bool,
    kev: Option<Spanned<String>>,
    epss_at_least: Option<Spanned<f64>>,
    #[serde(default)]
    waivers: Vec<Spanned<WaiverWire>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverWire {
    advisory: String,
    package: Option<String>,
    deployment: Option<String>,
    reason: String,
    expires: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PinningWire {
    level: Option<Spanned<String>>,
    models: Option<bool>,
    images: Option<bool>,
    python: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FreshnessWire {
    level: Option<Spanned<String>>,
    max_age_days: Option<u32>,
    unknown: Option<Spanned<String>>,
    #[serde(default)]
    ecosystems: Vec<String>,
    /// `purl,date` lines (a header line and `#` comments allowed), relative
    /// to the policy file.
    release_dates: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelsWire {
    level: Option<Spanned<String>>,
    require_signature: Option<bool>,
    require_approval: Option<bool>,
    no_dangerous_pickle: Option<bool>,
    no_hash_mismatch: Option<bool>,
    require_known_base: Option<bool>,
    #[serde(default)]
    allowed_licenses: Vec<String>,
    #[serde(default)]
    allowed_dataset_licenses: Vec<String>,
    #[serde(default)]
    allowed_base_orgs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LicensesWire {
    level: Option<Spanned<String>>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
    unknown: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceWire {
    level: Option<Spanned<String>>,
    creator_email: Option<String>,
    creator_url: Option<String>,
    author: Option<String>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The rule (top-level table) that the byte at `offset` belongs to, from the
/// nearest table header above it.
fn rule_at(text: &str, offset: usize) -> Option<String> {
    text[..offset.min(text.len())]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| {
            l.trim_matches(|c| c == '[' || c == ']')
                .split('.')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
}

struct Checker<'a> {
    source: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            file: self.source.to_string(),
            line: line_of(self.text, span.start),
            rule: rule_at(self.text, span.start),
            message: message.into(),
        }
    }

    fn level(
        &self,
        value: Option<&Spanned<String>>,
        default: Enforcement,
        what: &str,
    ) -> Result<Enforcement, PolicyError> {
        let Some(v) = value else { return Ok(default) };
        Enforcement::parse(v.get_ref()).ok_or_else(|| {
            self.error(
                v.span(),
                format!(
                    "{what} must be \"deny\", \"warn\" or \"allow\", not {:?}",
                    v.get_ref()
                ),
            )
        })
    }
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        Policy::parse_in(&path.display().to_string(), &text, path.parent())
    }

    /// A policy stored in the store by name.
    pub fn from_stored(stored: &aibomdb_store::StoredPolicy) -> Result<Policy, PolicyError> {
        let mut p = Policy::parse(&format!("stored policy {}", stored.name), &stored.text)?;
        p.name.get_or_insert_with(|| stored.name.clone());
        Ok(p)
    }

    /// Parses and checks a whole policy; `source` names it in errors. Files
    /// it names cannot be read without a directory: see [`Policy::load`].
    pub fn parse(source: &str, text: &str) -> Result<Policy, PolicyError> {
        Policy::parse_in(source, text, None)
    }

    fn parse_in(source: &str, text: &str, dir: Option<&Path>) -> Result<Policy, PolicyError> {
        let c = Checker { source, text };
        let wire: PolicyWire = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            c.error(span, e.message().trim().to_string())
        })?;
        if *wire.version.get_ref() != 1 {
            return Err(c.error(
                wire.version.span(),
                format!(
                    "policy version {} is not supported (this aibomdb reads version 1)",
                    wire.version.get_ref()
                ),
            ));
        }
        let vulnerabilities = match wire.vulnerabilities {
            None => None,
            Some(v) => {
                let severity = match &v.severity {
                    None => Severity::High,
                    Some(s) => match Severity::parse(s.get_ref()) {
                        Some(l) => l,
                        None => {
                            return Err(c.error(
                                s.span(),
                                format!(
                                    "severity must be one of none, low, medium, high, critical, not {:?}",
                                    s.get_ref()
                                ),
                            ));
                        }
                    },
                };
                let mut waivers = Vec::new();
                for w in v.waivers {
                    let span = w.span();
                    let w = w.into_inner();
                    let Some(expires_at) = crate::time::parse(w.expires.get_ref()) else {
                        return Err(c.error(
                            w.expires.span(),
                            format!(
                                "expires must be a date (2027-01-31) or an RFC 3339 time, not {:?}",
                                w.expires.get_ref()
                            ),
                        ));
                    };
                    if w.reason.trim().is_empty() {
                        return Err(c.error(span, "a waiver needs a reason"));
                    }
                    // Compared with the store's keys, so normalised the same way.
                    let package = match &w.package {
                        None => None,
                        Some(p) => Some(
                            aibomdb_graph::PackageKey::parse(p)
                                .map_err(|e| {
                                    c.error(
                                        span.clone(),
                                        format!("waiver package {p:?} is not a purl: {e}"),
                                    )
                                })?
                                .as_str()
                                .to_string(),
                        ),
                    };
                    waivers.push(Waiver {
                        advisory: w.advisory,
                        package,
                        deployment: w.deployment,
                        reason: w.reason,
                        expires: w.expires.into_inner(),
                        expires_at,
                        line: line_of(text, span.start),
                    });
                }
                Some(Vulnerabilities {
                    level: c.level(v.level.as_ref(), Enforcement::Deny, "level")?,
                    severity,
                    unknown: c.level(v.unknown.as_ref(), Enforcement::Deny, "unknown")?,
                    only_with_fix: v.only_with_fix,
                    kev: match &v.kev {
                        None => None,
                        Some(k) => Some(c.level(Some(k), Enforcement::Deny, "kev")?),
                    },
                    epss_at_least: match &v.epss_at_least {
                        None => None,
                        Some(e) if (0.0..=1.0).contains(e.get_ref()) => Some(*e.get_ref()),
                        Some(e) => {
                            return Err(c.error(
                                e.span(),
                                format!(
                                    "epss_at_least is a probability from 0 to 1, not {}",
                                    e.get_ref()
                                ),
                            ));
                        }
                    },
                    waivers,
                })
            }
        };
        let pinning = match wire.pinning {
            None => None,
            Some(p) => Some(Pinning {
                level: c.level(p.level.as_ref(), Enforcement::Deny, "level")?,
                models: p.models.unwrap_or(true),
                images: p.images.unwrap_or(true),
                python: p.python.unwrap_or(true),
            }),
        };
        let freshness = match wire.freshness {
            None => None,
            Some(f) => {
                let (index, index_source) = match &f.release_dates {
                    None => (Default::default(), None),
                    Some(name) => {
                        let Some(dir) = dir else {
                            return Err(c.error(
                                name.span(),
                                "release_dates names a file, which a policy given inline cannot",
                            ));
                        };
                        let path = dir.join(name.get_ref());
                        let index = read_release_dates(&path)?;
                        (index, Some(path.display().to_string()))
                    }
                };
                Some(Freshness {
                    level: c.level(f.level.as_ref(), Enforcement::Warn, "level")?,
                    max_age_days: f.max_age_days.unwrap_or(365),
                    unknown: c.level(f.unknown.as_ref(), Enforcement::Warn, "unknown")?,
                    ecosystems: f
                        .ecosystems
                        .into_iter()
                        .map(|e| e.to_ascii_lowercase())
                        .collect(),
                    index,
                    index_source,
                })
            }
        };
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_ascii_lowercase()).collect();
        let models = match wire.models {
            None => None,
            Some(m) => Some(Models {
                level: c.level(m.level.as_ref(), Enforcement::Deny, "level")?,
                require_signature: m.require_signature.unwrap_or(true),
                require_approval: m.require_approval.unwrap_or(true),
                no_dangerous_pickle: m.no_dangerous_pickle.unwrap_or(true),
                no_hash_mismatch: m.no_hash_mismatch.unwrap_or(true),
                require_known_base: m.require_known_base.unwrap_or(true),
                allowed_licenses: lower(m.allowed_licenses),
                allowed_dataset_licenses: lower(m.allowed_dataset_licenses),
                allowed_base_orgs: lower(m.allowed_base_orgs),
            }),
        };
        let licenses = match wire.licenses {
            None => None,
            Some(l) => {
                let ids = |list: Vec<Spanned<String>>| -> Result<Vec<String>, PolicyError> {
                    list.into_iter()
                        .map(|s| {
                            spdx::Expression::parse_mode(s.get_ref(), spdx::ParseMode::LAX)
                                .map_err(|e| {
                                    c.error(
                                        s.span(),
                                        format!(
                                            "{:?} is not an SPDX licence expression: {e}",
                                            s.get_ref()
                                        ),
                                    )
                                })?;
                            Ok(s.into_inner())
                        })
                        .collect()
                };
                let allow = ids(l.allow)?;
                let deny = ids(l.deny)?;
                Some(Licenses {
                    level: c.level(l.level.as_ref(), Enforcement::Deny, "level")?,
                    allow,
                    deny,
                    unknown: c.level(l.unknown.as_ref(), Enforcement::Warn, "unknown")?,
                })
            }
        };
        let evidence = match wire.evidence {
            None => None,
            Some(e) => Some(Evidence {
                level: c.level(e.level.as_ref(), Enforcement::Deny, "level")?,
                creator_email: e.creator_email,
                creator_url: e.creator_url,
                author: e.author,
            }),
        };
        let drift = match wire.drift {
            None => None,
            Some(d) => Some(Drift {
                level: c.level(d.level.as_ref(), Enforcement::Deny, "level")?,
                require_observation: d.require_observation,
            }),
        };
        let secrets = match wire.secrets {
            None => None,
            Some(r) => Some(Secrets {
                level: c.level(r.level.as_ref(), Enforcement::Deny, "level")?,
            }),
        };
        let mut custom = Vec::new();
        for rule in wire.custom {
            let line = line_of(text, rule.span().start);
            let rule = rule.into_inner();
            let subject = Subject::parse(rule.subject.get_ref()).ok_or_else(|| {
                c.error(
                    rule.subject.span(),
                    format!(
                        "`for` must be deployment, document, package, advisory, model or artifact, not {:?}",
                        rule.subject.get_ref()
                    ),
                )
            })?;
            let program = cel::Program::compile(rule.deny_if.get_ref()).map_err(|e| {
                c.error(
                    rule.deny_if.span(),
                    format!("custom rule {:?}: not a CEL expression: {e}", rule.name),
                )
            })?;
            // A misspelt variable would otherwise fail on every subject at run
            // time; say so now.
            let allowed = subject.variables();
            // cel's references count a macro's loop variable (`h` in
            // `pkg.hashes.exists(h, …)`) as a variable: those are not unknown.
            let bound = comprehension_variables(rule.deny_if.get_ref());
            if let Some(unknown) = program
                .references()
                .variables()
                .into_iter()
                .find(|v| !allowed.contains(v) && !bound.iter().any(|b| b == v))
            {
                return Err(c.error(
                    rule.deny_if.span(),
                    format!(
                        "custom rule {:?}: `{unknown}` is not a variable for `for = {:?}` (it has: {})",
                        rule.name,
                        rule.subject.get_ref(),
                        allowed.join(", ")
                    ),
                ));
            }
            custom.push(Custom {
                level: c.level(rule.level.as_ref(), Enforcement::Deny, "level")?,
                message: rule
                    .message
                    .unwrap_or_else(|| format!("matches custom rule {:?}", rule.name)),
                name: rule.name,
                subject,
                expression: rule.deny_if.into_inner(),
                program: std::sync::Arc::new(program),
                line,
            });
        }
        Ok(Policy {
            source: source.to_string(),
            custom,
            name: wire.name,
            vulnerabilities,
            pinning,
            freshness,
            models,
            licenses,
            evidence,
            drift,
            secrets,
        })
    }
}

/// A release-date index: `purl,date` per line (RFC 3339 or `YYYY-MM-DD`), an
/// optional `purl,...` header, blank lines and `#` comments.
fn read_release_dates(path: &Path) -> Result<std::collections::HashMap<String, i64>, PolicyError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let mut out = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line.starts_with("purl")) {
            continue;
        }
        let bad = |message: String| PolicyError::Invalid {
            file: file.clone(),
            line: i + 1,
            rule: Some("freshness".into()),
            message,
        };
        let (purl, date) = line
            .split_once(',')
            .ok_or_else(|| bad("expected `purl,date`".into()))?;
        let key = aibomdb_graph::PackageKey::parse(purl.trim())
            .map_err(|e| bad(format!("{purl:?} is not a purl: {e}")))?;
        let at = crate::time::parse(date.trim())
            .ok_or_else(|| bad(format!("{date:?} is not a date or RFC 3339 time")))?;
        out.insert(key.as_str().to_string(), at);
    }
    Ok(out)
}

/// The loop variables of CEL's macros (`exists`, `all`, `exists_one`, `map`,
/// `filter`): the identifier before the first comma of each call.
fn comprehension_variables(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["exists", "all", "exists_one", "map", "filter"] {
        let needle = format!(".{name}(");
        for (i, _) in expr.match_indices(&needle) {
            let rest = &expr[i + needle.len()..];
            if let Some((var, _)) = rest.split_once(',') {
                let var = var.trim();
                if !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.push(var.to_string());
                }
            }
        }
    }
    out
}
