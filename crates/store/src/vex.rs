//! VEX statements as documents made them, and which matches they cover.
//!
//! The store files each statement under every id it answers to. A statement
//! covers a match (deployment D, package P, advisory A) when:
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
//!
//! The resolver lives with the store so that one function decides both what
//! the reports answer (`crates/osv` re-exports it) and which events a change
//! causes: it reads either what the store holds or, inside a write
//! transaction, what it will hold once that commits.

use std::collections::{BTreeSet, HashMap};

use aibomdb_graph::{VexStatement, VexStatus, VexTarget};
use redb::{ReadableDatabase, ReadableTable};
use serde::Serialize;

use crate::records::DeploymentRecord;
use crate::tables::*;
use crate::{DocumentId, DocumentRecord, PackageId, PackageRecord, RedbStore, Result, decode};

/// A statement and the document that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexRecord {
    pub document: DocumentId,
    /// Index of the statement within its document.
    pub index: u32,
    pub statement: VexStatement,
}

impl RedbStore {
    /// Statements naming any of `identifiers` (compared case-insensitively),
    /// from every document, current or not; each statement once.
    pub fn vex_for(&self, identifiers: &[String]) -> Result<Vec<VexRecord>> {
        let txn = self.db.begin_read()?;
        statements_naming(&txn.open_table(VEX_STATEMENTS)?, identifiers)
    }

    /// Every statement in the store, in document order.
    pub fn all_vex(&self) -> Result<Vec<VexRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(VEX_STATEMENTS)?;
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let (id, document, index) = k.value();
            if seen.insert((document, index)) {
                out.push(VexRecord {
                    document,
                    index,
                    statement: decode(v.value(), "vex_statements", id)?,
                });
            }
        }
        out.sort_by_key(|r| (r.document, r.index));
        Ok(out)
    }

    /// Documents whose serial number (CycloneDX `serialNumber`, SPDX namespace)
    /// is `serial`, in either spelling (`urn:uuid:…` or the bare uuid).
    pub fn documents_with_serial(&self, serial: &str) -> Result<Vec<DocumentId>> {
        let txn = self.db.begin_read()?;
        documents_with_serial(&txn.open_table(DOCUMENT_BY_SERIAL)?, serial)
    }
}

/// What a [`VexResolver`] reads: a store's committed state, or what a
/// write transaction will leave once it commits. redb's are [`Source`];
/// another back end gives its own ([`VexResolver::over_view`]).
pub trait VexSource {
    fn document(&self, id: DocumentId) -> Result<Option<DocumentRecord>>;
    /// A deployment's current documents, by id.
    fn current_documents(&self, deployment: &str) -> Result<Vec<DocumentId>>;
    /// Statements naming any of `identifiers` (compared case-insensitively),
    /// each once, in document order.
    fn vex_for(&self, identifiers: &[String]) -> Result<Vec<VexRecord>>;
    fn documents_with_serial(&self, serial: &str) -> Result<Vec<DocumentId>>;
    fn package(&self, id: PackageId) -> Result<Option<PackageRecord>>;
    /// bom-ref → package key of one document's entries.
    fn refs_of(&self, doc: DocumentId) -> Result<HashMap<String, String>>;
}

/// Where a resolver reads: the committed store, a redb write transaction,
/// or another back end's view.
pub(crate) enum Source<'a> {
    Store(&'a dyn crate::Backend),
    Txn(&'a redb::WriteTransaction),
    View(&'a dyn VexSource),
}

impl VexSource for Source<'_> {
    fn document(&self, id: DocumentId) -> Result<Option<DocumentRecord>> {
        match self {
            Source::Store(s) => s.document(id),
            Source::View(v) => v.document(id),
            Source::Txn(txn) => txn
                .open_table(DOCUMENTS)?
                .get(id)?
                .map(|v| decode(v.value(), "documents", &id.to_string()))
                .transpose(),
        }
    }

    fn current_documents(&self, deployment: &str) -> Result<Vec<DocumentId>> {
        match self {
            Source::Store(s) => s.current_documents(deployment),
            Source::View(v) => v.current_documents(deployment),
            Source::Txn(txn) => {
                let table = txn.open_table(DEPLOYMENTS)?;
                let Some(v) = table.get(deployment)? else {
                    return Ok(Vec::new());
                };
                let record: DeploymentRecord = decode(v.value(), "deployments", deployment)?;
                let mut ids: Vec<DocumentId> =
                    record.current.into_iter().map(|(_, id)| id).collect();
                ids.sort_unstable();
                Ok(ids)
            }
        }
    }

    fn vex_for(&self, identifiers: &[String]) -> Result<Vec<VexRecord>> {
        match self {
            Source::Store(s) => s.vex_for(identifiers),
            Source::View(v) => v.vex_for(identifiers),
            Source::Txn(txn) => statements_naming(&txn.open_table(VEX_STATEMENTS)?, identifiers),
        }
    }

    fn documents_with_serial(&self, serial: &str) -> Result<Vec<DocumentId>> {
        match self {
            Source::Store(s) => s.documents_with_serial(serial),
            Source::View(v) => v.documents_with_serial(serial),
            Source::Txn(txn) => documents_with_serial(&txn.open_table(DOCUMENT_BY_SERIAL)?, serial),
        }
    }

    fn package(&self, id: PackageId) -> Result<Option<PackageRecord>> {
        match self {
            Source::Store(s) => s.package_by_id(id),
            Source::View(v) => v.package(id),
            Source::Txn(txn) => txn
                .open_table(PACKAGES)?
                .get(id)?
                .map(|v| decode(v.value(), "packages", &id.to_string()))
                .transpose(),
        }
    }

    fn refs_of(&self, doc: DocumentId) -> Result<HashMap<String, String>> {
        let mut map = HashMap::new();
        match self {
            Source::View(v) => return v.refs_of(doc),
            Source::Store(s) => {
                for (p, occurrence) in s.document_packages(doc)? {
                    for r in &occurrence.fact.refs {
                        map.insert(r.clone(), p.key.clone());
                    }
                }
            }
            Source::Txn(txn) => {
                let doc_rows = txn.open_table(DOCUMENT_ROWS)?;
                let Some(rows) = crate::occurrences::rows_of(&doc_rows, doc)? else {
                    return Ok(map);
                };
                let facts = txn.open_table(FACTS)?;
                let packages = txn.open_table(PACKAGES)?;
                for row in &rows.packages {
                    let fact = crate::occurrences::fact_of(&facts, row)?;
                    if fact.refs.is_empty() {
                        continue;
                    }
                    let Some(p) = packages.get(row.id)? else {
                        continue;
                    };
                    let p: PackageRecord = decode(p.value(), "packages", &row.id.to_string())?;
                    for r in &fact.refs {
                        map.insert(r.clone(), p.key.clone());
                    }
                }
            }
        }
        Ok(map)
    }
}

/// Statements naming any of `identifiers` (compared case-insensitively),
/// each once, in document order.
fn statements_naming(
    table: &impl ReadableTable<(&'static str, u64, u32), &'static [u8]>,
    identifiers: &[String],
) -> Result<Vec<VexRecord>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for id in identifiers {
        let id = id.trim().to_ascii_uppercase();
        for entry in table.range((id.as_str(), 0, 0)..=(id.as_str(), u64::MAX, u32::MAX))? {
            let (k, v) = entry?;
            let (_, document, index) = k.value();
            if seen.insert((document, index)) {
                out.push(VexRecord {
                    document,
                    index,
                    statement: decode(v.value(), "vex_statements", &id)?,
                });
            }
        }
    }
    out.sort_by_key(|r| (r.document, r.index));
    Ok(out)
}

fn documents_with_serial(
    table: &impl ReadableTable<(&'static str, u64), ()>,
    serial: &str,
) -> Result<Vec<DocumentId>> {
    let serial = aibomdb_graph::normalise_serial(serial);
    let mut out = Vec::new();
    for entry in table.range((serial.as_str(), 0)..=(serial.as_str(), u64::MAX))? {
        out.push(entry?.0.value().1);
    }
    Ok(out)
}

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
    source: Source<'a>,
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
    pub fn new(store: &'a crate::Store) -> Self {
        Self::over(Source::Store(store.backend()))
    }

    /// A resolver over another back end's view (its committed state, or
    /// what its write transaction will leave).
    pub fn over_view(view: &'a dyn VexSource) -> Self {
        Self::over(Source::View(view))
    }

    fn over(source: Source<'a>) -> Self {
        VexResolver {
            source,
            documents: HashMap::new(),
            current: HashMap::new(),
            by_advisory: HashMap::new(),
            refs: HashMap::new(),
            subject_keys: HashMap::new(),
            serials: HashMap::new(),
        }
    }

    fn document(&mut self, id: DocumentId) -> Result<Option<&DocumentRecord>> {
        if !self.documents.contains_key(&id) {
            match self.source.document(id)? {
                Some(d) => {
                    self.documents.insert(id, d);
                }
                None => return Ok(None),
            }
        }
        Ok(self.documents.get(&id))
    }

    fn current(&mut self, deployment: &str) -> Result<&Vec<DocumentId>> {
        if !self.current.contains_key(deployment) {
            let ids = self.source.current_documents(deployment)?;
            self.current.insert(deployment.to_string(), ids);
        }
        Ok(&self.current[deployment])
    }

    /// Whether any statement names the advisory known by `identifiers` (read
    /// once, as [`Self::verdict`] reads it): when none does, no package in any
    /// deployment has a verdict on it.
    pub fn is_named(&mut self, identifiers: &[String]) -> Result<bool> {
        Ok(!self.statements_for(identifiers)?.is_empty())
    }

    /// The statements that name the advisory known by `identifiers`, read
    /// once per advisory.
    fn statements_for(&mut self, identifiers: &[String]) -> Result<&[VexRecord]> {
        let Some(first) = identifiers.first() else {
            return Ok(&[]);
        };
        if !self.by_advisory.contains_key(first) {
            let found = self.source.vex_for(identifiers)?;
            self.by_advisory.insert(first.clone(), found);
        }
        Ok(&self.by_advisory[first])
    }

    /// The deciding statement for `package` in `deployment` and the advisory
    /// known by `identifiers` (its id first, then aliases and upstream ids).
    pub fn verdict(
        &mut self,
        deployment: &str,
        package: &PackageRecord,
        identifiers: &[String],
    ) -> Result<Option<VexVerdict>> {
        let candidates = self.statements_for(identifiers)?.to_vec();
        let mut best: Option<(&VexRecord, Rank)> = None;
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
            let rank = (
                record.statement.timestamp.as_deref().and_then(instant),
                record.document,
            );
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
    ) -> Result<bool> {
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
    fn linked_documents(&mut self, serial: &str, deployment: &str) -> Result<Vec<DocumentId>> {
        if !self.serials.contains_key(serial) {
            let ids = self.source.documents_with_serial(serial)?;
            self.serials.insert(serial.to_string(), ids);
        }
        let current = self.current(deployment)?.clone();
        Ok(self.serials[serial]
            .iter()
            .copied()
            .filter(|id| current.contains(id))
            .collect())
    }

    fn refs_of(&mut self, doc: DocumentId) -> Result<&HashMap<String, String>> {
        if !self.refs.contains_key(&doc) {
            let map = self.source.refs_of(doc)?;
            self.refs.insert(doc, map);
        }
        Ok(&self.refs[&doc])
    }

    /// Package keys of the subjects of `deployment`'s current documents: a
    /// statement about the product's own purl covers all its packages.
    fn subject_keys(&mut self, deployment: &str) -> Result<&Vec<String>> {
        if !self.subject_keys.contains_key(deployment) {
            let mut keys = Vec::new();
            for id in self.current(deployment)?.clone() {
                let Some(subject) = self.document(id)?.and_then(|d| d.subject_package) else {
                    continue;
                };
                if let Some(p) = self.source.package(subject)? {
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

/// A covering statement's precedence: its time, then its document (ingest order).
type Rank = (Option<(i64, u32)>, DocumentId);

/// An RFC 3339 timestamp as (seconds since the epoch, nanoseconds), so that
/// statements are ordered by time, not by text: `…:08Z` and OpenVEX's zoneless
/// `…:08` (lib4vex writes it; read as UTC) are the same second, `+02:00`
/// offsets count, and fractions compare as numbers. None when it is no
/// timestamp: such a statement ranks below every dated one, by ingest order.
fn instant(ts: &str) -> Option<(i64, u32)> {
    let ts = ts.trim();
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, rest) = ts.split_at_checked(10)?;
    let mut d = date.split('-');
    let (year, month, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.split(':');
    let (h, m, sec) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if t.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        num(fraction)?;
        let digits: String = fraction
            .chars()
            .chain("000000000".chars())
            .take(9)
            .collect();
        digits.parse().ok()?
    };
    let offset = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (oh, om) = z[1..].split_once(':')?;
            sign * (num(oh)? * 3600 + num(om)? * 60)
        }
    };
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + m * 60 + sec - offset, nanos))
}

#[cfg(test)]
mod tests {
    use super::{instant, same_package};

    #[test]
    fn timestamps_order_by_time_not_text() {
        assert_eq!(instant("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(instant("2026-11-23T10:54:08Z"), Some((1_795_431_248, 0)));
        // lib4vex's zoneless OpenVEX form is the same second as its CycloneDX one.
        assert_eq!(
            instant("2026-11-23T10:54:08"),
            instant("2026-11-23T10:54:08Z")
        );
        // Text order says "+02:00" is later; it is two hours earlier.
        assert!(instant("2026-11-23T11:00:00+02:00") < instant("2026-11-23T10:00:00Z"));
        assert_eq!(
            instant("2026-11-23T10:54:08.5Z"),
            Some((1_795_431_248, 500_000_000))
        );
        assert!(instant("2026-11-23T10:54:08.25Z") < instant("2026-11-23T10:54:08.5Z"));
        assert_eq!(instant("2000-02-29T00:00:00-00:30"), Some((951_784_200, 0)));
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-23",
            "2026-11-23T10:54",
        ] {
            assert_eq!(instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn versionless_purl_names_every_version() {
        assert!(same_package("pkg:pypi/pip", "pkg:pypi/pip@22.2.2"));
        assert!(same_package("pkg:pypi/pip@22.2.2", "pkg:pypi/pip@22.2.2"));
        assert!(!same_package("pkg:pypi/pip", "pkg:pypi/pipx@1"));
        assert!(!same_package("pkg:pypi/pip@22.2.1", "pkg:pypi/pip@22.2.2"));
    }
}
