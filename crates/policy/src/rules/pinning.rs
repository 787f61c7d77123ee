//! `pinning`: models by a commit revision, container images by digest, Python
//! packages at one exact version with hashes. Evidence comes only from what
//! the documents state: a document that cannot show it is named, never
//! given the benefit of the doubt.

use aibomdb_store::DocumentRecord;

use super::{Context, count, verdict, violation};
use crate::catalog::{BySlot, Listed};
use crate::estate::Tally;
use crate::{Enforcement, Pinning, PolicyError, RuleVerdict, Violation};

fn is_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `sha256:<64 hex>` anywhere in a version, purl or reference.
fn has_digest(text: &str) -> bool {
    let lower = text.to_ascii_lowercase().replace("%3a", ":");
    lower.match_indices("sha256:").any(|(i, _)| {
        let hex = &lower[i + 7..];
        hex.len() >= 64 && hex.as_bytes()[..64].iter().all(u8::is_ascii_hexdigit)
    })
}

/// A Hub model must name a 40-hex commit; `None` when it does.
fn hub_pin(purl: &str) -> Option<String> {
    let rev = purl.split_once('@').map(|(_, r)| r);
    match rev {
        Some(rev) if is_commit(rev) => None,
        Some(rev) => Some(format!(
            "referenced by {rev:?}, a branch or tag, not a 40-hex commit revision"
        )),
        None => Some(
            "referenced without a revision: it resolves to whatever `main` is at download time"
                .to_string(),
        ),
    }
}

/// The models the deployment's documents describe must be pinned, and so
/// must the base of an adapter (loaded at run time by its name). The base of
/// a fine-tune is lineage, not a download, and is not checked here.
fn model_pins(ctx: &Context, violations: &mut Vec<Violation>) -> Result<usize, PolicyError> {
    let views = ctx.models()?;
    let mut checked = 0;
    for view in views {
        let doc = ctx
            .documents
            .iter()
            .find(|(d, _)| d.id == view.document)
            .map(|(d, _)| d.source_path.as_str());
        checked += 1;
        if view.purl.starts_with("pkg:huggingface/") {
            if let Some(why) = hub_pin(&view.purl) {
                violations.push(violation(
                    Enforcement::Deny,
                    &view.purl,
                    format!("model {why}"),
                    doc,
                    Some(&view.purl),
                ));
            }
        } else {
            // A model that is on no hub is pinned by the digests of its files.
            let artifacts = &view.info.artifacts;
            let unhashed = artifacts.iter().filter(|a| a.sha256.is_none()).count();
            if artifacts.is_empty() || unhashed > 0 {
                violations.push(violation(
                    Enforcement::Deny,
                    &view.purl,
                    if artifacts.is_empty() {
                        "not a Hub model, and the document lists none of its files with digests: nothing pins it".to_string()
                    } else {
                        format!("not a Hub model, and {unhashed} of its files have no digest")
                    },
                    doc,
                    Some(&view.purl),
                ));
            }
        }
        for base in view.derived_from.iter().filter(|b| b.relation == "adapter") {
            checked += 1;
            if let Some(why) = hub_pin(&base.purl) {
                violations.push(violation(
                    Enforcement::Deny,
                    &base.purl,
                    format!("base model of adapter {} {why}", view.purl),
                    doc,
                    Some(&base.purl),
                ));
            }
        }
    }
    Ok(checked)
}

/// Whether the container image a document describes is stated with a
/// digest: by the subject's version, or the purl of its package row.
fn subject_pinned(subject: &aibomdb_graph::Subject, listed: Option<&Listed>) -> bool {
    let stated = [
        subject.version.as_deref().unwrap_or_default(),
        listed.map_or("", |l| l.package.key.as_str()),
        listed
            .and_then(|l| l.fact.purl.as_deref())
            .unwrap_or_default(),
    ];
    stated.iter().any(|s| has_digest(s))
}

/// What the rule finds of one row apart from its document: a listed
/// container image (other than the document's subject) and whether it is
/// stated with a digest; a PyPI package and whether it is one exact version
/// (`exact`) with hashes (`hashed`).
#[derive(Clone, Copy)]
pub(crate) struct RowPins {
    image: Option<bool>,
    python: Option<(bool, bool)>,
}

fn row_pins(rule: &Pinning, l: &Listed) -> RowPins {
    let (package, fact) = (l.package, l.fact);
    let image = (rule.images && fact.kind.as_deref() == Some("container")).then(|| {
        [
            package.key.as_str(),
            fact.purl.as_deref().unwrap_or_default(),
            fact.version.as_deref().unwrap_or_default(),
        ]
        .iter()
        .any(|s| has_digest(s))
    });
    let python = (rule.python && package.ecosystem == "pypi").then(|| {
        (
            package.version.is_some() && fact.requested.is_none(),
            !fact.hashes.is_empty(),
        )
    });
    RowPins { image, python }
}

/// The container image a document describes, when the rule checks images.
fn described_image<'d>(
    rule: &Pinning,
    doc: &'d DocumentRecord,
) -> Option<&'d aibomdb_graph::Subject> {
    doc.subject
        .as_ref()
        .filter(|s| rule.images && s.kind.as_deref() == Some("container"))
}

fn subject_row<'l, 'c>(doc: &DocumentRecord, listed: &'l [Listed<'c>]) -> Option<&'l Listed<'c>> {
    doc.subject_package
        .and_then(|id| listed.iter().find(|l| l.package.id == id))
}

pub(super) fn check(ctx: &Context, rule: &Pinning) -> Result<RuleVerdict, PolicyError> {
    let mut violations = Vec::new();
    let (mut images, mut python) = (0, 0);
    let models = if rule.models {
        model_pins(ctx, &mut violations)?
    } else {
        0
    };
    for (doc, packages) in &ctx.documents {
        let path = Some(doc.source_path.as_str());
        if let Some(subject) = described_image(rule, doc) {
            images += 1;
            if !subject_pinned(subject, subject_row(doc, packages)) {
                violations.push(violation(
                    Enforcement::Deny,
                    format!("image {}", subject.name),
                    format!(
                        "the document describes the image as {}{} with no `sha256:` digest: it is referenced by a tag, which can move",
                        subject.name,
                        subject.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default()
                    ),
                    path,
                    None,
                ));
            }
        }
        for l in packages {
            let (package, fact) = (l.package, l.fact);
            let pins = row_pins(rule, l);
            if let Some(pinned) = pins.image
                && Some(package.id) != doc.subject_package
            {
                images += 1;
                if !pinned {
                    violations.push(violation(
                        Enforcement::Deny,
                        &package.key,
                        "container image listed without a `sha256:` digest",
                        path,
                        Some(&package.key),
                    ));
                }
            }
            if let Some((exact, hashed)) = pins.python {
                python += 1;
                let mut wrong = Vec::new();
                if !exact {
                    wrong.push(match &fact.requested {
                        Some(r) => {
                            format!("not pinned to one version (the document requests {r:?})")
                        }
                        None => "no version stated".to_string(),
                    });
                }
                if !hashed {
                    wrong.push(
                        "no hash: the document does not show which file was installed".to_string(),
                    );
                }
                if !wrong.is_empty() {
                    violations.push(violation(
                        Enforcement::Deny,
                        &package.key,
                        wrong.join("; "),
                        path,
                        Some(&package.key),
                    ));
                }
            }
        }
    }
    let summary = format!(
        "checked {}, {}, {} in {}",
        count(models, "model reference"),
        count(images, "container image"),
        count(python, "PyPI package"),
        count(ctx.documents.len(), "current document"),
    );
    Ok(verdict("pinning", rule.level, summary, violations))
}

/// The verdict of [`check`] as counts: the same judgements, each row's
/// made once per occurrence slot.
pub(crate) fn tally(
    ctx: &Context,
    rule: &Pinning,
    judged: &mut BySlot<RowPins>,
) -> Result<Tally, PolicyError> {
    let mut t = Tally::default();
    if rule.models {
        let mut violations = Vec::new();
        model_pins(ctx, &mut violations)?;
        for v in &violations {
            t.add(v.level, rule.level);
        }
    }
    for (doc, packages) in &ctx.documents {
        if let Some(subject) = described_image(rule, doc)
            && !subject_pinned(subject, subject_row(doc, packages))
        {
            t.add(Enforcement::Deny, rule.level);
        }
        for l in packages {
            let pins = *judged.get_or(l.slot, || row_pins(rule, l));
            if pins.image == Some(false) && Some(l.package.id) != doc.subject_package {
                t.add(Enforcement::Deny, rule.level);
            }
            if let Some((exact, hashed)) = pins.python
                && !(exact && hashed)
            {
                t.add(Enforcement::Deny, rule.level);
            }
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_and_commits() {
        let d = "sha256:bf5e28853a83134e949201fb5979927a9e5cc74cb747b7a080d96eaba1303411";
        assert!(super::has_digest(d));
        assert!(super::has_digest(&format!(
            "pkg:oci/busybox@{}",
            d.replace(':', "%3A")
        )));
        assert!(!super::has_digest("sha256:bf5e"));
        assert!(!super::has_digest("latest"));
        assert!(super::is_commit("86b5e0934494bd15c9632b12f734a8a67f723594"));
        assert!(!super::is_commit("main"));
    }
}
