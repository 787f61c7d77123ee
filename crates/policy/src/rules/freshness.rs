//! `freshness`: a dependency whose pinned release is older than the limit.
//! The release time is what a document states (uv.lock / pylock.toml
//! `upload-time`) or what the policy's release-date index says; a package
//! neither knows is `unknown`, a bucket the policy decides, never a pass.

use std::collections::BTreeMap;

use super::{Context, count, verdict, violation};
use crate::catalog::Listed;
use crate::estate::Tally;
use crate::{Enforcement, Freshness, RuleVerdict};

/// Whether the rule dates this row's package: a versioned dependency of a
/// checked ecosystem, not a model. The document's own subject (the project
/// being locked) is not a dependency.
fn checked(rule: &Freshness, doc: &aibomdb_store::DocumentRecord, l: &Listed) -> bool {
    doc.subject_package != Some(l.package.id) && checked_apart_from_subject(rule, l)
}

fn checked_apart_from_subject(rule: &Freshness, l: &Listed) -> bool {
    let package = l.package;
    package.version.is_some()
        && (rule.ecosystems.is_empty() || rule.ecosystems.contains(&package.ecosystem))
        && l.fact.model.is_none()
}

/// Where a package's release time was found, if anywhere, and whether the
/// limit is over: the verdict [`check`] reports.
enum Dated {
    Unknown,
    Within,
    Over { released: i64, from_index: bool },
}

fn dated(rule: &Freshness, key: &str, stated: Option<i64>, at: i64) -> Dated {
    let (released, from_index) = match (stated, rule.index.get(key)) {
        (Some(t), _) => (t, false),
        (None, Some(t)) => (*t, true),
        (None, None) => return Dated::Unknown,
    };
    if at - released > i64::from(rule.max_age_days) * 86_400 {
        Dated::Over {
            released,
            from_index,
        }
    } else {
        Dated::Within
    }
}

pub(super) fn check(ctx: &Context, rule: &Freshness) -> RuleVerdict {
    // One verdict per package of the deployment: any document that dates it
    // is enough (an SBOM beside a uv.lock need not repeat the date).
    let mut packages: BTreeMap<&str, (Option<i64>, &str)> = BTreeMap::new();
    for (doc, listed) in &ctx.documents {
        for l in listed {
            let package = l.package;
            if !checked(rule, doc, l) {
                continue;
            }
            let stated = l
                .fact
                .released
                .as_deref()
                .and_then(crate::time::parse)
                .map(|t| (t, doc.source_path.as_str()));
            let entry = packages
                .entry(package.key.as_str())
                .or_insert((None, doc.source_path.as_str()));
            if entry.0.is_none()
                && let Some((t, path)) = stated
            {
                *entry = (Some(t), path);
            }
        }
    }
    let mut violations = Vec::new();
    let (mut dated_n, mut unknown) = (0, 0);
    for (key, (stated, doc)) in &packages {
        let (released, from_index) = match dated(rule, key, *stated, ctx.at) {
            Dated::Unknown => {
                unknown += 1;
                violations.push(violation(
                    rule.unknown,
                    *key,
                    format!(
                        "release time unknown: no document states it{}",
                        if rule.index_source.is_some() {
                            " and the release-date index does not list it"
                        } else {
                            " (a release-date index can: [freshness] release_dates)"
                        }
                    ),
                    Some(doc),
                    Some(key),
                ));
                continue;
            }
            Dated::Within => {
                dated_n += 1;
                continue;
            }
            Dated::Over {
                released,
                from_index,
            } => (released, from_index),
        };
        dated_n += 1;
        let age = ctx.at - released;
        violations.push(violation(
            Enforcement::Deny,
            *key,
            format!(
                "released {} ({} days before {}), over the limit of {} days{}",
                &crate::time::format(released)[..10],
                age / 86_400,
                &crate::time::format(ctx.at)[..10],
                rule.max_age_days,
                if from_index {
                    "; date from the release-date index"
                } else {
                    ""
                }
            ),
            Some(doc),
            Some(key),
        ));
    }
    let summary = format!(
        "{} checked: {} dated, {} with no known release time; limit {} days",
        count(packages.len(), "package"),
        dated_n,
        unknown,
        rule.max_age_days
    );
    verdict("freshness", rule.level, summary, violations)
}

/// Release times stated by facts, parsed once per fact for an evaluation.
/// What the tally judged of an occurrence slot, for one evaluation.
#[derive(Clone, Copy)]
pub(crate) struct SlotJudged {
    /// Whether the rule checks it at all (apart from being its document's
    /// subject, which depends on the document).
    checked: bool,
    /// The release time its fact states.
    stated: Option<i64>,
    /// The verdict when no other row of the deployment lists its package.
    alone: Level,
}

/// The level a verdict counts at; `None`: within the limit.
type Level = Option<Enforcement>;

pub(crate) type Released = crate::catalog::BySlot<SlotJudged>;

fn level(rule: &Freshness, dated: Dated) -> Level {
    match dated {
        Dated::Unknown => Some(rule.unknown),
        Dated::Within => None,
        Dated::Over { .. } => Some(Enforcement::Deny),
    }
}

/// The verdict of [`check`] as counts: each package once, dated by the
/// first document (in the deployment's order) that states its release.
pub(crate) fn tally(ctx: &Context, rule: &Freshness, released: &mut Released) -> Tally {
    // (package, the row's order, what was judged of it, the package's key).
    let mut rows: Vec<(aibomdb_store::PackageId, usize, SlotJudged, &str)> = Vec::new();
    for (doc, listed) in &ctx.documents {
        for l in listed {
            let judged = *released.get_or(l.slot, || {
                let stated = l.fact.released.as_deref().and_then(crate::time::parse);
                SlotJudged {
                    checked: checked_apart_from_subject(rule, l),
                    stated,
                    alone: level(rule, dated(rule, &l.package.key, stated, ctx.at)),
                }
            });
            if !judged.checked || doc.subject_package == Some(l.package.id) {
                continue;
            }
            rows.push((l.package.id, rows.len(), judged, &l.package.key));
        }
    }
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    let mut t = Tally::default();
    for group in rows.chunk_by(|a, b| a.0 == b.0) {
        let found = match group {
            [(_, _, judged, _)] => judged.alone,
            _ => {
                let stated = group.iter().find_map(|r| r.2.stated);
                level(rule, dated(rule, group[0].3, stated, ctx.at))
            }
        };
        if let Some(found) = found {
            t.add(found, rule.level);
        }
    }
    t
}
