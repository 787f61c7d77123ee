//! `models`: verified signatures, approvals bound to the digests, no
//! dangerous pickle, no digest mismatch, a known base, allowed licences and
//! base-model organisations. Built on the same findings `query models` shows.

use std::collections::HashMap;

use super::{Context, count, verdict, violation};
use crate::{Enforcement, Models, PolicyError, RuleVerdict};

/// The Hub organisation of `pkg:huggingface/<org>/<name>[@rev]`.
fn hub_org(purl: &str) -> Option<&str> {
    purl.strip_prefix("pkg:huggingface/")?.split('/').next()
}

fn licence_allowed(allowed: &[String], licence: Option<&str>) -> bool {
    allowed.is_empty()
        || licence.is_some_and(|l| allowed.iter().any(|a| a.eq_ignore_ascii_case(l.trim())))
}

pub(super) fn check(ctx: &Context, rule: &Models) -> Result<RuleVerdict, PolicyError> {
    let views = ctx.models()?;
    // What this deployment's documents say about datasets (their licences).
    let mut dataset_licences: HashMap<&str, Option<String>> = HashMap::new();
    for (_, packages) in &ctx.documents {
        for l in packages {
            let p = l.package;
            if l.fact.model.as_ref().is_some_and(|m| m.node == "dataset") {
                let licence = l
                    .fact
                    .model
                    .as_ref()
                    .and_then(|m| m.license.clone())
                    .or_else(|| l.fact.licenses.first().cloned());
                let entry = dataset_licences.entry(p.key.as_str()).or_default();
                if entry.is_none() {
                    *entry = licence;
                }
            }
        }
    }
    let mut violations = Vec::new();
    for view in views {
        let doc = ctx
            .documents
            .iter()
            .find(|(d, _)| d.id == view.document)
            .map(|(d, _)| d.source_path.as_str());
        let mut add = |level: Enforcement, message: String| {
            violations.push(violation(level, &view.purl, message, doc, Some(&view.purl)));
        };
        let of = |kinds: &[&str]| -> Vec<String> {
            view.findings
                .iter()
                .filter(|f| kinds.contains(&f.kind))
                .map(|f| match &f.path {
                    Some(p) => format!("{p}: {}", f.message),
                    None => f.message.clone(),
                })
                .collect()
        };
        if rule.require_signature {
            let found = of(&["unsigned", "signature", "signature-mismatch"]);
            if found.is_empty() && view.info.signing.is_none() {
                // Known only from an SBOM or Hub info, with no files hashed
                // here: nothing shows a signature either.
                add(
                    Enforcement::Deny,
                    "signature: no model.sig was read for this model".to_string(),
                );
            }
            for m in found {
                add(Enforcement::Deny, format!("signature: {m}"));
            }
        }
        if rule.no_hash_mismatch {
            for m in of(&["hash-mismatch"]) {
                add(Enforcement::Deny, format!("digest mismatch: {m}"));
            }
        }
        if rule.no_dangerous_pickle {
            for m in of(&["pickle-dangerous", "pickle-error"]) {
                add(Enforcement::Deny, format!("pickle: {m}"));
            }
            for m in of(&["pickle-unknown"]) {
                add(Enforcement::Warn, format!("pickle: {m}"));
            }
        }
        if rule.require_approval && view.approval.state != "approved" {
            add(
                Enforcement::Deny,
                format!(
                    "{}: no approval for the current bytes of {}",
                    view.approval.state,
                    if view.approval.unapproved.is_empty() {
                        "its files".to_string()
                    } else {
                        view.approval.unapproved.join(", ")
                    }
                ),
            );
        }
        if !licence_allowed(&rule.allowed_licenses, view.info.license.as_deref()) {
            add(
                Enforcement::Deny,
                match &view.info.license {
                    Some(l) => format!("licence {l:?} is not among the allowed model licences"),
                    None => "no licence stated for the model".to_string(),
                },
            );
        }
        for base in &view.derived_from {
            if rule.require_known_base {
                let key = base
                    .purl
                    .split('@')
                    .next()
                    .unwrap_or(&base.purl)
                    .to_string();
                let known = ctx.base_is_described(&base.purl, &key)?;
                if !known {
                    add(
                        Enforcement::Deny,
                        format!(
                            "base model {} ({}) is described by no document in the store: its own files, licence and findings are unknown",
                            base.purl, base.relation
                        ),
                    );
                }
            }
            if !rule.allowed_base_orgs.is_empty() {
                let org = hub_org(&base.purl).map(str::to_ascii_lowercase);
                if !org
                    .as_ref()
                    .is_some_and(|o| rule.allowed_base_orgs.contains(o))
                {
                    add(
                        Enforcement::Deny,
                        format!(
                            "base model {} is not from an allowed organisation ({})",
                            base.purl,
                            rule.allowed_base_orgs.join(", ")
                        ),
                    );
                }
            }
        }
        if !rule.allowed_dataset_licenses.is_empty() {
            for dataset in &view.trained_on {
                let licence = dataset_licences.get(dataset.as_str()).cloned().flatten();
                if !licence_allowed(&rule.allowed_dataset_licenses, licence.as_deref()) {
                    add(
                        Enforcement::Deny,
                        match licence {
                            Some(l) => {
                                format!("trained on {dataset}, whose licence {l:?} is not allowed")
                            }
                            None => {
                                format!("trained on {dataset}, whose licence no document states")
                            }
                        },
                    );
                }
            }
        }
    }
    let summary = format!("checked {}", count(views.len(), "model"));
    Ok(verdict("models", rule.level, summary, violations))
}
