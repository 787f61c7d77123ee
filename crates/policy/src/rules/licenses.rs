//! `licenses`: every package's declared licence against allow and deny lists
//! of SPDX ids (each list entry may be an expression; its ids count).

use std::collections::BTreeSet;

use spdx::{Expression, LicenseReq, ParseMode};

use super::{Context, count, verdict, violation};
use crate::{Enforcement, Licenses, RuleVerdict};

/// The lower-cased licence name of one requirement (`mit`, `apache-2.0`,
/// `licenseref-foo`), without `+` or exceptions.
fn name(req: &LicenseReq) -> String {
    let n = match req.license.id() {
        Some(id) => id.name.to_ascii_lowercase(),
        None => req.license.to_string().to_ascii_lowercase(),
    };
    // The deprecated GNU ids (`GPL-3.0`, `AGPL-3.0`) mean `-only`: one name.
    n.strip_suffix("-only").map(str::to_string).unwrap_or(n)
}

fn ids(list: &[String]) -> BTreeSet<String> {
    list.iter()
        .filter_map(|e| Expression::parse_mode(e, ParseMode::LAX).ok())
        .flat_map(|e| e.requirements().map(|r| name(&r.req)).collect::<Vec<_>>())
        .collect()
}

pub(super) fn check(ctx: &Context, rule: &Licenses) -> RuleVerdict {
    let allow = ids(&rule.allow);
    let deny = ids(&rule.deny);
    let mut violations = Vec::new();
    let mut checked = 0;
    for (doc, packages) in &ctx.documents {
        let path = Some(doc.source_path.as_str());
        for l in packages {
            let package = &*l.package;
            checked += 1;
            let licences = &l.fact.licenses;
            if licences.is_empty() {
                violations.push(violation(
                    rule.unknown,
                    &package.key,
                    "no licence stated by the document",
                    path,
                    Some(&package.key),
                ));
                continue;
            }
            for text in licences {
                let Ok(expr) = Expression::parse_mode(text, ParseMode::LAX) else {
                    let lower = text.trim().to_ascii_lowercase();
                    let lower = lower.strip_suffix("-only").unwrap_or(&lower).to_string();
                    if deny.contains(&lower) {
                        violations.push(violation(
                            Enforcement::Deny,
                            &package.key,
                            format!("licence {text:?} is denied"),
                            path,
                            Some(&package.key),
                        ));
                    } else if !allow.contains(&lower) && (!allow.is_empty() || !deny.is_empty()) {
                        violations.push(violation(
                            rule.unknown,
                            &package.key,
                            format!("licence {text:?} is not an SPDX expression, so it cannot be checked against the lists"),
                            path,
                            Some(&package.key),
                        ));
                    }
                    continue;
                };
                let denied: Vec<String> = expr
                    .requirements()
                    .map(|r| name(&r.req))
                    .filter(|n| deny.contains(n))
                    .collect();
                // A choice (`MIT OR GPL-3.0`) passes when some allowed
                // branch avoids every denied licence.
                let acceptable = expr.evaluate(|r| {
                    let n = name(r);
                    !deny.contains(&n) && (allow.is_empty() || allow.contains(&n))
                });
                if !acceptable {
                    violations.push(violation(
                        Enforcement::Deny,
                        &package.key,
                        if denied.is_empty() {
                            format!("licence {text:?} is not allowed")
                        } else {
                            format!("licence {text:?} includes denied {}", denied.join(", "))
                        },
                        path,
                        Some(&package.key),
                    ));
                }
            }
        }
    }
    let summary = format!("checked {}", count(checked, "package occurrence"));
    verdict("licenses", rule.level, summary, violations)
}
