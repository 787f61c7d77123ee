//! `evidence`: the BSI TR-03183-2 completeness report must pass, measured on
//! the CycloneDX 1.6 document the export would hand over: component by
//! component, each measured once per worker for every deployment that makes
//! it the same way (`export::cra_report_listed`); a model or dataset anew
//! for each deployment, against the deployment's lineage edges.

use super::{Context, verdict, violation};
use crate::estate::Tally;
use crate::{Evidence, PolicyError, RuleVerdict};

fn options(ctx: &Context, rule: &Evidence) -> aibomdb_export::Options {
    aibomdb_export::Options {
        timestamp: crate::time::format(ctx.at),
        creator_email: rule.creator_email.clone(),
        creator_url: rule.creator_url.clone(),
        author: rule.author.clone(),
    }
}

/// The deployment's documents as the export reads them.
fn listed<'c>(
    ctx: &'c Context,
) -> Vec<(
    &'c aibomdb_store::DocumentRecord,
    Vec<aibomdb_export::ListedFact<'c>>,
)> {
    ctx.documents
        .iter()
        .map(|(d, packages)| {
            let facts = packages
                .iter()
                .map(|l| aibomdb_export::ListedFact {
                    package: l.package,
                    fact: l.fact,
                    fact_id: l.fact_id,
                    slot: (l.slot != crate::catalog::NO_SLOT).then_some(l.slot),
                })
                .collect();
            (d, facts)
        })
        .collect()
}

/// The verdict of [`check`] as counts: one violation per required field
/// missing.
pub(crate) fn tally(
    ctx: &Context,
    rule: &Evidence,
    by_slot: &mut Vec<Option<u32>>,
) -> Result<Tally, PolicyError> {
    let missing = aibomdb_export::required_missing_listed(
        ctx.store,
        ctx.deployment,
        &listed(ctx),
        &options(ctx, rule),
        &mut ctx.shared.evidence.borrow_mut(),
        by_slot,
    )
    .map_err(export_error)?;
    let mut t = Tally::default();
    for _ in 0..missing {
        t.add(crate::Enforcement::Deny, rule.level);
    }
    Ok(t)
}

fn export_error(e: aibomdb_export::ExportError) -> PolicyError {
    match e {
        aibomdb_export::ExportError::Store(s) => PolicyError::Store(s),
        other => PolicyError::Query(other.to_string()),
    }
}

pub(super) fn check(ctx: &Context, rule: &Evidence) -> Result<RuleVerdict, PolicyError> {
    let opts = options(ctx, rule);
    let listed = listed(ctx);
    let report = aibomdb_export::cra_report_listed(
        ctx.store,
        ctx.deployment,
        &listed,
        &opts,
        // A violation names the first five.
        5,
        &mut ctx.shared.evidence.borrow_mut(),
    )
    .map_err(export_error)?;
    let violations = report
        .fields
        .iter()
        .filter(|f| f.category == "required" && f.present < f.total)
        .map(|f| {
            let sample: Vec<&str> = f.missing.iter().take(5).map(String::as_str).collect();
            violation(
                crate::Enforcement::Deny,
                format!("TR-03183-2 field {} ({})", f.number, f.field),
                format!(
                    "required, missing on {} of {} {}{}",
                    f.total - f.present,
                    f.total,
                    if f.level == "sbom" {
                        "SBOMs"
                    } else {
                        "components"
                    },
                    if sample.is_empty() {
                        String::new()
                    } else {
                        format!(" (first: {})", sample.join(", "))
                    }
                ),
                None,
                None,
            )
        })
        .collect();
    let summary = format!(
        "{} components checked against {}",
        report.components, report.standard
    );
    Ok(verdict("evidence", rule.level, summary, violations))
}
