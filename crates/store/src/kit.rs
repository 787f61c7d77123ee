//! What every back end shares: how a document becomes rows, how a path and a
//! hit are made from them, and how a deployment report is put together. The
//! redb store (this crate) and the PostgreSQL store (`aibomdb-store-pg`) both
//! call these, so the two cannot give different answers for the same
//! document: only where the rows are kept differs.
//!
//! Not an interface for other crates: it exists for back ends.

use std::borrow::Cow;
use std::collections::BTreeMap;

use aibomdb_graph::{PackageFact, Scope};

pub use crate::occurrences::{DocRows, FactHash, RowEdge, RowPackage};
use crate::records::{DeploymentHit, PathStep};
pub use crate::report::DocumentView;
use crate::{
    DeploymentReport, DocumentId, DocumentRecord, EncodedRows, MatchRecord, NewDocument, PackageId,
    PackageRecord, Result,
};

/// Postcard, as every record is stored.
pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    crate::codec::encode(value, &mut out);
    out
}

/// A stored record back; a failure names the table and key.
pub fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    table: &'static str,
    key: &str,
) -> Result<T> {
    crate::codec::decode(bytes, table, key)
}

/// What the writers read of `doc`'s packages, and its path tree: what the
/// parser threads computed, or computed here.
pub fn prepared(doc: &NewDocument) -> Cow<'_, EncodedRows> {
    crate::new_document::prepared(doc)
}

/// Identifies a lookup-name list among those one fact was given: a writer
/// checks the same list against the stored names once.
pub fn hash_names(names: &[crate::LookupName]) -> u64 {
    crate::write_cache::hash_names(names)
}

/// The node record of a new package.
pub fn package_record(id: PackageId, key: &aibomdb_graph::PackageKey) -> PackageRecord {
    crate::write::package_record(id, key)
}

/// A document's rows from its facts, given the package id (0: none) and the
/// fact id of each package index; and how many distinct edges it states.
pub fn document_rows(
    doc: &NewDocument,
    rows: &EncodedRows,
    ids: &[PackageId],
    fact_ids: &[u64],
) -> (DocRows, u64) {
    crate::new_document::document_rows(&doc.facts, rows.packages(), ids, fact_ids, rows.tree())
}

/// The slot (format family + subject) a document fills in its deployment.
pub fn slot_of(doc: &NewDocument) -> String {
    crate::slots::slot_of(&doc.facts, &doc.source_path)
}

/// The record of a document being written.
pub fn document_record(
    doc: &NewDocument,
    id: DocumentId,
    ids: &[PackageId],
    slot: String,
    supersedes: Option<DocumentId>,
    edge_count: u64,
    now: u64,
) -> DocumentRecord {
    crate::new_document::document_record(doc, id, ids, slot, supersedes, edge_count, now)
}

/// Bytes from hex, as document records keep their SHA-256.
pub fn unhex(text: &str) -> Vec<u8> {
    crate::unhex(text)
}

/// [`crate::StoreError::Stale`] for the first document of `docs` matched
/// at an advisory counter other than `now`, the counter under the writers'
/// lock.
pub fn refuse_stale_matches(docs: &[NewDocument], now: u64) -> Result<()> {
    match docs.iter().find(|d| d.matched_at.is_some_and(|m| m != now)) {
        Some(d) => Err(crate::StoreError::Stale(format!(
            "advisories were loaded after {} was matched",
            d.source_path
        ))),
        None => Ok(()),
    }
}

/// [`crate::StoreError::Stale`] for a full re-match whose `marks` no longer
/// hold under the writers' lock: a load changed the records it matched, or
/// an ingest gave an older package a lookup name it did not read.
pub fn refuse_moved_marks(
    marks: crate::WriteMarks,
    advisories: u64,
    package_keys: u64,
) -> Result<()> {
    if advisories != marks.advisories {
        return Err(crate::StoreError::Stale(
            "advisories were loaded while the re-match ran".into(),
        ));
    }
    if package_keys != marks.package_keys {
        return Err(crate::StoreError::Stale(
            "packages gained lookup names while the re-match ran".into(),
        ));
    }
    Ok(())
}

/// Under the writers' lock, for a full re-match's write with `marks`: refuses
/// it as stale when a load moved the advisories, or when an older package
/// was newly named and the write cannot match it late (`late_given` false).
/// True when it must match late ([`crate::LateRematch`]).
pub fn rematch_needs_late(
    marks: crate::WriteMarks,
    advisories: u64,
    package_keys: u64,
    late_given: bool,
) -> Result<bool> {
    let late = late_given && package_keys != marks.package_keys;
    // A late match answers for the moved key counter, not for the records.
    let keys_checked = if late {
        marks.package_keys
    } else {
        package_keys
    };
    refuse_moved_marks(marks, advisories, keys_checked)?;
    Ok(late)
}

/// From which package id a load's late matches read its changed keys under
/// the writers' lock, given the `marks` it matched at and the counters now:
/// `None` when nothing changed, the first new package when only packages
/// were added, 0 (every package) when an older one gained a lookup name.
pub fn late_from(marks: crate::WriteMarks, next_package: u64, package_keys: u64) -> Option<u64> {
    if package_keys != marks.package_keys {
        Some(0)
    } else if next_package > marks.next_package {
        Some(marks.next_package)
    } else {
        None
    }
}

/// Seconds since the epoch, as records stamp them.
pub fn now() -> u64 {
    crate::unix_now()
}

/// A match as stored (without its package and advisory, which key it).
pub fn encode_match(m: &MatchRecord) -> Vec<u8> {
    encode(&crate::advisories::StoredMatchRef::of(m))
}

/// Whether an advisory `row` replaces the `old` one stored under its id.
pub fn advisory_is_newer(row: &crate::AdvisoryRow, old: &crate::AdvisoryRow) -> bool {
    crate::advisories::is_newer(row, old)
}

/// A stored match back.
pub fn decode_match(bytes: &[u8], package: PackageId, advisory: &str) -> Result<MatchRecord> {
    crate::advisories::decode_match(bytes, package, advisory)
}

/// What a document lists, by package id, without what it said of each.
pub fn listing(rows: &DocRows) -> Vec<crate::ListedRow> {
    rows.packages
        .iter()
        .map(|r| crate::ListedRow {
            package: r.id,
            fact: r.fact,
            direct: r.direct,
            scope: r.scope,
            parent: r.parent,
        })
        .collect()
}

/// A document's rows back from their encoding.
pub fn decode_rows(bytes: &[u8], document: DocumentId) -> Result<DocRows> {
    DocRows::decode(bytes, document)
}

/// `direct` and `scope` in one small integer, as rows keep them.
pub fn occurrence_bits(direct: Option<bool>, scope: Option<Scope>) -> i16 {
    i16::from(crate::occurrences::bits_of(direct, scope))
}

/// [`occurrence_bits`] back.
pub fn from_occurrence_bits(bits: i16) -> (Option<bool>, Option<Scope>) {
    crate::occurrences::from_bits(bits as u8)
}

/// The fact a document stated: the interned part with its own bits.
pub fn fact_with_bits(
    mut shared: PackageFact,
    direct: Option<bool>,
    scope: Option<Scope>,
) -> PackageFact {
    shared.direct = direct;
    shared.scope = scope;
    shared
}

/// The chain from the document's subject down to the package at `position`
/// (subject excluded, package included), each with the kind code of the
/// edge into it, up the shortest-path tree; `None` when the package is not
/// reached from the subject (or the document has none). The subject itself
/// gives `Some(empty)`.
pub fn path_to_subject(
    rows: &DocRows,
    position: usize,
    subject: Option<PackageId>,
) -> Option<Vec<(PackageId, u8)>> {
    let chain = chain_to_subject(position, subject?, |at| {
        rows.packages.get(at).map(|r| (r.id, r.parent))
    })?;
    Some(
        chain
            .into_iter()
            .map(|(at, kind)| (rows.packages[at].id, kind))
            .collect(),
    )
}

/// The walk of [`path_to_subject`] over any rows: `row(at)` gives the id and
/// the tree parent (position, edge kind) at a position. The chain is of
/// positions (subject's child first, `position` last); empty when `position`
/// is the subject; `None` when the subject is not reached.
pub fn chain_to_subject(
    position: usize,
    subject: PackageId,
    row: impl Fn(usize) -> Option<(PackageId, Option<(u32, u8)>)>,
) -> Option<Vec<(usize, u8)>> {
    let mut chain: Vec<(usize, u8)> = Vec::new();
    let mut reached = subject == row(position)?.0;
    let mut at = position;
    while !reached && chain.len() < 10_000 {
        let (parent, kind) = row(at)?.1?;
        chain.push((at, kind));
        at = parent as usize;
        reached = subject == row(at)?.0;
    }
    if !reached {
        return None;
    }
    chain.reverse();
    Some(chain)
}

/// The lineage edges (derived from, trained on …) out of `package` in one
/// document's rows.
pub fn lineage_out(
    rows: &DocRows,
    package: PackageId,
    document: DocumentId,
) -> Vec<crate::LineageEdge> {
    let Some(position) = rows.position(package) else {
        return Vec::new();
    };
    rows.edges_from(position as u32)
        .filter(|e| e.record.kinds().any(|k| k.is_lineage()))
        .map(|e| crate::LineageEdge {
            from: package,
            to: rows.id_at(e.to),
            document,
            edge: e.record.clone(),
        })
        .collect()
}

/// The lineage edge `from` → `package` in one document's rows, if it states one.
pub fn lineage_in(
    rows: &DocRows,
    from: PackageId,
    package: PackageId,
    document: DocumentId,
) -> Option<crate::LineageEdge> {
    let (f, t) = (rows.position(from)?, rows.position(package)?);
    let e = rows.edges_from(f as u32).find(|e| e.to == t as u32)?;
    e.record
        .kinds()
        .any(|k| k.is_lineage())
        .then(|| crate::LineageEdge {
            from,
            to: package,
            document,
            edge: e.record.clone(),
        })
}

/// The document a hit is in.
pub struct Holder<'a> {
    pub deployment: &'a str,
    pub source_path: &'a str,
    pub current: bool,
    pub subject: Option<PackageId>,
}

/// A hit: the path deployment → document → subject → … → the package, from
/// [`path_to_subject`]'s chain (`key_of` names the chain's packages).
pub fn hit(
    holder: Holder<'_>,
    document: DocumentId,
    key: &str,
    fact: &PackageFact,
    chain: Option<&[(PackageId, u8)]>,
    key_of: impl FnMut(PackageId) -> Result<String>,
) -> Result<DeploymentHit> {
    let path = path_steps(&holder, document, key, chain, key_of)?;
    Ok(DeploymentHit {
        deployment: holder.deployment.to_string(),
        document,
        document_path: holder.source_path.to_string(),
        current: holder.current,
        package: key.to_string(),
        direct: fact.direct,
        scope: fact.scope.map(|s| s.as_str().to_string()),
        flags: fact.flags.clone(),
        path,
    })
}

/// A hit's path: deployment → document → subject → … → the package along
/// `chain`, or deployment → document → the package (`lists`) without one.
pub fn path_steps(
    holder: &Holder<'_>,
    document: DocumentId,
    key: &str,
    chain: Option<&[(PackageId, u8)]>,
    mut key_of: impl FnMut(PackageId) -> Result<String>,
) -> Result<Vec<PathStep>> {
    let mut path = vec![
        PathStep {
            kind: "deployment",
            id: holder.deployment.to_string(),
            via: "",
        },
        PathStep {
            kind: "document",
            id: format!("{document} ({})", holder.source_path),
            via: "has_document",
        },
    ];
    match (chain, holder.subject) {
        (Some(chain), Some(subject)) => {
            path.push(PathStep {
                kind: "package",
                id: key_of(subject)?,
                via: "describes",
            });
            for &(id, kind) in chain {
                path.push(PathStep {
                    kind: "package",
                    id: key_of(id)?,
                    via: aibomdb_graph::EdgeKind::from_code(kind)
                        .map_or("depends_on", |k| k.as_str()),
                });
            }
        }
        _ => path.push(PathStep {
            kind: "package",
            id: key.to_string(),
            via: "lists",
        }),
    }
    Ok(path)
}

/// What the report needs of one current document: its packages by key with
/// what it said, and the markers on edges into each.
pub fn document_view(
    record: DocumentRecord,
    rows: &DocRows,
    mut fact_of: impl FnMut(&RowPackage) -> Result<PackageFact>,
    mut key_of: impl FnMut(PackageId) -> Result<String>,
) -> Result<DocumentView> {
    let mut packages = BTreeMap::new();
    for row in &rows.packages {
        packages.insert(key_of(row.id)?, fact_of(row)?);
    }
    let mut edge_markers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &rows.edges {
        if let Some(m) = &e.record.marker {
            let list = edge_markers.entry(key_of(rows.id_at(e.to))?).or_default();
            if !list.contains(m) {
                list.push(m.clone());
            }
        }
    }
    Ok(DocumentView {
        record,
        packages,
        edge_markers,
    })
}

/// A deployment's report from all its documents (oldest first) and the
/// views of its current ones.
pub fn report(
    name: &str,
    documents: &[DocumentRecord],
    views: &[DocumentView],
) -> DeploymentReport {
    let (packages, gaps) = crate::report::packages_and_gaps(views);
    DeploymentReport {
        name: name.to_string(),
        documents: documents.iter().map(crate::report::summary).collect(),
        packages,
        gaps,
    }
}
