//! Models: what the model directories and AI BOMs in the store say about
//! each model, the integrity and safety findings on its files, and approvals
//! bound to file digests. (Lineage walks, running deployments and datasets:
//! `lineage.rs`.)

use std::collections::{BTreeSet, HashMap};

use aibomdb_graph::{Artifact, ModelInfo, PackageFact, PackageKey};
use aibomdb_store::{Approval, DocumentRecord, Occurrence, PackageId, PackageRecord, Store};
use serde::Serialize;

use crate::model_findings::{approval_findings, approval_state, findings};
use crate::{QueryError, Result};

/// One lineage edge out of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lineage {
    /// finetune, adapter, quantized, merge.
    pub relation: String,
    pub purl: String,
}

/// Something about a model's files a responder should look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `unsigned`, `signature`, `signature-mismatch`, `hash-mismatch`,
    /// `no-reference`, `not-present`, `pickle-dangerous`, `pickle-unknown`,
    /// `pickle-error`, `file-problem`, `unapproved`, `secret`.
    pub kind: &'static str,
    /// The file concerned, when it is about one file.
    pub path: Option<String>,
    pub message: String,
}

/// Which models a `query models` gate selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingFilter {
    /// Any finding.
    Risky,
    /// No model.sig, a file it does not cover, a signature not verified, or a
    /// file that differs from its signed digest.
    Unsigned,
    /// A file whose digest differs from a published or signed one.
    HashMismatch,
    /// A file that runs code on load: a pickle's imports (also inside a
    /// NumPy object array), a Keras `Lambda` layer.
    PickleDangerous,
    /// Not every file (weights, when there are any) approved as it is now.
    Unapproved,
    /// A credential found in one of the model's files.
    Secrets,
}

impl FindingFilter {
    /// The gates a caller switched on, from its flags in the order
    /// risky, unsigned, hash mismatch, pickle dangerous, unapproved, secrets.
    pub fn selected(flags: [bool; 6]) -> Vec<FindingFilter> {
        use FindingFilter::*;
        [
            Risky,
            Unsigned,
            HashMismatch,
            PickleDangerous,
            Unapproved,
            Secrets,
        ]
        .into_iter()
        .zip(flags)
        .filter_map(|(f, on)| on.then_some(f))
        .collect()
    }

    /// No gates keep everything; several keep what any of them admits.
    pub fn keep(filters: &[FindingFilter], view: &ModelView) -> bool {
        filters.is_empty() || filters.iter().any(|f| f.admits(view))
    }

    pub fn admits(self, view: &ModelView) -> bool {
        let any = |kinds: &[&str]| view.findings.iter().any(|f| kinds.contains(&f.kind));
        match self {
            FindingFilter::Risky => !view.findings.is_empty(),
            FindingFilter::Unsigned => any(&["unsigned", "signature", "signature-mismatch"]),
            FindingFilter::HashMismatch => any(&["hash-mismatch", "signature-mismatch"]),
            FindingFilter::PickleDangerous => any(&["pickle-dangerous"]),
            FindingFilter::Unapproved => view.approval.state != "approved",
            FindingFilter::Secrets => any(&["secret"]),
        }
    }
}

/// Whether a model's files are approved as they are now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalState {
    /// `approved`, `partially approved` or `unapproved`.
    pub state: &'static str,
    /// The approvals that match a file's current digest.
    pub approvals: Vec<Approval>,
    /// Files that need an approval (the weights, or every hashed file of a
    /// model without weights) and have none for their current bytes.
    pub unapproved: Vec<String>,
}

/// A model as the deployment's documents describe it, with what a responder
/// should worry about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelView {
    pub deployment: String,
    pub document: aibomdb_store::DocumentId,
    pub purl: String,
    pub name: String,
    pub info: ModelInfo,
    pub derived_from: Vec<Lineage>,
    pub trained_on: Vec<String>,
    pub evaluated_on: Vec<String>,
    /// Integrity and safety findings: digest mismatches, pickles that import
    /// code, weights with no published digest, no signature, approval drift.
    pub findings: Vec<Finding>,
    pub approval: ApprovalState,
    /// Credentials found in the model's files: rule, place, redacted form
    /// and fingerprint — never the secret.
    pub secrets: Vec<aibomdb_graph::SecretFinding>,
    /// What the model's weight files state in their own headers (GGUF
    /// metadata, ONNX producer and opsets, Keras version and layers).
    pub file_metadata: Vec<aibomdb_graph::FileMetadata>,
}

pub(crate) fn is_weight(format: &str) -> bool {
    matches!(
        format,
        "safetensors"
            | "pickle"
            | "torch-zip"
            | "torchscript"
            | "gguf"
            | "onnx"
            | "keras"
            | "numpy"
    )
}

/// Models of the current documents of `deployment` (all deployments when `None`).
pub fn models(store: &Store, deployment: Option<&str>) -> Result<Vec<ModelView>> {
    match deployment {
        Some(name) => models_in(store, name, &mut PublishedDigests::default()),
        None => {
            // Only documents that list a model node can describe one: found
            // through the model index, so an estate of SBOMs without models
            // is not decoded package by package.
            let ids: Vec<aibomdb_store::PackageId> =
                store.model_nodes("model")?.iter().map(|p| p.id).collect();
            let nodes: std::collections::HashSet<PackageId> = ids.iter().copied().collect();
            let mut listing: Vec<aibomdb_store::DocumentId> = store
                .package_document_ids_among(&ids)?
                .into_iter()
                .flatten()
                .collect();
            listing.sort_unstable();
            listing.dedup();
            let mut documents: Vec<DocumentRecord> = Vec::new();
            for head in store.current_document_refs_among(&listing)? {
                documents.extend(store.document(head.id)?.filter(DocumentRecord::is_current));
            }
            documents.sort_by_key(|d| d.id);
            let mut out = cross_checked(described_models(store, &documents, Some(&nodes))?, None);
            with_approvals(store, &mut out)?;
            Ok(out)
        }
    }
}

/// Digests published for a model's file: (model purl, file path) →
/// (algorithm, digest) pairs.
type Published = HashMap<(String, String), Vec<(String, String)>>;

/// The digests every current document publishes for a model's files, by
/// model purl, read once and kept across calls to [`models_in`] (a gate over
/// the estate asks about the same base models for many deployments).
/// Valid while the store is unchanged.
#[derive(Default)]
pub struct PublishedDigests {
    by_model: HashMap<String, HashMap<String, Vec<(String, String)>>>,
}

impl PublishedDigests {
    fn of(&mut self, store: &Store, purl: &str) -> Result<&HashMap<String, Vec<(String, String)>>> {
        if !self.by_model.contains_key(purl) {
            // Only the model's own occurrence in each document is read: the
            // digests it publishes are in its own fact.
            let mut by_path: HashMap<String, Vec<(String, String)>> = HashMap::new();
            each_description(store, purl, |info| {
                for a in &info.artifacts {
                    let refs = by_path.entry(a.path.clone()).or_default();
                    for r in &a.references {
                        if !refs.contains(r) {
                            refs.push(r.clone());
                        }
                    }
                }
                true
            })?;
            self.by_model.insert(purl.to_string(), by_path);
        }
        Ok(&self.by_model[purl])
    }
}

/// Whether `doc` describes the model node `package` it lists with `fact`:
/// as its subject, or with the sources it came from (a base named only as a
/// lineage target is not described).
fn describes(doc: &DocumentRecord, package: aibomdb_store::PackageId, fact: &PackageFact) -> bool {
    fact.model.as_ref().is_some_and(|m| m.node == "model")
        && (Some(package) == doc.subject_package
            || fact.model.as_ref().is_some_and(|m| !m.sources.is_empty()))
}

/// Calls `f` with the model information of each current document that
/// describes `purl`, in document order, until it returns false.
fn each_description(
    store: &Store,
    purl: &str,
    mut f: impl FnMut(&ModelInfo) -> bool,
) -> Result<()> {
    let Some(p) = store.package(&PackageKey::from_stored(purl.to_string()))? else {
        return Ok(());
    };
    for id in store.package_document_ids(p.id)? {
        let Some(doc) = store.document(id)?.filter(DocumentRecord::is_current) else {
            continue;
        };
        let Some(o) = store.occurrence(id, p.id)? else {
            continue;
        };
        if describes(&doc, p.id, &o.fact)
            && let Some(info) = o.fact.model.as_deref()
            && !f(info)
        {
            break;
        }
    }
    Ok(())
}

/// Whether some current document describes the model `purl` (what
/// [`model_views`] would give a view of), reading each listing document's
/// occurrence of it only, and stopping at the first.
pub fn is_described(store: &Store, purl: &str) -> Result<bool> {
    let mut found = false;
    each_description(store, purl, |_| {
        found = true;
        false
    })?;
    Ok(found)
}

/// The models one deployment's current documents describe, each file's
/// digest cross-checked against what every document of the estate publishes
/// for the same model (read through `published`).
pub fn models_in(
    store: &Store,
    deployment: &str,
    published: &mut PublishedDigests,
) -> Result<Vec<ModelView>> {
    // One deployment reads its own current documents only (and those that
    // list the same model nodes), so the cost of a question about it does
    // not grow with the estate.
    let mut in_scope = Vec::new();
    for id in store.current_documents(deployment)? {
        in_scope.extend(store.document(id)?.filter(DocumentRecord::is_current));
    }
    let views = described_models(store, &in_scope, None)?;
    checked_views(store, views, published)
}

/// [`models_in`] for documents the caller has read already, each with its
/// packages (the gate has them in hand).
pub fn models_of(
    store: &Store,
    documents: &[(DocumentRecord, Vec<(PackageRecord, Occurrence)>)],
    published: &mut PublishedDigests,
) -> Result<Vec<ModelView>> {
    let borrowed: Vec<(&DocumentRecord, Vec<(&PackageRecord, &PackageFact)>)> = documents
        .iter()
        .map(|(d, rows)| (d, rows.iter().map(|(p, o)| (p, &o.fact)).collect()))
        .collect();
    models_of_listed(store, &borrowed, published)
}

/// As [`models_of`], for documents whose rows are borrowed (each package
/// with the fact its document states): nothing is copied but what the
/// models' views hold.
pub fn models_of_listed(
    store: &Store,
    documents: &[(&DocumentRecord, Vec<(&PackageRecord, &PackageFact)>)],
    published: &mut PublishedDigests,
) -> Result<Vec<ModelView>> {
    let mut views = Vec::new();
    for (doc, packages) in documents {
        models_described_by(store, doc, packages, &mut views)?;
    }
    checked_views(store, views, published)
}

fn checked_views(
    store: &Store,
    views: Vec<ModelView>,
    published: &mut PublishedDigests,
) -> Result<Vec<ModelView>> {
    let mut elsewhere = Published::new();
    for v in &views {
        for (path, refs) in published.of(store, &v.purl)? {
            elsewhere
                .entry((v.purl.clone(), path.clone()))
                .or_default()
                .extend(refs.iter().cloned());
        }
    }
    let mut out = cross_checked(views, Some(elsewhere));
    with_approvals(store, &mut out)?;
    Ok(out)
}

/// The descriptions of the models `purls` names, from the current documents
/// that list them (digests cross-checked among those documents).
pub fn model_views(store: &Store, purls: &[String]) -> Result<Vec<ModelView>> {
    let mut ids = BTreeSet::new();
    for purl in purls {
        if let Some(p) = store.package(&PackageKey::from_stored(purl.clone()))? {
            ids.extend(store.package_document_ids(p.id)?);
        }
    }
    let mut documents = Vec::new();
    for id in ids {
        if let Some(d) = store.document(id)?.filter(|d| d.is_current()) {
            documents.push(d);
        }
    }
    let mut out = cross_checked(described_models(store, &documents, None)?, None);
    out.retain(|v| purls.contains(&v.purl));
    with_approvals(store, &mut out)?;
    Ok(out)
}

fn with_approvals(store: &Store, views: &mut [ModelView]) -> Result<()> {
    let mut approvals: HashMap<String, Vec<Approval>> = HashMap::new();
    for v in views {
        if !approvals.contains_key(&v.purl) {
            approvals.insert(v.purl.clone(), store.approvals(&v.purl)?);
        }
        v.approval = approval_state(&v.info, &approvals[&v.purl]);
        v.findings
            .extend(approval_findings(&v.info, &approvals[&v.purl]));
    }
    Ok(())
}

/// A file's digest is checked against every digest the graph knows for the
/// same model (same purl, hence same revision) and path, whichever document
/// published it: a directory ingested with `--id`/`--revision` is verified
/// against the Hub's `siblings` LFS digests.
fn cross_checked(mut views: Vec<ModelView>, elsewhere: Option<Published>) -> Vec<ModelView> {
    let mut published = elsewhere.unwrap_or_default();
    for v in &views {
        for a in &v.info.artifacts {
            published
                .entry((v.purl.clone(), a.path.clone()))
                .or_default()
                .extend(a.references.iter().cloned());
        }
    }
    for v in &mut views {
        let mut changed = false;
        for a in &mut v.info.artifacts {
            for r in published
                .get(&(v.purl.clone(), a.path.clone()))
                .into_iter()
                .flatten()
            {
                if !a.references.contains(r) {
                    a.references.push(r.clone());
                    changed = true;
                }
            }
            a.judge();
        }
        if changed {
            v.findings = findings(&v.info, &v.secrets);
        }
    }
    views
}

/// The models the documents describe. Each document's rows are read by id;
/// a fact is decoded once however many documents share it (an estate repeats
/// them), only for packages in `model_nodes` when given (the model index:
/// a package that describes a model is in it), and package records only for
/// the models and their edges' targets.
fn described_models(
    store: &Store,
    documents: &[DocumentRecord],
    model_nodes: Option<&std::collections::HashSet<PackageId>>,
) -> Result<Vec<ModelView>> {
    let mut out = Vec::new();
    let mut facts: HashMap<aibomdb_store::FactId, PackageFact> = HashMap::new();
    for doc in documents {
        let mut rows = store.document_listing(doc.id)?;
        if let Some(nodes) = model_nodes {
            rows.retain(|r| nodes.contains(&r.package));
        }
        let mut unread: Vec<aibomdb_store::FactId> = rows
            .iter()
            .map(|r| r.fact)
            .filter(|f| !facts.contains_key(f))
            .collect();
        unread.sort_unstable();
        unread.dedup();
        facts.extend(store.facts_by_ids(&unread)?);
        let models: Vec<Occurrence> = rows
            .iter()
            .filter_map(|r| {
                let fact = facts.get(&r.fact)?;
                describes(doc, r.package, fact).then(|| {
                    let mut fact = fact.clone();
                    fact.direct = r.direct;
                    fact.scope = r.scope;
                    Occurrence {
                        document: doc.id,
                        package: r.package,
                        fact,
                    }
                })
            })
            .collect();
        if models.is_empty() {
            continue;
        }
        let edges = store.document_edges(doc.id)?;
        let mut wanted: Vec<PackageId> = models.iter().map(|o| o.package).collect();
        wanted.extend(
            edges
                .iter()
                .filter(|(from, _, _)| models.iter().any(|o| o.package == *from))
                .map(|(_, to, _)| *to),
        );
        wanted.sort_unstable();
        wanted.dedup();
        let records = store.packages_by_ids(&wanted)?;
        let by_id: HashMap<u64, &PackageRecord> = records.iter().map(|p| (p.id, p)).collect();
        let keys: HashMap<u64, &str> = records.iter().map(|p| (p.id, p.key.as_str())).collect();
        let models: Vec<(&PackageRecord, &PackageFact)> = models
            .iter()
            .filter_map(|o| Some((*by_id.get(&o.package)?, &o.fact)))
            .collect();
        describe(doc, &models, &keys, &edges, &mut out);
    }
    Ok(out)
}

/// The models one document describes, from its packages as read.
fn models_described_by(
    store: &Store,
    doc: &DocumentRecord,
    packages: &[(&PackageRecord, &PackageFact)],
    out: &mut Vec<ModelView>,
) -> Result<()> {
    let models: Vec<(&PackageRecord, &PackageFact)> = packages
        .iter()
        .filter(|(p, f)| describes(doc, p.id, f))
        .copied()
        .collect();
    if models.is_empty() {
        return Ok(());
    }
    let edges = store.document_edges(doc.id)?;
    // Only the targets of the models' edges are named: a few of the
    // document's hundreds of packages.
    let targets: Vec<PackageId> = edges
        .iter()
        .filter(|(from, ..)| models.iter().any(|(p, _)| p.id == *from))
        .map(|(_, to, _)| *to)
        .collect();
    let keys: HashMap<u64, &str> = packages
        .iter()
        .filter(|(p, _)| targets.contains(&p.id))
        .map(|(p, _)| (p.id, p.key.as_str()))
        .collect();
    describe(doc, &models, &keys, &edges, out);
    Ok(())
}

/// One view per model `doc` describes, with the lineage its edges state.
fn describe(
    doc: &DocumentRecord,
    models: &[(&PackageRecord, &PackageFact)],
    keys: &HashMap<u64, &str>,
    edges: &[(PackageId, PackageId, aibomdb_store::EdgeRecord)],
    out: &mut Vec<ModelView>,
) {
    for &(p, fact) in models {
        let info = fact.model.as_deref().cloned().unwrap_or_default();
        let mut view = ModelView {
            deployment: doc.deployment.clone(),
            document: doc.id,
            purl: p.key.clone(),
            name: p.name.clone(),
            derived_from: Vec::new(),
            trained_on: Vec::new(),
            evaluated_on: Vec::new(),
            findings: findings(&info, &fact.secrets),
            approval: approval_state(&info, &[]),
            info,
            secrets: fact.secrets.clone(),
            file_metadata: fact.file_metadata.clone(),
        };
        for (from, to, e) in edges {
            if *from != p.id {
                continue;
            }
            let Some(target) = keys.get(to) else { continue };
            for kind in e.kinds() {
                match kind {
                    aibomdb_graph::EdgeKind::TrainedOn => view.trained_on.push(target.to_string()),
                    aibomdb_graph::EdgeKind::EvaluatedOn => {
                        view.evaluated_on.push(target.to_string())
                    }
                    k => {
                        if let Some(relation) = k.relation() {
                            view.derived_from.push(Lineage {
                                relation: relation.into(),
                                purl: target.to_string(),
                            });
                        }
                    }
                }
            }
        }
        out.push(view);
    }
}

/// The model nodes a user's name for a model means: a purl (without a
/// version: every revision), a Hub id `org/name[@revision]`, or the name of a
/// local model.
pub fn resolve_models(store: &Store, text: &str) -> Result<Vec<PackageRecord>> {
    let text = text.trim();
    let all = store.model_nodes("model")?;
    let wanted: Option<PackageKey> = if text.starts_with("pkg:") {
        Some(crate::parse_purl(text)?)
    } else {
        let (id, revision) = match text.split_once('@') {
            Some((i, r)) => (i, Some(r)),
            None => (text, None),
        };
        id.rsplit_once('/')
            .map(|(ns, name)| PackageKey::from_parts("huggingface", Some(ns), name, revision))
    };
    let found: Vec<PackageRecord> = all
        .into_iter()
        .filter(|p| match &wanted {
            Some(key) => {
                let key = key.as_str();
                p.key == key || (!key.contains('@') && p.key.starts_with(&format!("{key}@")))
            }
            None => p.name == text,
        })
        .collect();
    if found.is_empty() {
        return Err(QueryError::BadInput(format!(
            "no model {text:?} in the store (give a purl, a Hub id org/name[@revision], or a local model's name)"
        )));
    }
    Ok(found)
}

/// Approves the file with digest `sha256` of the model(s) `model` names.
/// The digest must be one the graph knows for that model: an approval of
/// bytes nobody ingested is a typo, not a decision. Returns the model purls
/// approved.
pub fn approve(
    store: &Store,
    model: &str,
    sha256: &str,
    by: &str,
    note: Option<&str>,
) -> Result<Vec<String>> {
    let sha256 = sha256.trim().to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(QueryError::BadInput(format!(
            "--artifact-sha256 {sha256:?}: not a SHA-256 (64 hex digits)"
        )));
    }
    if by.trim().is_empty() {
        return Err(QueryError::BadInput(
            "--by: who approves must be named".into(),
        ));
    }
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut approved = Vec::new();
    let mut known = BTreeSet::new();
    for p in resolve_models(store, model)? {
        let path = artifacts_of(store, p.id)?
            .into_iter()
            .find(|a| {
                if let Some(d) = &a.sha256 {
                    known.insert(format!("{} {}", a.path, d));
                }
                a.sha256.as_deref() == Some(sha256.as_str())
            })
            .map(|a| a.path);
        if path.is_none() {
            continue;
        }
        store.approve(
            &p.key,
            &Approval {
                sha256: sha256.clone(),
                by: by.trim().to_string(),
                note: note.map(str::to_string),
                at,
                path,
            },
        )?;
        approved.push(p.key);
    }
    if approved.is_empty() {
        return Err(QueryError::BadInput(format!(
            "no file of {model:?} has SHA-256 {sha256}; its files: {}",
            if known.is_empty() {
                "none hashed".to_string()
            } else {
                known.into_iter().collect::<Vec<_>>().join(", ")
            }
        )));
    }
    Ok(approved)
}

/// Every artifact any document states for the package.
fn artifacts_of(store: &Store, package: PackageId) -> Result<Vec<Artifact>> {
    let mut out = Vec::new();
    for doc in store.package_document_ids(package)? {
        if let Some(o) = store.occurrence(doc, package)?
            && let Some(m) = o.fact.model
        {
            out.extend(m.artifacts);
        }
    }
    Ok(out)
}
