//! `release create`: freezes what the deployment holds now.

use std::collections::BTreeSet;

use aibomdb_store::{
    Release, ReleaseGate, ReleasedArtifact, ReleasedDocument, ReleasedModel, Store, StoreError,
};

use crate::{ReleaseError, eval, known};

/// What the caller gives besides the store's own state.
#[derive(Debug, Default)]
pub struct NewRelease {
    pub deployment: String,
    pub name: String,
    /// `REF@sha256:<64 hex>` of each image.
    pub images: Vec<String>,
    /// (file name, bytes) of each evaluation file.
    pub evals: Vec<(String, Vec<u8>)>,
    pub approved_by: Option<String>,
    pub note: Option<String>,
    /// `NAME==VERSION` of each runner approved to serve it.
    pub runners: Vec<String>,
    /// The gate's verdict on the deployment as it is now, when the release
    /// is gated (the caller evaluates the policy: releases record
    /// decisions, they do not make them).
    pub gate: Option<ReleaseGate>,
    /// Record the release although its gate failed, for this reason.
    pub force: Option<String>,
    /// Seconds since the epoch: when it is made (and the gate's "now").
    pub at: i64,
}

/// A `NAME==VERSION` runner.
pub(crate) fn runner(text: &str) -> Result<(String, String), ReleaseError> {
    match text.split_once("==") {
        Some((n, v)) if !n.trim().is_empty() && !v.trim().is_empty() => {
            Ok((n.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(ReleaseError::BadInput {
            what: format!("runner {text:?}"),
            message: "expected NAME==VERSION (for example vllm==0.6.3)".into(),
        }),
    }
}

/// `sha256:<64 lower-case hex>`, the only image digest form accepted.
pub(crate) fn image_digest(text: &str) -> Option<&str> {
    let hex = text.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(text)
}

/// Makes the release: reads the deployment's current state, runs the gate
/// when a policy is given, and writes it in one transaction with its eval
/// files. Refused, with nothing written, when the name is taken, an input is
/// bad, or the gate fails without `force`.
pub fn create(store: &Store, new: NewRelease) -> Result<Release, ReleaseError> {
    known(store, &new.deployment)?;
    let bad = |what: String, message: String| ReleaseError::BadInput { what, message };
    if new.name.trim().is_empty() {
        return Err(bad("--name".into(), "a release needs a name".into()));
    }
    if store.release(&new.deployment, &new.name)?.is_some() {
        return Err(bad(
            format!("release {:?}", new.name),
            format!(
                "deployment {:?} already has a release of that name; releases are never changed",
                new.deployment
            ),
        ));
    }
    for image in &new.images {
        let ok = image
            .rsplit_once('@')
            .is_some_and(|(r, d)| !r.is_empty() && image_digest(d).is_some());
        if !ok {
            return Err(bad(
                format!("image {image:?}"),
                "expected REF@sha256:<64 lower-case hex> (a tag alone does not say what ran)"
                    .into(),
            ));
        }
    }
    let runners = new
        .runners
        .iter()
        .map(|r| runner(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut evals = Vec::new();
    let mut files = Vec::new();
    for (name, bytes) in &new.evals {
        let e = eval::read(name, bytes)?;
        // The same file given twice is kept once.
        if evals
            .iter()
            .any(|x: &aibomdb_store::EvalEvidence| x.sha256 == e.sha256)
        {
            continue;
        }
        files.push((e.sha256.clone(), bytes.clone()));
        evals.push(e);
    }

    // A failing gate writes nothing unless forced.
    let gate = new.gate.clone();
    if let Some(g) = &gate
        && !g.passed
        && new.force.is_none()
    {
        return Err(ReleaseError::GateFailed {
            failed: g.failed_rules.clone(),
        });
    }
    let forced = match (&gate, &new.force) {
        (Some(g), Some(reason)) if !g.passed => Some(reason.clone()),
        _ => None,
    };

    let mut documents = Vec::new();
    let mut packages = BTreeSet::new();
    for id in store.current_documents(&new.deployment)? {
        let Some(doc) = store.document(id)?.filter(|d| d.is_current()) else {
            continue;
        };
        for p in store.document_package_records(id)? {
            packages.insert(p.key);
        }
        documents.push(ReleasedDocument {
            id: doc.id,
            sha256: doc.sha256.clone(),
            format: doc.format.as_str().to_string(),
            source_path: doc.source_path.clone(),
        });
    }
    // One entry per model, whatever number of documents describe it; a file
    // not hashed here (Hub model info, an LFS pointer) is released by the
    // digest its publisher states.
    let mut models: Vec<ReleasedModel> = Vec::new();
    for v in aibomdb_query::models(store, Some(&new.deployment))? {
        let i = match models.iter().position(|m| m.purl == v.purl) {
            Some(i) => i,
            None => {
                models.push(ReleasedModel {
                    revision: v.purl.rsplit_once('@').map(|(_, r)| r.to_string()),
                    derived_from: Vec::new(),
                    datasets: Vec::new(),
                    artifacts: Vec::new(),
                    purl: v.purl.clone(),
                });
                models.len() - 1
            }
        };
        let m = &mut models[i];
        for l in &v.derived_from {
            let pair = (l.relation.clone(), l.purl.clone());
            if !m.derived_from.contains(&pair) {
                m.derived_from.push(pair);
            }
        }
        for d in &v.trained_on {
            if !m.datasets.contains(d) {
                m.datasets.push(d.clone());
            }
        }
        for a in &v.info.artifacts {
            let digest = a.sha256.clone().or_else(|| {
                a.references
                    .iter()
                    .map(|(_, d)| d.to_ascii_lowercase())
                    .find(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
            });
            let Some(sha256) = digest else { continue };
            if !m.artifacts.iter().any(|x| x.path == a.path) {
                m.artifacts.push(ReleasedArtifact {
                    path: a.path.clone(),
                    sha256,
                    format: a.format.clone(),
                });
            }
        }
    }
    let advisories = aibomdb_osv::deployment_matches(store, Some(&new.deployment))?
        .into_iter()
        .filter(|m| m.is_open())
        .map(|m| (m.advisory, m.package))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let release = Release {
        deployment: new.deployment.clone(),
        name: new.name.clone(),
        created_at: u64::try_from(new.at).unwrap_or(0),
        sequence: 0,
        documents,
        packages: packages.into_iter().collect(),
        models,
        images: new.images.clone(),
        advisories,
        evals,
        approved_by: new.approved_by.clone(),
        note: new.note.clone(),
        gate,
        forced,
        runners,
    };
    store.put_release(&release, &files).map_err(|e| match e {
        StoreError::Conflict(m) => bad(format!("release {:?}", new.name), m),
        other => other.into(),
    })
}
