//! A document as the writers take it: the importer's facts, their
//! encodings and path tree computed off the writer thread, and the rows and
//! record both back ends make of it.

use std::borrow::Cow;
use std::sync::Arc;

use aibomdb_graph::{DocumentFacts, PackageFact, PackageKey, Scope};

use crate::fact_keys::{self, FactMemo};
use crate::occurrences::{DocRows, FactHash, FactId, RowEdge, RowPackage};
use crate::records::{LookupName, MatchRecord};
use crate::{DocumentId, DocumentRecord, EdgeRecord, PackageId, digests, hex};

/// A document ready to be written: the importer's facts plus where they came from.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub deployment: String,
    pub source_path: String,
    pub sha256: [u8; 32],
    pub size: u64,
    /// The importer's facts. Once [`NewDocument::encode_rows`] ran, their
    /// packages are in `rows` instead, and `facts.packages` is empty.
    pub facts: DocumentFacts,
    /// Per package (aligned with the document's packages; shorter means
    /// none): how advisories name it. Empty for a fact an earlier group of
    /// the same ingest wrote: its package has its names stored.
    pub lookup_names: Vec<Vec<LookupName>>,
    /// Per package: its advisory matches, computed before the write so that
    /// they land in the document's own transaction (`package` is filled in).
    pub matches: Vec<Vec<MatchRecord>>,
    /// [`crate::WriteMarks::advisories`] read before the matches were
    /// computed: a write that finds the counter moved since refuses the
    /// group with [`crate::StoreError::Stale`], so that the document is
    /// matched again against what the load brought. `None`: not checked.
    pub matched_at: Option<u64>,
    /// Rows computed ahead of the write ([`NewDocument::encode_rows`]); the
    /// writer computes them itself when `None`.
    pub rows: Option<EncodedRows>,
}

/// The parts of a document's rows that need no store access, computed on
/// the parser threads to take that work off the single writer: what the
/// writers read of each package, and the shortest-path tree from the subject.
#[derive(Debug, Clone, Default)]
pub struct EncodedRows {
    /// Per package, aligned with the document's packages.
    packages: Vec<PreparedPackage>,
    /// (node, parent, edge kind code) by package index.
    tree: Vec<(usize, usize, u8)>,
}

/// All a writer reads of one package of a document: its fact's shared part
/// encoded and hashed for interning, and the few fields that decide rows
/// beyond the fact's own (about 100 bytes; a `PackageFact` is 700 before
/// its heap). Parsed documents wait for the writer in hundreds, and their
/// full facts were most of an ingest's memory.
#[derive(Debug, Clone)]
pub struct PreparedPackage {
    /// The package's identity; `None`: not a package (no row).
    pub key: Option<PackageKey>,
    pub direct: Option<bool>,
    pub scope: Option<Scope>,
    /// The model-graph node (`model`, `dataset`) the fact describes.
    pub model_node: Option<Box<str>>,
    /// (lower-case SHA-256 hex, model file path or "") under which the
    /// package's artifacts and image are found by digest.
    pub digests: Vec<(String, String)>,
    /// The fact's shared part encoded, as the facts table holds it (shared
    /// by the occurrences of one fact that a parser's [`FactMemo`] saw).
    pub fact: Arc<[u8]>,
    /// The first 16 bytes of that encoding's SHA-256: its interning key.
    pub hash: FactHash,
}

impl PreparedPackage {
    /// What the writers read of `fact`, which keeps its fields.
    fn of(fact: &PackageFact) -> Self {
        let (bytes, hash) = fact_keys::intern_key(fact);
        let mut prepared = Self::keyless(fact, bytes.into(), hash);
        prepared.key = fact.key.clone();
        prepared
    }

    /// As [`PreparedPackage::of`], taking the key out of `fact` rather
    /// than copying it.
    fn taken_from(fact: &mut PackageFact, memo: &mut FactMemo) -> Self {
        let (bytes, hash) = fact_keys::intern_key_memo(fact, memo);
        let mut prepared = Self::keyless(fact, bytes, hash);
        prepared.key = fact.key.take();
        prepared
    }

    /// All but the key (the digests read it: an image's is its version).
    fn keyless(fact: &PackageFact, bytes: Arc<[u8]>, hash: FactHash) -> Self {
        PreparedPackage {
            key: None,
            direct: fact.direct,
            scope: fact.scope,
            model_node: model_node(fact).map(Box::from),
            digests: digests::entries(fact),
            fact: bytes,
            hash,
        }
    }
}

impl EncodedRows {
    /// Per package of the document, aligned with its packages.
    pub fn packages(&self) -> &[PreparedPackage] {
        &self.packages
    }

    /// (node, parent, edge kind code) by package index.
    pub fn tree(&self) -> &[(usize, usize, u8)] {
        &self.tree
    }
}

impl NewDocument {
    /// Fills [`NewDocument::rows`] and empties `facts.packages` (the rows
    /// hold all the writers read of them); call it off the writer thread.
    pub fn encode_rows(&mut self) {
        drop(self.encode_rows_returning_facts(&mut FactMemo::new()));
    }

    /// [`NewDocument::encode_rows`], handing the facts back (without their
    /// keys, which the rows hold) for the caller to read before it lets them
    /// go; empty when the rows were encoded already. `memo` holds the fact
    /// encodings seen before (a parser keeps one from document to document).
    pub fn encode_rows_returning_facts(&mut self, memo: &mut FactMemo) -> Vec<PackageFact> {
        if self.rows.is_some() {
            return Vec::new();
        }
        let tree = tree_rows(&self.facts);
        let mut facts = std::mem::take(&mut self.facts.packages);
        let packages = facts
            .iter_mut()
            .map(|fact| PreparedPackage::taken_from(fact, memo))
            .collect();
        self.rows = Some(EncodedRows { packages, tree });
        facts
    }

    /// Each package's key, aligned with the document's packages, encoded
    /// or not.
    pub fn package_keys(&self) -> Vec<Option<&PackageKey>> {
        match &self.rows {
            Some(rows) => rows.packages.iter().map(|p| p.key.as_ref()).collect(),
            None => self.facts.packages.iter().map(|p| p.key.as_ref()).collect(),
        }
    }
}

/// The path tree by package index, from the subject (empty without one).
fn tree_rows(facts: &DocumentFacts) -> Vec<(usize, usize, u8)> {
    match facts.subject.as_ref().and_then(|s| s.package) {
        Some(root) => path_tree(facts, root)
            .into_iter()
            .map(|(node, parent, kind)| (node, parent, kind.code()))
            .collect(),
        None => Vec::new(),
    }
}

/// A document's row from its facts, given the package id (0: none) and the
/// fact id of each package index; and how many distinct edges it states.
pub(crate) fn document_rows(
    facts: &DocumentFacts,
    packages: &[PreparedPackage],
    ids: &[PackageId],
    fact_ids: &[FactId],
    tree: &[(usize, usize, u8)],
) -> (DocRows, u64) {
    let mut order: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] != 0).collect();
    order.sort_by_key(|&i| ids[i]);
    let mut chosen: Vec<usize> = Vec::with_capacity(order.len());
    for i in order {
        match chosen.last_mut() {
            Some(last) if ids[*last] == ids[i] => *last = i,
            _ => chosen.push(i),
        }
    }
    let mut rows = DocRows {
        packages: chosen
            .iter()
            .map(|&i| RowPackage {
                id: ids[i],
                fact: fact_ids[i],
                direct: packages[i].direct,
                scope: packages[i].scope,
                parent: None,
            })
            .collect(),
        edges: Vec::new(),
    };
    let position = |index: usize| -> Option<u32> {
        let id = *ids.get(index).filter(|id| **id != 0)?;
        rows.position(id).map(|p| p as u32)
    };
    let mut parents = Vec::new();
    for &(node, parent, kind) in tree {
        if let (Some(n), Some(p)) = (position(node), position(parent)) {
            parents.push((n, p, kind));
        }
    }
    // `finish` sorted the edges, so the kinds one document states between
    // the same two nodes are adjacent: one row each pair.
    let mut edge_count = 0;
    let mut edges: Vec<RowEdge> = Vec::new();
    let mut pending: Option<(usize, usize)> = None;
    for e in &facts.dependencies {
        let (Some(from), Some(to)) = (position(e.from), position(e.to)) else {
            continue;
        };
        let pair = (ids[e.from], ids[e.to]);
        match (pending, edges.last_mut()) {
            (Some(p), Some(last)) if (ids[p.0], ids[p.1]) == pair => {
                if !last.record.kinds().any(|k| k == e.kind) {
                    last.record.also.push(e.kind);
                }
            }
            _ => {
                edge_count += 1;
                pending = Some((e.from, e.to));
                edges.push(RowEdge {
                    from,
                    to,
                    record: EdgeRecord {
                        kind: e.kind,
                        scope: e.scope,
                        marker: e.marker.clone(),
                        via_extra: e.via_extra.clone(),
                        also: Vec::new(),
                    },
                });
            }
        }
    }
    // By position (which is by id); the last statement of a pair stands.
    edges.sort_by_key(|e| (e.from, e.to));
    let mut deduped: Vec<RowEdge> = Vec::with_capacity(edges.len());
    for e in edges {
        match deduped.last_mut() {
            Some(last) if (last.from, last.to) == (e.from, e.to) => *last = e,
            _ => deduped.push(e),
        }
    }
    rows.edges = deduped;
    // By node id, the last parent given for a node stands.
    parents.sort_by_key(|(n, _, _)| *n);
    for (n, p, kind) in parents {
        rows.packages[n as usize].parent = Some((p, kind));
    }
    (rows, edge_count)
}

/// What the writers read of `doc`'s packages, and its path tree: what the
/// parser threads computed, or computed here.
pub(crate) fn prepared(doc: &NewDocument) -> Cow<'_, EncodedRows> {
    match doc.rows.as_ref() {
        Some(rows) => Cow::Borrowed(rows),
        None => Cow::Owned(EncodedRows {
            packages: doc.facts.packages.iter().map(PreparedPackage::of).collect(),
            tree: tree_rows(&doc.facts),
        }),
    }
}

/// Models and datasets by what the importer made of them, or by the
/// component type an SBOM gave.
fn model_node(fact: &PackageFact) -> Option<&str> {
    fact.model
        .as_ref()
        .map(|m| m.node.as_str())
        .or(match fact.kind.as_deref() {
            Some("machine-learning-model") => Some("model"),
            Some("data") => Some("dataset"),
            _ => None,
        })
}

/// The record of a document being written, given its id, its packages' ids
/// (0: none) by index, its slot and what it supersedes.
pub(crate) fn document_record(
    doc: &NewDocument,
    id: DocumentId,
    ids: &[PackageId],
    slot: String,
    supersedes: Option<DocumentId>,
    edge_count: u64,
    now: u64,
) -> DocumentRecord {
    let facts = &doc.facts;
    let subject_package = facts
        .subject
        .as_ref()
        .and_then(|s| s.package)
        .and_then(|i| ids.get(i).copied())
        .filter(|id| *id != 0);
    // Components, not counting the subject's own node.
    let package_count =
        ids.iter().filter(|id| **id != 0).count() as u64 - u64::from(subject_package.is_some());
    DocumentRecord {
        id,
        deployment: doc.deployment.clone(),
        format: facts.format,
        spec_version: facts.spec_version.clone(),
        tools: facts.tools.clone(),
        serial: facts.serial.clone(),
        created: facts.created.clone(),
        subject: facts.subject.clone(),
        subject_package,
        source_path: doc.source_path.clone(),
        sha256: hex(&doc.sha256),
        size: doc.size,
        ingested_at: now,
        supersedes,
        superseded_by: None,
        slot,
        package_count,
        entries: facts.entries_read as u64,
        edge_count,
        vex_statements: facts.vex.len() as u64,
        skipped: facts.skipped.clone(),
        warnings: facts.warnings.clone(),
    }
}

/// Breadth-first from `root` over the document's edges: for every reachable
/// package, the parent on one shortest path and the kind of the edge. Each
/// node's successors are visited in the order the edges are listed (`finish`
/// sorts them: depends_on before contains for a pair, and the first kind of a
/// pair is the one the tree keeps).
fn path_tree(facts: &DocumentFacts, root: usize) -> Vec<(usize, usize, aibomdb_graph::EdgeKind)> {
    let n = facts.packages.len();
    let mut out = Vec::new();
    if root >= n {
        return out;
    }
    // Successor lists as one array (a stable counting sort by `from`).
    let mut start = vec![0usize; n + 1];
    for e in &facts.dependencies {
        if e.from < n && e.to < n {
            start[e.from + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut next = vec![(0usize, aibomdb_graph::EdgeKind::DependsOn); start[n]];
    for e in &facts.dependencies {
        if e.from < n && e.to < n {
            next[fill[e.from]] = (e.to, e.kind);
            fill[e.from] += 1;
        }
    }
    let mut seen = vec![false; n];
    seen[root] = true;
    let mut queue = std::collections::VecDeque::from([root]);
    while let Some(node) = queue.pop_front() {
        for &(to, kind) in &next[start[node]..start[node + 1]] {
            if !seen[to] {
                seen[to] = true;
                out.push((to, node, kind));
                queue.push_back(to);
            }
        }
    }
    out
}
