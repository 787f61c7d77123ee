//! Lineage walks up (bases, datasets) and down (fine-tunes, adapters,
//! quantizations) across documents, the deployments running a model, and the
//! datasets the store knows.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use aibomdb_graph::PackageKey;
use aibomdb_store::{DeploymentHit, PackageId, PackageRecord, Store};
use serde::Serialize;

use crate::models::resolve_models;
use crate::{Result, Target};

/// Which way a lineage walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Towards base models and datasets.
    Up,
    /// Towards fine-tunes, adapters, quantizations and merges of the model
    /// (and, from a dataset, the models trained or evaluated on it).
    Down,
    Both,
}

/// A node of a lineage walk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageNode {
    pub purl: String,
    pub name: String,
    /// `model`, `dataset`, or `package` when no document describes it.
    pub node: String,
    /// base, fine-tune, adapter, quantized, merged — when a document says.
    pub kind: Option<String>,
    /// Hops from the model asked about: negative up (bases), positive down.
    pub level: i32,
}

/// An edge of a lineage walk, with the current documents that state it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageLink {
    pub from: String,
    pub to: String,
    /// `derived_from:adapter`, `trained_on`, …
    pub relation: String,
    pub documents: Vec<aibomdb_store::DocumentId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageGraph {
    pub roots: Vec<String>,
    pub nodes: Vec<LineageNode>,
    pub links: Vec<LineageLink>,
}

/// Walks lineage edges of every current document from the model(s) `model`
/// names, `depth` hops at most.
pub fn lineage(
    store: &Store,
    model: &str,
    direction: Direction,
    depth: u32,
) -> Result<LineageGraph> {
    let roots = match resolve_models(store, model) {
        Ok(r) => r,
        // A dataset is a fine place to start a downward walk.
        Err(e) => {
            let found: Vec<_> = store
                .model_nodes("dataset")?
                .into_iter()
                .filter(|p| {
                    p.key == model || p.name == model || p.key.ends_with(&format!("/{model}"))
                })
                .collect();
            if found.is_empty() {
                return Err(e);
            }
            found
        }
    };
    let mut levels: BTreeMap<PackageId, i32> = roots.iter().map(|r| (r.id, 0)).collect();
    let mut links: BTreeMap<(PackageId, PackageId, String), BTreeSet<u64>> = BTreeMap::new();
    for (up, sign) in [(true, -1), (false, 1)] {
        match (direction, up) {
            (Direction::Up, false) | (Direction::Down, true) => continue,
            _ => {}
        }
        let mut queue: VecDeque<(PackageId, u32)> = roots.iter().map(|r| (r.id, 0)).collect();
        let mut seen: BTreeSet<PackageId> = queue.iter().map(|(id, _)| *id).collect();
        while let Some((node, hops)) = queue.pop_front() {
            if hops >= depth {
                continue;
            }
            let edges = if up {
                store.lineage_from(node)?
            } else {
                store.lineage_to(node)?
            };
            for e in edges {
                let next = if up { e.to } else { e.from };
                for kind in e.edge.kinds().filter(|k| k.is_lineage()) {
                    links
                        .entry((e.from, e.to, kind.as_str().to_string()))
                        .or_default()
                        .insert(e.document);
                }
                if seen.insert(next) {
                    levels.entry(next).or_insert(sign * (hops as i32 + 1));
                    queue.push_back((next, hops + 1));
                }
            }
        }
    }
    let mut nodes = Vec::new();
    let mut purls: HashMap<PackageId, String> = HashMap::new();
    for (&id, &level) in &levels {
        let Some(p) = store.package_by_id(id)? else {
            continue;
        };
        let (node, kind) = describe(store, id)?;
        purls.insert(id, p.key.clone());
        nodes.push(LineageNode {
            name: display_name(&p),
            purl: p.key,
            node,
            kind,
            level,
        });
    }
    nodes.sort_by(|a, b| (a.level, &a.purl).cmp(&(b.level, &b.purl)));
    let links = links
        .into_iter()
        .filter_map(|((from, to, relation), docs)| {
            Some(LineageLink {
                from: purls.get(&from)?.clone(),
                to: purls.get(&to)?.clone(),
                relation,
                documents: docs.into_iter().collect(),
            })
        })
        .collect();
    Ok(LineageGraph {
        roots: roots.into_iter().map(|r| r.key).collect(),
        nodes,
        links,
    })
}

fn display_name(p: &PackageRecord) -> String {
    match (&p.namespace, p.ecosystem.as_str()) {
        (Some(ns), "huggingface") => format!("{ns}/{}", p.name),
        (Some(ns), _) if ns.starts_with("huggingface-datasets/") => {
            format!("{}/{}", &ns["huggingface-datasets/".len()..], p.name)
        }
        _ => p.name.clone(),
    }
}

/// What the documents that list a package say it is: model or dataset, and
/// the model's kind.
fn describe(store: &Store, package: PackageId) -> Result<(String, Option<String>)> {
    let mut node = None;
    let mut kind = None;
    for doc in store.package_document_ids(package)? {
        if let Some(o) = store.occurrence(doc, package)?
            && let Some(m) = o.fact.model
        {
            node.get_or_insert(m.node);
            if kind.is_none() {
                kind = m.kind;
            }
        }
    }
    Ok((node.unwrap_or_else(|| "package".into()), kind))
}

/// A deployment that runs the model asked about, or a model derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningHit {
    /// The model the deployment runs.
    pub model: String,
    /// From that model down to the one asked about (`[model]` when it is the
    /// one asked about), with the relation of each hop.
    pub lineage: Vec<String>,
    pub hit: DeploymentHit,
}

/// Every deployment that runs the model(s) `model` names or, with
/// `derived`, any fine-tune, adapter, quantization or merge of them — through
/// lineage stated in any current document, not only in the deployment's own.
pub fn deployments_running(store: &Store, model: &str, derived: bool) -> Result<Vec<RunningHit>> {
    let roots = resolve_models(store, model)?;
    // model → the chain from it to a root, found breadth first.
    let mut chains: BTreeMap<PackageId, Vec<String>> = BTreeMap::new();
    let mut queue: VecDeque<PackageId> = VecDeque::new();
    for r in &roots {
        chains.insert(r.id, vec![r.key.clone()]);
        queue.push_back(r.id);
    }
    while derived && let Some(node) = queue.pop_front() {
        if chains.len() > 10_000 {
            break;
        }
        for e in store.lineage_to(node)? {
            let Some(relation) = e.edge.kinds().find_map(|k| k.relation()) else {
                continue;
            };
            if chains.contains_key(&e.from) {
                continue;
            }
            let Some(p) = store.package_by_id(e.from)? else {
                continue;
            };
            let mut chain = vec![p.key.clone(), format!("({relation})")];
            chain.extend(chains[&node].iter().cloned());
            chains.insert(e.from, chain);
            queue.push_back(e.from);
        }
    }
    // One answer per (deployment, document): the most derived model it runs.
    // A fine-tune's own document lists its base too, reached through it.
    let mut best: BTreeMap<(String, aibomdb_store::DocumentId), RunningHit> = BTreeMap::new();
    for chain in chains.values() {
        let key = PackageKey::from_stored(chain[0].clone());
        for hit in crate::deployments_using(store, &Target::Purl(key), false)?.hits {
            let slot = (hit.deployment.clone(), hit.document);
            if best
                .get(&slot)
                .is_none_or(|kept| kept.lineage.len() < chain.len())
            {
                best.insert(
                    slot,
                    RunningHit {
                        model: chain[0].clone(),
                        lineage: chain.clone(),
                        hit,
                    },
                );
            }
        }
    }
    Ok(best.into_values().collect())
}

/// A dataset and the models trained or evaluated on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetView {
    pub purl: String,
    pub name: String,
    pub trained: Vec<String>,
    pub evaluated: Vec<String>,
}

/// Every dataset a document names, with the models current documents say
/// were trained or evaluated on it.
pub fn datasets(store: &Store) -> Result<Vec<DatasetView>> {
    let mut out = Vec::new();
    for d in store.model_nodes("dataset")? {
        let mut trained = BTreeSet::new();
        let mut evaluated = BTreeSet::new();
        for e in store.lineage_to(d.id)? {
            let Some(p) = store.package_by_id(e.from)? else {
                continue;
            };
            for k in e.edge.kinds() {
                match k {
                    aibomdb_graph::EdgeKind::TrainedOn => {
                        trained.insert(p.key.clone());
                    }
                    aibomdb_graph::EdgeKind::EvaluatedOn => {
                        evaluated.insert(p.key.clone());
                    }
                    _ => {}
                }
            }
        }
        out.push(DatasetView {
            name: display_name(&d),
            purl: d.key,
            trained: trained.into_iter().collect(),
            evaluated: evaluated.into_iter().collect(),
        });
    }
    Ok(out)
}
