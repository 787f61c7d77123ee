//! `vulnerabilities`: open advisory matches at or above a severity, VEX
//! `not_affected`/`fixed` honoured, waivers with a reason and an expiry.

use aibomdb_osv::{Level, MatchRow};

use super::{Context, verdict, violation};
use crate::{Enforcement, PolicyError, RuleVerdict, Vulnerabilities, Waived, Waiver};

fn waiver_covers(w: &Waiver, row: &MatchRow, deployment: &str) -> bool {
    let id = |s: &str| s.eq_ignore_ascii_case(&w.advisory);
    (id(&row.advisory) || row.aliases.iter().any(|a| id(a)))
        && w.deployment.as_deref().is_none_or(|d| d == deployment)
        && w.package.as_deref().is_none_or(|p| {
            // Both in key form: a versionless waiver covers every version.
            row.package == p
                || aibomdb_graph::PackageKey::from_stored(row.package.clone()).unversioned() == p
        })
}

pub(super) fn check(ctx: &Context, rule: &Vulnerabilities) -> Result<RuleVerdict, PolicyError> {
    let rows = ctx.matches()?;
    let (mut suppressed, mut below, mut no_fix) = (0, 0, 0);
    let mut violations = Vec::new();
    let mut waived = Vec::new();
    for row in rows {
        if !row.is_open() {
            suppressed += 1;
            continue;
        }
        // Exploited (KEV) or likely to be (EPSS at or over the threshold):
        // the policy's level for it, whatever the severity says.
        let likely = rule
            .epss_at_least
            .zip(row.epss)
            .filter(|(at_least, e)| e.epss >= *at_least)
            .map(|_| Enforcement::Deny);
        let exploited = match (row.kev.as_ref().and(rule.kev), likely) {
            (Some(a), Some(b)) => Some(((), a.max(b))),
            (Some(a), None) | (None, Some(a)) => Some(((), a)),
            (None, None) => None,
        };
        if rule.only_with_fix && row.fixed.is_empty() && exploited.is_none() {
            no_fix += 1;
            continue;
        }
        let unknown = row.severity == Level::Unknown || row.status != "affected";
        let level = if let Some((_, level)) = exploited {
            // Exploited in the wild: the policy's `kev` level, whatever the
            // severity says (a worse of the two when both apply).
            let by_severity = if unknown {
                rule.unknown
            } else if row.severity >= rule.severity {
                Enforcement::Deny
            } else {
                Enforcement::Allow
            };
            level.max(by_severity)
        } else if unknown {
            rule.unknown
        } else if row.severity >= rule.severity {
            Enforcement::Deny
        } else {
            below += 1;
            continue;
        };
        let subject = format!("{} in {}", row.advisory, row.package);
        let mut expired = None;
        let covering: Vec<&Waiver> = rule
            .waivers
            .iter()
            .filter(|w| waiver_covers(w, row, ctx.deployment))
            .collect();
        // A renewed waiver holds even when an older one for the same advisory
        // has expired; the expired one is named only when none holds.
        let holding = covering.iter().find(|w| ctx.at < w.expires_at);
        if let Some(w) = holding.or(covering.first()) {
            if ctx.at < w.expires_at {
                waived.push(Waived {
                    subject,
                    advisory: row.advisory.clone(),
                    reason: w.reason.clone(),
                    expires: w.expires.clone(),
                    line: w.line,
                });
                continue;
            }
            expired = Some(w);
        }
        let severity = match (row.status.as_str(), row.severity, row.score) {
            ("affected", Level::Unknown, _) => {
                "severity unknown: the record carries no CVSS vector or severity label".to_string()
            }
            ("affected", l, Some(s)) => {
                format!("{} (CVSS {s:.1})", format!("{l:?}").to_lowercase())
            }
            ("affected", l, None) => format!("{l:?}").to_lowercase(),
            (status, _, _) => {
                format!("{status}: the version could not be evaluated against the record")
            }
        };
        let mut message = format!(
            "{}{}; {}",
            severity,
            row.summary
                .as_deref()
                .map(|s| format!(": {s}"))
                .unwrap_or_default(),
            if row.fixed.is_empty() {
                "no fixed version".to_string()
            } else {
                format!("fixed in {}", row.fixed.join(", "))
            }
        );
        if let Some(k) = &row.kev {
            message.push_str(&format!(
                "; exploited in the wild: {} is in CISA KEV since {}",
                k.cve, k.date_added
            ));
        }
        if let Some(e) = &row.epss {
            message.push_str(&format!("; EPSS {} (percentile {})", e.epss, e.percentile));
        }
        if let Some(w) = expired {
            message.push_str(&format!(
                "; the waiver at line {} expired on {}",
                w.line, w.expires
            ));
        }
        violations.push(violation(
            level,
            subject,
            message,
            row.document_paths.first().map(String::as_str),
            Some(&row.package),
        ));
    }
    let threshold = format!("{:?}", rule.severity).to_lowercase();
    let plural = if rows.len() == 1 { "" } else { "es" };
    let fix_note = if rule.only_with_fix {
        format!(", {no_fix} without a fix not counted")
    } else {
        String::new()
    };
    let summary = format!(
        "{} advisory match{plural}; {suppressed} suppressed by VEX, {below} below {threshold}, {} waived{fix_note}",
        rows.len(),
        waived.len(),
    );
    let mut v = verdict("vulnerabilities", rule.level, summary, violations);
    v.waived = waived;
    Ok(v)
}
