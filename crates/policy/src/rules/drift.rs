//! `drift`: what was last seen running must be what was last released (the
//! release crate's comparison: model files, images, runners).

use super::{Context, verdict, violation};
use crate::{Drift, Enforcement, PolicyError, RuleVerdict};

pub(super) fn check(ctx: &Context, rule: &Drift) -> Result<RuleVerdict, PolicyError> {
    let found = aibomdb_release::drift(ctx.store, ctx.deployment).map_err(|e| match e {
        aibomdb_release::ReleaseError::Store(s) => PolicyError::Store(s),
        other => PolicyError::Query(other.to_string()),
    })?;
    let Some(d) = found else {
        let summary = "no release or no observation yet: nothing to compare".to_string();
        let violations = if rule.require_observation {
            vec![violation(
                Enforcement::Deny,
                ctx.deployment,
                "drift cannot be checked: the deployment needs a release (aibomdb release create) and an observation (aibomdb observe, POST /v1/observations)",
                None,
                None,
            )]
        } else {
            Vec::new()
        };
        return Ok(verdict("drift", rule.level, summary, violations));
    };
    let violations = d
        .differences
        .iter()
        .map(|x| {
            violation(
                Enforcement::Deny,
                &x.subject,
                format!(
                    "{}: released {}, observed {}",
                    x.kind,
                    x.released.as_deref().unwrap_or("nothing"),
                    x.observed.as_deref().unwrap_or("nothing")
                ),
                None,
                None,
            )
        })
        .collect();
    let summary = format!(
        "observation {} against release {}: {} difference{}",
        d.observation,
        d.release,
        d.differences.len(),
        if d.differences.len() == 1 { "" } else { "s" }
    );
    Ok(verdict("drift", rule.level, summary, violations))
}
