//! `freshness`: a dependency whose pinned release is older than the limit.
//! The release time is what a document states (uv.lock / pylock.toml
//! `upload-time`) or what the policy's release-date index says; a package
//! neither knows is `unknown`, a bucket the policy decides, never a pass.

use std::collections::BTreeMap;

use super::{Context, count, verdict, violation};
use crate::{Enforcement, Freshness, RuleVerdict};

pub(super) fn check(ctx: &Context, rule: &Freshness) -> RuleVerdict {
    // One verdict per package of the deployment: any document that dates it
    // is enough (an SBOM beside a uv.lock need not repeat the date).
    let mut packages: BTreeMap<&str, (Option<i64>, &str)> = BTreeMap::new();
    for (doc, listed) in &ctx.documents {
        for l in listed {
            let package = &*l.package;
            // The document's own subject (the project being locked) is not a dependency.
            if package.version.is_none()
                || doc.subject_package == Some(package.id)
                || (!rule.ecosystems.is_empty() && !rule.ecosystems.contains(&package.ecosystem))
                || l.fact.model.is_some()
            {
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
    let limit = i64::from(rule.max_age_days) * 86_400;
    let mut violations = Vec::new();
    let (mut dated, mut unknown) = (0, 0);
    for (key, (stated, doc)) in &packages {
        let (released, from) = match (stated, rule.index.get(*key)) {
            (Some(t), _) => (*t, Some(*doc)),
            (None, Some(t)) => (*t, None),
            (None, None) => {
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
        };
        dated += 1;
        let age = ctx.at - released;
        if age > limit {
            violations.push(violation(
                Enforcement::Deny,
                *key,
                format!(
                    "released {} ({} days before {}), over the limit of {} days{}",
                    &crate::time::format(released)[..10],
                    age / 86_400,
                    &crate::time::format(ctx.at)[..10],
                    rule.max_age_days,
                    if from.is_none() {
                        "; date from the release-date index"
                    } else {
                        ""
                    }
                ),
                from.or(Some(doc)),
                Some(key),
            ));
        }
    }
    let summary = format!(
        "{} checked: {} dated, {} with no known release time; limit {} days",
        count(packages.len(), "package"),
        dated,
        unknown,
        rule.max_age_days
    );
    verdict("freshness", rule.level, summary, violations)
}
