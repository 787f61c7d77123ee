//! What a deployment holds, gathered once for every writer: the current
//! documents' packages merged by purl key (facts united), their edges with
//! kinds, the documents' subjects, and the advisory matches with their VEX
//! verdicts. Writers only format this; none reads the store.

use std::collections::{BTreeMap, BTreeSet};

use aibomdb_graph::{EdgeKind, ModelInfo, PackageFact};
use aibomdb_osv::MatchRow;
use aibomdb_store::{DocumentRecord, Occurrence, PackageId, PackageRecord, Store};
use sha2::{Digest, Sha256};

use crate::ExportError;

/// One package, model or dataset as all current documents state it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Component {
    pub key: String,
    pub ecosystem: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// The component type a document gave (`library`, `machine-learning-model`, …).
    pub kind: Option<String>,
    /// (algorithm as normalised by the graph, lower-case hex).
    pub hashes: BTreeSet<(String, String)>,
    /// Licences as the documents declared them.
    pub licenses: BTreeSet<String>,
    pub supplier: Option<String>,
    /// Who made it, with a contact (TR-03183-2 field 3).
    pub creator: Option<aibomdb_graph::Party>,
    /// Those of `licenses` a document marked as concluded.
    pub licenses_concluded: BTreeSet<String>,
    /// The file name as delivered.
    pub filename: Option<String>,
    /// What in-toto attestations bound to it by digest state (predicate,
    /// envelope, signature status, builder).
    pub attestations: Vec<aibomdb_graph::Attestation>,
    pub cpes: BTreeSet<String>,
    /// Where it comes from: index URL, `git+URL@rev`, a path.
    pub source: Option<String>,
    /// The richest model description any document gave.
    pub model: Option<ModelInfo>,
    /// Listed by a lockfile: its dependencies are the resolver's, complete.
    pub from_lockfile: bool,
}

pub(crate) struct Inventory {
    pub deployment: String,
    /// `urn:uuid:…`, derived from the deployment's current documents: the
    /// same content always gets the same serial number.
    pub serial: String,
    pub components: BTreeMap<String, Component>,
    /// (from key, to key, kind), every kind a current document states.
    pub edges: BTreeSet<(String, String, EdgeKind)>,
    /// The documents' subjects: what the deployment itself depends on.
    pub roots: BTreeSet<String>,
    /// The current documents, each with the packages it lists.
    pub documents: Vec<(DocumentRecord, Vec<PackageRecord>)>,
    /// The latest release (name, sequence) and what was last seen running,
    /// when the deployment has them (read by `gather`, not by the gate).
    pub released: Option<(String, u64)>,
    pub observed: Option<aibomdb_store::Observation>,
}

impl Inventory {
    /// A deployment with nothing in it (what a writer needs of an inventory
    /// to format one component that is not a model).
    pub(crate) fn empty(deployment: &str) -> Inventory {
        Inventory {
            deployment: deployment.to_string(),
            serial: format!(
                "urn:uuid:{}",
                uuid_from(&Sha256::digest(deployment.as_bytes()))
            ),
            components: BTreeMap::new(),
            edges: BTreeSet::new(),
            roots: BTreeSet::new(),
            documents: Vec::new(),
            released: None,
            observed: None,
        }
    }

    pub(crate) fn gather(store: &Store, deployment: &str) -> Result<Inventory, ExportError> {
        let documents: Vec<DocumentRecord> = store
            .deployment_documents(deployment)?
            .into_iter()
            .filter_map(|id| store.document(id).transpose())
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|d| d.is_current())
            .collect();
        if documents.is_empty() && store.deployments()?.iter().all(|d| d.name != deployment) {
            return Err(ExportError::NoDeployment(deployment.to_string()));
        }
        let mut read = Vec::with_capacity(documents.len());
        for doc in documents {
            let packages = store.document_packages(doc.id)?;
            read.push((doc, packages));
        }
        let mut inv = Self::of(store, deployment, &read)?;
        inv.released = store
            .latest_release(deployment)?
            .map(|r| (r.name, r.sequence));
        inv.observed = store.latest_observation(deployment)?;
        Ok(inv)
    }

    /// The inventory of documents the caller has read already (each with its
    /// packages and their facts); only the edges are read here.
    pub(crate) fn of(
        store: &Store,
        deployment: &str,
        documents: &[(DocumentRecord, Vec<(PackageRecord, Occurrence)>)],
    ) -> Result<Inventory, ExportError> {
        let mut inv = Self::merged(
            store,
            deployment,
            documents
                .iter()
                .map(|(d, ps)| (d, ps.iter().map(|(p, o)| (p, &o.fact)).collect())),
        )?;
        inv.documents = documents
            .iter()
            .map(|(d, ps)| (d.clone(), ps.iter().map(|(p, _)| p.clone()).collect()))
            .collect();
        Ok(inv)
    }

    /// What a model's component reads of the deployment when it is
    /// measured alone (`cyclonedx::component`): the edges from each model
    /// the documents list, and the components those edges lead to, merged
    /// as [`Inventory::merged`] merges them. Nothing else of the deployment
    /// is read (a model's CycloneDX component names its bases, datasets and
    /// evaluations by these edges alone).
    pub(crate) fn around_models(
        store: &Store,
        deployment: &str,
        documents: &[(&DocumentRecord, Vec<crate::ListedFact>)],
    ) -> Result<Inventory, ExportError> {
        // A model is a component some document's fact makes a model; its
        // edges count from every document that lists it. (A package id
        // stands for one key.)
        let models: rustc_hash::FxHashSet<PackageId> = documents
            .iter()
            .flat_map(|(_, listed)| listed)
            .filter(|l| l.fact.model.is_some())
            .map(|l| l.package.id)
            .collect();
        let mut edges = BTreeSet::new();
        let mut wanted: rustc_hash::FxHashSet<PackageId> = Default::default();
        for (doc, listed) in documents {
            if !listed.iter().any(|l| models.contains(&l.package.id)) {
                continue;
            }
            let keys: rustc_hash::FxHashMap<PackageId, &str> = listed
                .iter()
                .map(|l| (l.package.id, l.package.key.as_str()))
                .collect();
            for (from, to, record) in store.document_edges(doc.id)? {
                if !models.contains(&from) {
                    continue;
                }
                let (Some(&f), Some(&t)) = (keys.get(&from), keys.get(&to)) else {
                    continue;
                };
                wanted.insert(to);
                for kind in record.kinds() {
                    edges.insert((f.to_string(), t.to_string(), kind));
                }
            }
        }
        let mut components: BTreeMap<String, Component> = BTreeMap::new();
        for (doc, listed) in documents {
            let lockfile = doc.format.family() == "lockfile";
            for l in listed.iter().filter(|l| wanted.contains(&l.package.id)) {
                add(&mut components, l.package, l.fact, lockfile);
            }
        }
        Ok(Inventory {
            components,
            edges,
            ..Inventory::empty(deployment)
        })
    }

    /// Components merged by key in the documents' order, and the edges
    /// between what each document lists.
    fn merged<'a>(
        store: &Store,
        deployment: &str,
        documents: impl Iterator<
            Item = (
                &'a DocumentRecord,
                Vec<(&'a PackageRecord, &'a PackageFact)>,
            ),
        >,
    ) -> Result<Inventory, ExportError> {
        let mut identity = Sha256::new();
        identity.update(deployment.as_bytes());
        let mut components: BTreeMap<String, Component> = BTreeMap::new();
        let mut edges = BTreeSet::new();
        let mut roots = BTreeSet::new();
        for (doc, packages) in documents {
            identity.update(doc.sha256.as_bytes());
            let lockfile = doc.format.family() == "lockfile";
            let mut keys = BTreeMap::new();
            for (package, fact) in packages {
                keys.insert(package.id, package.key.clone());
                add(&mut components, package, fact, lockfile);
            }
            if let Some(subject) = doc.subject_package.and_then(|id| keys.get(&id)) {
                roots.insert(subject.clone());
            }
            for (from, to, record) in store.document_edges(doc.id)? {
                if let (Some(f), Some(t)) = (keys.get(&from), keys.get(&to)) {
                    for kind in record.kinds() {
                        edges.insert((f.clone(), t.clone(), kind));
                    }
                }
            }
        }
        let digest = identity.finalize();
        Ok(Inventory {
            deployment: deployment.to_string(),
            serial: format!("urn:uuid:{}", uuid_from(&digest)),
            components,
            edges,
            roots,
            documents: Vec::new(),
            released: None,
            observed: None,
        })
    }

    /// The deployment's advisory matches with their VEX verdicts.
    pub(crate) fn matches(&self, store: &Store) -> Result<Vec<MatchRow>, ExportError> {
        Ok(aibomdb_osv::matches_of(store, &self.documents)?)
    }

    /// Every edge from `from`: (target, kind).
    pub(crate) fn edges_from<'a>(
        &'a self,
        from: &'a str,
    ) -> impl Iterator<Item = (&'a str, EdgeKind)> + 'a {
        self.edges
            .range((from.to_string(), String::new(), EdgeKind::DependsOn)..)
            .take_while(move |(f, _, _)| f == from)
            .map(|(_, t, k)| (t.as_str(), *k))
    }

    /// The targets of `from`'s edges of the given kinds.
    pub(crate) fn targets<'a>(
        &'a self,
        from: &'a str,
        kinds: &'a [EdgeKind],
    ) -> impl Iterator<Item = (&'a str, EdgeKind)> + 'a {
        self.edges
            .range((from.to_string(), String::new(), EdgeKind::DependsOn)..)
            .take_while(move |(f, _, _)| f == from)
            .filter(move |(_, _, k)| kinds.contains(k))
            .map(|(_, t, k)| (t.as_str(), *k))
    }
}

impl Component {
    /// The component of `package`, before any fact is merged into it.
    pub(crate) fn of(package: &PackageRecord) -> Component {
        Component {
            key: package.key.clone(),
            ecosystem: package.ecosystem.clone(),
            namespace: package.namespace.clone(),
            name: package.name.clone(),
            version: package.version.clone(),
            ..Default::default()
        }
    }
}

/// `fact`, as a document (a lockfile or not) states it, merged into the
/// component of `package`, made at its first sight.
fn add(
    components: &mut BTreeMap<String, Component>,
    package: &PackageRecord,
    fact: &PackageFact,
    lockfile: bool,
) {
    let c = components
        .entry(package.key.clone())
        .or_insert_with(|| Component::of(package));
    c.from_lockfile |= lockfile;
    merge(c, fact);
}

pub(crate) fn merge(c: &mut Component, fact: &PackageFact) {
    for h in &fact.hashes {
        c.hashes
            .insert((h.alg.clone(), h.value.to_ascii_lowercase()));
    }
    c.licenses.extend(fact.licenses.iter().cloned());
    c.licenses_concluded
        .extend(fact.licenses_concluded.iter().cloned());
    c.cpes.extend(fact.cpes.iter().cloned());
    if c.supplier.is_none() {
        c.supplier = fact.supplier.clone();
    }
    // A creator that can be reached beats one that is only named.
    if fact.creator.as_ref().is_some_and(|new| {
        c.creator
            .as_ref()
            .is_none_or(|have| !have.has_contact() && new.has_contact())
    }) {
        c.creator = fact.creator.clone();
    }
    if c.filename.is_none() {
        c.filename = fact.filename.clone();
    }
    if let Some(a) = &fact.attestation
        && !c.attestations.contains(a)
    {
        c.attestations.push((**a).clone());
    }
    if c.kind.is_none() {
        c.kind = fact.kind.clone();
    }
    if c.source.is_none() {
        c.source = fact.source.clone();
    }
    if let Some(m) = &fact.model {
        let richer = c.model.as_ref().is_none_or(|have| {
            (m.sources.len(), m.artifacts.len()) > (have.sources.len(), have.artifacts.len())
        });
        if richer {
            c.model = Some((**m).clone());
        }
    }
}

/// A version-4-shaped UUID from a digest.
pub(crate) fn uuid_from(d: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A licence as a valid SPDX expression: as written when it parses, else its
/// canonical form when the lax parser recognises it (`Apache 2.0`), else
/// `None` (a name the SPDX list does not know).
pub(crate) fn spdx_expression(licence: &str) -> Option<String> {
    let licence = licence.trim();
    if spdx::Expression::parse(licence).is_ok() {
        return Some(licence.to_string());
    }
    spdx::Expression::canonicalize(licence)
        .ok()
        .flatten()
        .filter(|c| spdx::Expression::parse(c).is_ok())
}

/// The graph's hash algorithm names as (CycloneDX, SPDX 2.3) spell them.
pub(crate) fn hash_names(alg: &str) -> Option<(&'static str, &'static str)> {
    Some(match alg {
        "md5" => ("MD5", "MD5"),
        "sha1" => ("SHA-1", "SHA1"),
        "sha256" => ("SHA-256", "SHA256"),
        "sha384" => ("SHA-384", "SHA384"),
        "sha512" => ("SHA-512", "SHA512"),
        "sha3-256" => ("SHA3-256", "SHA3-256"),
        "sha3-384" => ("SHA3-384", "SHA3-384"),
        "sha3-512" => ("SHA3-512", "SHA3-512"),
        "blake2b-256" => ("BLAKE2b-256", "BLAKE2b-256"),
        "blake2b-384" => ("BLAKE2b-384", "BLAKE2b-384"),
        "blake2b-512" => ("BLAKE2b-512", "BLAKE2b-512"),
        "blake3" => ("BLAKE3", "BLAKE3"),
        _ => return None,
    })
}
