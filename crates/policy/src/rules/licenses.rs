//! `licenses`: every package's declared licence against allow and deny lists
//! of SPDX ids (each list entry may be an expression; its ids count).

use std::collections::BTreeSet;

use spdx::{Expression, LicenseReq, ParseMode};

use super::{Context, count, verdict, violation};
use crate::estate::Tally;
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

/// What the lists say of one stated licence, when it offends.
enum Finding {
    /// Not an SPDX expression, and its text is denied.
    DeniedText,
    /// Not an SPDX expression, so it cannot be checked (the rule's
    /// `unknown` level).
    NotSpdx,
    /// An expression with no acceptable choice: the denied ids it names.
    Refused(Vec<String>),
}

impl Finding {
    fn level(&self, rule: &Licenses) -> Enforcement {
        match self {
            Finding::NotSpdx => rule.unknown,
            Finding::DeniedText | Finding::Refused(_) => Enforcement::Deny,
        }
    }
}

/// The allow and deny lists as licence names, read once per evaluation.
struct Lists {
    allow: BTreeSet<String>,
    deny: BTreeSet<String>,
}

impl Lists {
    fn of(rule: &Licenses) -> Self {
        Lists {
            allow: ids(&rule.allow),
            deny: ids(&rule.deny),
        }
    }

    fn judge(&self, text: &str) -> Option<Finding> {
        let (allow, deny) = (&self.allow, &self.deny);
        let Ok(expr) = Expression::parse_mode(text, ParseMode::LAX) else {
            let lower = text.trim().to_ascii_lowercase();
            let lower = lower.strip_suffix("-only").unwrap_or(&lower).to_string();
            if deny.contains(&lower) {
                return Some(Finding::DeniedText);
            }
            return (!allow.contains(&lower) && (!allow.is_empty() || !deny.is_empty()))
                .then_some(Finding::NotSpdx);
        };
        // A choice (`MIT OR GPL-3.0`) passes when some allowed branch
        // avoids every denied licence.
        let acceptable = expr.evaluate(|r| {
            let n = name(r);
            !deny.contains(&n) && (allow.is_empty() || allow.contains(&n))
        });
        (!acceptable).then(|| {
            Finding::Refused(
                expr.requirements()
                    .map(|r| name(&r.req))
                    .filter(|n| deny.contains(n))
                    .collect(),
            )
        })
    }
}

pub(super) fn check(ctx: &Context, rule: &Licenses) -> RuleVerdict {
    let lists = Lists::of(rule);
    let mut violations = Vec::new();
    let mut checked = 0;
    for (doc, packages) in &ctx.documents {
        let path = Some(doc.source_path.as_str());
        for l in packages {
            let package = l.package;
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
                let Some(finding) = lists.judge(text) else {
                    continue;
                };
                let level = finding.level(rule);
                let message = match finding {
                    Finding::DeniedText => format!("licence {text:?} is denied"),
                    Finding::NotSpdx => format!(
                        "licence {text:?} is not an SPDX expression, so it cannot be checked against the lists"
                    ),
                    Finding::Refused(denied) if denied.is_empty() => {
                        format!("licence {text:?} is not allowed")
                    }
                    Finding::Refused(denied) => {
                        format!("licence {text:?} includes denied {}", denied.join(", "))
                    }
                };
                violations.push(violation(
                    level,
                    &package.key,
                    message,
                    path,
                    Some(&package.key),
                ));
            }
        }
    }
    let summary = format!("checked {}", count(checked, "package occurrence"));
    verdict("licenses", rule.level, summary, violations)
}

/// Each fact's findings, as the levels they are found at: the judgement
/// depends on the fact's licences alone.
pub(crate) type Judged = crate::catalog::BySlot<Vec<Enforcement>>;

/// The verdict of [`check`] as counts, each fact judged once.
pub(crate) fn tally(ctx: &Context, rule: &Licenses, judged: &mut Judged) -> Tally {
    let mut lists: Option<Lists> = None;
    let mut t = Tally::default();
    for (_, packages) in &ctx.documents {
        for l in packages {
            let levels = judged.get_or(l.slot, || {
                if l.fact.licenses.is_empty() {
                    return vec![rule.unknown];
                }
                let lists = lists.get_or_insert_with(|| Lists::of(rule));
                l.fact
                    .licenses
                    .iter()
                    .filter_map(|text| lists.judge(text))
                    .map(|f| f.level(rule))
                    .collect()
            });
            for level in levels.iter() {
                t.add(*level, rule.level);
            }
        }
    }
    t
}
