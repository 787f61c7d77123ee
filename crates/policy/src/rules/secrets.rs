//! `secrets`: no credential in any file of the deployment's models (the
//! `secret` findings `query models --secrets` shows: rule, file, place,
//! redacted form and fingerprint — never the secret).

use super::{Context, count, verdict, violation};
use crate::{Enforcement, PolicyError, RuleVerdict, Secrets};

pub(super) fn check(ctx: &Context, rule: &Secrets) -> Result<RuleVerdict, PolicyError> {
    let views = ctx.models()?;
    let mut violations = Vec::new();
    let mut found = 0;
    for view in views {
        let doc = ctx
            .documents
            .iter()
            .find(|(d, _)| d.id == view.document)
            .map(|(d, _)| d.source_path.as_str());
        for f in view.findings.iter().filter(|f| f.kind == "secret") {
            found += 1;
            violations.push(violation(
                Enforcement::Deny,
                &view.purl,
                format!("secret: {}", f.message),
                doc,
                Some(&view.purl),
            ));
        }
    }
    let summary = format!(
        "{} in {}",
        count(found, "secret"),
        count(views.len(), "model")
    );
    Ok(verdict("secrets", rule.level, summary, violations))
}
