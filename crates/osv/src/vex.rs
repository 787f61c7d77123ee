//! Which VEX statements cover which matches.
//!
//! A statement covers a match (deployment D, package P, advisory A) when:
//! - it names A by id or by any of A's aliases/upstream ids;
//! - the document that made it is current (a newer VEX from the same tool for
//!   the same product supersedes it);
//! - it covers D: the VEX document was ingested into D, or one of its
//!   BOM-Links names the serial number of a current document of D;
//! - one of its targets is P: the same purl (a purl without version names every
//!   version), the product itself (the document's subject, or D's subject
//!   purl), or a `bom-ref` that resolves to P in the BOM the link names.
//!
//! When several statements cover a match, the latest (statement timestamp,
//! then ingest order) wins, as a later statement replaces an earlier one.

use std::collections::HashMap;

use aibomdb_graph::{VexStatement, VexStatus, VexTarget};
use aibomdb_store::{DocumentId, DocumentRecord, PackageRecord, Store, StoreError, VexRecord};
use serde::Serialize;

/// The statement that decided a match's VEX status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VexVerdict {
    pub status: VexStatus,
    /// The state as the document wrote it (`false_positive`, `resolved`, …).
    pub state: String,
    pub justification: Option<String>,
    pub detail: Option<String>,
    pub response: Vec<String>,
    pub timestamp: Option<String>,
    /// The id the statement used (often a CVE alias of the matched record).
    pub vulnerability: String,
    pub document: DocumentId,
    pub document_path: String,
    /// `vulnerabilities[2]`, `statements[0]`.
    pub location: String,
}

impl VexVerdict {
    pub fn suppresses(&self) -> bool {
        self.status.suppresses()
    }
}

/// Answers "which statement covers this match" for many matches, reading each
/// document and deployment it needs once, on demand: a question about one
/// deployment or one advisory reads only the documents that bear on it, not
/// the whole store.
pub struct VexResolver<'a> {
    store: &'a Store,
    documents: HashMap<DocumentId, DocumentRecord>,
    /// Current documents per deployment.
    current: HashMap<String, Vec<DocumentId>>,
    by_advisory: HashMap<String, Vec<VexRecord>>,
    /// (document, bom-ref) → package key, filled on demand.
    refs: HashMap<DocumentId, HashMap<String, String>>,
    subject_keys: HashMap<String, Vec<String>>,
    serials: HashMap<String, Vec<DocumentId>>,
}

impl<'a> VexResolver<'a> {
    /// `documents`: every document of the store (the caller has read them already).
    pub fn new(store: &'a Store) -> Self {
        VexResolver {
            store,
            documents: HashMap::new(),
            current: HashMap::new(),
            by_advisory: HashMap::new(),
            refs: HashMap::new(),
            subject_keys: HashMap::new(),
            serials: HashMap::new(),
        }
    }

    /// A document the resolver may already hold (the caller's own), so that
    /// it is not read again.
    pub fn know(&mut self, document: &DocumentRecord) {
        self.documents
            .entry(document.id)
            .or_insert_with(|| document.clone());
    }

    fn document(&mut self, id: DocumentId) -> Result<Option<&DocumentRecord>, StoreError> {
        if !self.documents.contains_key(&id) {
            match self.store.document(id)? {
                Some(d) => {
                    self.documents.insert(id, d);
                }
                None => return Ok(None),
            }
        }
        Ok(self.documents.get(&id))
    }

    fn current(&mut self, deployment: &str) -> Result<&Vec<DocumentId>, StoreError> {
        if !self.current.contains_key(deployment) {
            let ids = self.store.current_documents(deployment)?;
            self.current.insert(deployment.to_string(), ids);
        }
        Ok(&self.current[deployment])
    }

    /// The deciding statement for `package` in `deployment` and the advisory
    /// known by `identifiers` (its id first, then aliases and upstream ids).
    pub fn verdict(
        &mut self,
        deployment: &str,
        package: &PackageRecord,
        identifiers: &[String],
    ) -> Result<Option<VexVerdict>, StoreError> {
        let Some(first) = identifiers.first() else {
            return Ok(None);
        };
        if !self.by_advisory.contains_key(first) {
            let found = self.store.vex_for(identifiers)?;
            self.by_advisory.insert(first.clone(), found);
        }
        let candidates = self.by_advisory[first].clone();
        let mut best: Option<(&VexRecord, (Option<String>, DocumentId))> = None;
        for record in &candidates {
            let Some(doc) = self.document(record.document)? else {
                continue;
            };
            if !doc.is_current() {
                continue;
            }
            let own = doc.deployment == deployment;
            let mut applies = false;
            for target in &record.statement.targets {
                if self.target_applies(target, own, deployment, package)? {
                    applies = true;
                    break;
                }
            }
            if !applies {
                continue;
            }
            let rank = (record.statement.timestamp.clone(), record.document);
            if best.as_ref().is_none_or(|(_, r)| rank >= *r) {
                best = Some((record, rank));
            }
        }
        Ok(best.map(|(record, _)| {
            let doc = &self.documents[&record.document];
            verdict_of(&record.statement, doc)
        }))
    }

    fn target_applies(
        &mut self,
        target: &VexTarget,
        own: bool,
        deployment: &str,
        package: &PackageRecord,
    ) -> Result<bool, StoreError> {
        Ok(match target {
            VexTarget::Package { key, serial } => {
                let covers = own
                    || match serial {
                        Some(s) => !self.linked_documents(s, deployment)?.is_empty(),
                        None => false,
                    };
                covers
                    && (same_package(key, &package.key)
                        || self
                            .subject_keys(deployment)?
                            .iter()
                            .any(|k| same_package(key, k)))
            }
            VexTarget::Product => own,
            VexTarget::BomRef { serial, reference } => {
                let mut hit = false;
                for doc in self.linked_documents(serial, deployment)? {
                    let Some(d) = self.document(doc)? else {
                        continue;
                    };
                    if reference.is_empty()
                        || d.subject.as_ref().and_then(|s| s.reference.as_deref())
                            == Some(reference.as_str())
                    {
                        hit = true;
                        break;
                    }
                    if self.refs_of(doc)?.get(reference) == Some(&package.key) {
                        hit = true;
                        break;
                    }
                }
                hit
            }
            VexTarget::Unresolved { .. } => false,
        })
    }

    /// Current documents of `deployment` with this serial number.
    fn linked_documents(
        &mut self,
        serial: &str,
        deployment: &str,
    ) -> Result<Vec<DocumentId>, StoreError> {
        if !self.serials.contains_key(serial) {
            let ids = self.store.documents_with_serial(serial)?;
            self.serials.insert(serial.to_string(), ids);
        }
        let current = self.current(deployment)?.clone();
        Ok(self.serials[serial]
            .iter()
            .copied()
            .filter(|id| current.contains(id))
            .collect())
    }

    fn refs_of(&mut self, doc: DocumentId) -> Result<&HashMap<String, String>, StoreError> {
        if !self.refs.contains_key(&doc) {
            let mut map = HashMap::new();
            for (p, occurrence) in self.store.document_packages(doc)? {
                for r in &occurrence.fact.refs {
                    map.insert(r.clone(), p.key.clone());
                }
            }
            self.refs.insert(doc, map);
        }
        Ok(&self.refs[&doc])
    }

    /// Package keys of the subjects of `deployment`'s current documents: a
    /// statement about the product's own purl covers all its packages.
    fn subject_keys(&mut self, deployment: &str) -> Result<&Vec<String>, StoreError> {
        if !self.subject_keys.contains_key(deployment) {
            let mut keys = Vec::new();
            for id in self.current(deployment)?.clone() {
                let Some(subject) = self.document(id)?.and_then(|d| d.subject_package) else {
                    continue;
                };
                if let Some(p) = self.store.package_by_id(subject)? {
                    keys.push(p.key);
                }
            }
            self.subject_keys.insert(deployment.to_string(), keys);
        }
        Ok(&self.subject_keys[deployment])
    }
}

/// `pkg:pypi/pip` names every version of pip; `pkg:pypi/pip@22.2.2` one.
fn same_package(target: &str, key: &str) -> bool {
    target == key
        || (!target.contains('@')
            && key
                .strip_prefix(target)
                .is_some_and(|rest| rest.starts_with('@')))
}

fn verdict_of(s: &VexStatement, doc: &DocumentRecord) -> VexVerdict {
    VexVerdict {
        status: s.status,
        state: s.state.clone(),
        justification: s.justification.clone(),
        detail: s.detail.clone(),
        response: s.response.clone(),
        timestamp: s.timestamp.clone(),
        vulnerability: s.vulnerability.clone(),
        document: doc.id,
        document_path: doc.source_path.clone(),
        location: s.location.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::same_package;

    #[test]
    fn versionless_purl_names_every_version() {
        assert!(same_package("pkg:pypi/pip", "pkg:pypi/pip@22.2.2"));
        assert!(same_package("pkg:pypi/pip@22.2.2", "pkg:pypi/pip@22.2.2"));
        assert!(!same_package("pkg:pypi/pip", "pkg:pypi/pipx@1"));
        assert!(!same_package("pkg:pypi/pip@22.2.1", "pkg:pypi/pip@22.2.2"));
    }
}
