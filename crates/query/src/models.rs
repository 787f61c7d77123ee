//! Models: what the model directories and AI BOMs in the store say about
//! each model, the integrity and safety findings on its files, and approvals
//! bound to file digests. (Lineage walks, running deployments and datasets:
//! `lineage.rs`.)

use std::collections::{BTreeSet, HashMap};

use aibomdb_graph::{Artifact, ModelInfo, PackageFact, PackageKey};
use aibomdb_store::{Approval, DocumentRecord, Occurrence, PackageId, PackageRecord, Store};
use serde::Serialize;

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

fn is_weight(format: &str) -> bool {
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
            let documents: Vec<DocumentRecord> = store
                .documents()?
                .into_iter()
                .filter(|d| d.is_current())
                .collect();
            let mut out = cross_checked(described_models(store, &documents)?, None);
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
    let views = described_models(store, &in_scope)?;
    checked_views(store, views, published)
}

/// [`models_in`] for documents the caller has read already, each with its
/// packages (the gate has them in hand).
pub fn models_of(
    store: &Store,
    documents: &[(DocumentRecord, Vec<(PackageRecord, Occurrence)>)],
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
    let mut out = cross_checked(described_models(store, &documents)?, None);
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

/// The models the given documents describe.
fn described_models(store: &Store, documents: &[DocumentRecord]) -> Result<Vec<ModelView>> {
    let mut out = Vec::new();
    for doc in documents {
        let packages = store.document_packages(doc.id)?;
        models_described_by(store, doc, &packages, &mut out)?;
    }
    Ok(out)
}

/// The models one document describes, from its packages as read.
fn models_described_by(
    store: &Store,
    doc: &DocumentRecord,
    packages: &[(PackageRecord, Occurrence)],
    out: &mut Vec<ModelView>,
) -> Result<()> {
    {
        let models: Vec<_> = packages
            .iter()
            .filter(|(_, o)| describes(doc, o.package, &o.fact))
            .collect();
        if models.is_empty() {
            return Ok(());
        }
        let keys: HashMap<u64, &str> = packages
            .iter()
            .map(|(p, _)| (p.id, p.key.as_str()))
            .collect();
        let edges = store.document_edges(doc.id)?;
        for (p, occurrence) in models {
            let info = occurrence
                .fact
                .model
                .as_deref()
                .cloned()
                .unwrap_or_default();
            let mut view = ModelView {
                deployment: doc.deployment.clone(),
                document: doc.id,
                purl: p.key.clone(),
                name: p.name.clone(),
                derived_from: Vec::new(),
                trained_on: Vec::new(),
                evaluated_on: Vec::new(),
                findings: findings(&info, &occurrence.fact.secrets),
                approval: approval_state(&info, &[]),
                info,
                secrets: occurrence.fact.secrets.clone(),
                file_metadata: occurrence.fact.file_metadata.clone(),
            };
            for (from, to, e) in &edges {
                if *from != p.id {
                    continue;
                }
                let Some(target) = keys.get(to) else { continue };
                for kind in e.kinds() {
                    match kind {
                        aibomdb_graph::EdgeKind::TrainedOn => {
                            view.trained_on.push(target.to_string())
                        }
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
    Ok(())
}

fn finding(kind: &'static str, path: Option<&str>, message: String) -> Finding {
    Finding {
        kind,
        path: path.map(str::to_string),
        message,
    }
}

fn findings(info: &ModelInfo, secrets: &[aibomdb_graph::SecretFinding]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in secrets {
        let place = match (s.line, s.offset) {
            (Some(line), _) => format!("line {line}"),
            (None, Some(offset)) => format!("byte {offset}"),
            (None, None) => String::new(),
        };
        let within = if s.within == "text" {
            String::new()
        } else {
            format!(" ({})", s.within)
        };
        out.push(finding(
            "secret",
            Some(&s.file),
            format!(
                "{}{}{within}: {} {} (sha256:{}); rotate it and remove it from the file",
                s.file,
                if place.is_empty() {
                    String::new()
                } else {
                    format!(" {place}")
                },
                s.rule,
                s.redacted,
                s.fingerprint
            ),
        ));
    }
    for a in &info.artifacts {
        let at = Some(a.path.as_str());
        match a.integrity.as_str() {
            "mismatch" => {
                for (source, digest) in &a.references {
                    if Some(digest) != a.sha256.as_ref() {
                        out.push(finding(
                            "hash-mismatch",
                            at,
                            format!(
                                "{}: SHA-256 {} differs from {} in {source}",
                                a.path,
                                a.sha256.as_deref().unwrap_or("?"),
                                digest
                            ),
                        ));
                    }
                }
            }
            "no reference" if is_weight(&a.format) => out.push(finding(
                "no-reference",
                at,
                format!("{}: no published digest to check it against", a.path),
            )),
            "not present" if is_weight(&a.format) => out.push(finding(
                "not-present",
                at,
                format!("{}: only a published digest; the file is not here", a.path),
            )),
            _ => {}
        }
        if let Some(p) = &a.pickle {
            // The same report for every format whose loading can run code:
            // what loading would import, and what of it runs code or needs a look.
            let (what, unknown_why) = match a.format.as_str() {
                "keras" => (
                    "Keras config deserialises",
                    "not shipped with Keras: custom code, review before loading",
                ),
                "onnx" => (
                    "ONNX graph uses",
                    "custom-operator domain: needs a native operator library, review before loading",
                ),
                "numpy" => (
                    "object array's pickle imports",
                    "not on the allow-list: review before loading",
                ),
                _ => (
                    "pickle imports",
                    "not on the allow-list: review before loading",
                ),
            };
            if !p.dangerous_imports.is_empty() {
                out.push(finding(
                    "pickle-dangerous",
                    at,
                    format!(
                        "{}: {what} {} (runs on load)",
                        a.path,
                        p.dangerous_imports.join(", ")
                    ),
                ));
            }
            if !p.unknown_imports.is_empty() {
                out.push(finding(
                    "pickle-unknown",
                    at,
                    format!(
                        "{}: {what} {} ({unknown_why})",
                        a.path,
                        p.unknown_imports.join(", ")
                    ),
                ));
            }
            if let Some(e) = &p.error {
                out.push(finding(
                    "pickle-error",
                    at,
                    format!("{}: pickle not fully scanned: {e}", a.path),
                ));
            }
        }
        for problem in &a.problems {
            out.push(finding(
                "file-problem",
                at,
                format!("{}: {problem}", a.path),
            ));
        }
    }
    let has_weights = info
        .artifacts
        .iter()
        .any(|a| is_weight(&a.format) && a.sha256.is_some());
    match &info.signing {
        None if has_weights => out.push(finding(
            "unsigned",
            None,
            "unsigned: no OpenSSF model-signing bundle (model.sig)".into(),
        )),
        None => {}
        Some(s) => {
            if s.status != "verified" {
                let detail = s
                    .detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                out.push(finding(
                    "signature",
                    Some("model.sig"),
                    format!("model.sig ({} signature): {}{detail}", s.method, s.status),
                ));
            }
            for f in &s.differ {
                out.push(finding(
                    "signature-mismatch",
                    Some(f),
                    format!("{f}: differs from its signed digest"),
                ));
            }
            for f in &s.missing {
                out.push(finding(
                    "signature-mismatch",
                    Some(f),
                    format!("{f}: signed but not present"),
                ));
            }
            for f in &s.unsigned {
                out.push(finding(
                    "unsigned",
                    Some(f),
                    format!("{f}: present but not covered by model.sig"),
                ));
            }
        }
    }
    out
}

/// The files an approval must cover: the weights, or every hashed file when
/// the model has no weights here.
fn approval_scope(info: &ModelInfo) -> Vec<&Artifact> {
    let hashed: Vec<&Artifact> = info
        .artifacts
        .iter()
        .filter(|a| a.sha256.is_some())
        .collect();
    let weights: Vec<&Artifact> = hashed
        .iter()
        .copied()
        .filter(|a| is_weight(&a.format))
        .collect();
    if weights.is_empty() { hashed } else { weights }
}

fn approval_state(info: &ModelInfo, approvals: &[Approval]) -> ApprovalState {
    let mut matched = Vec::new();
    let mut unapproved = Vec::new();
    for a in approval_scope(info) {
        match approvals
            .iter()
            .find(|x| a.sha256.as_deref() == Some(x.sha256.as_str()))
        {
            Some(x) => matched.push(x.clone()),
            None => unapproved.push(a.path.clone()),
        }
    }
    let state = if matched.is_empty() {
        "unapproved"
    } else if unapproved.is_empty() {
        "approved"
    } else {
        "partially approved"
    };
    ApprovalState {
        state,
        approvals: matched,
        unapproved,
    }
}

/// A model that was approved but whose files are no longer the approved
/// bytes: the drift is a finding. (A model never approved is only
/// `unapproved`, which `--unapproved` selects.)
fn approval_findings(info: &ModelInfo, approvals: &[Approval]) -> Vec<Finding> {
    if approvals.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for a in approval_scope(info) {
        let own = a.sha256.as_deref().unwrap_or("");
        if approvals.iter().any(|x| x.sha256 == own) {
            continue;
        }
        let message = match approvals
            .iter()
            .find(|x| x.path.as_deref() == Some(a.path.as_str()))
        {
            Some(x) => format!(
                "{}: SHA-256 {own} is not the approved {} (approved by {})",
                a.path, x.sha256, x.by
            ),
            None => format!("{}: not approved (other files of this model are)", a.path),
        };
        out.push(finding("unapproved", Some(&a.path), message));
    }
    out
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
