//! A deployment's dependency graph for a picture: the packages its current
//! documents list and the edges they state, each package marked when an
//! open advisory matches it, and each node on a path from a root to such a
//! package marked too. Large graphs are cut to `max_nodes`, keeping every
//! vulnerable package and the paths to it first, then the rest nearest the
//! roots; the answer says when it was cut.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use aibomdb_store::{PackageId, Store};
use serde::Serialize;

use crate::Result;

#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    pub id: PackageId,
    pub purl: String,
    /// An open advisory matches this package.
    pub vulnerable: bool,
    /// On a path from a root to a vulnerable package.
    pub on_vulnerable_path: bool,
    /// Hops from the nearest root.
    pub depth: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct DependencyGraph {
    pub deployment: String,
    pub nodes: Vec<GraphNode>,
    /// (from, to): `from` depends on `to`.
    pub edges: Vec<(PackageId, PackageId)>,
    /// Packages nothing in the deployment depends on.
    pub roots: Vec<PackageId>,
    /// Packages the documents list, before any cut.
    pub total_nodes: usize,
    pub truncated: bool,
}

pub fn dependency_graph(
    store: &Store,
    deployment: &str,
    max_nodes: usize,
) -> Result<Option<DependencyGraph>> {
    if !store.has_deployment(deployment)? {
        return Ok(None);
    }
    let mut purls: BTreeMap<PackageId, String> = BTreeMap::new();
    let mut edges: BTreeSet<(PackageId, PackageId)> = BTreeSet::new();
    for doc in store.current_documents(deployment)? {
        for p in store.document_package_records(doc)? {
            purls.insert(p.id, p.key);
        }
        for (from, to, _) in store.document_edges(doc)? {
            if from != to {
                edges.insert((from, to));
            }
        }
    }
    let by_key: HashMap<&str, PackageId> = purls.iter().map(|(id, k)| (k.as_str(), *id)).collect();
    let vulnerable: BTreeSet<PackageId> = aibomdb_osv::deployment_matches(store, Some(deployment))?
        .iter()
        .filter(|r| r.is_open())
        .filter_map(|r| by_key.get(r.package.as_str()).copied())
        .collect();

    let mut children: HashMap<PackageId, Vec<PackageId>> = HashMap::new();
    let mut parents: HashMap<PackageId, Vec<PackageId>> = HashMap::new();
    for &(from, to) in &edges {
        children.entry(from).or_default().push(to);
        parents.entry(to).or_default().push(from);
    }
    let roots: Vec<PackageId> = purls
        .keys()
        .copied()
        .filter(|id| !parents.contains_key(id))
        .collect();
    // Depth: hops from the nearest root (breadth first). Packages only on a
    // cycle get the depth of where the walk first meets them, or 0.
    let mut depth: HashMap<PackageId, u32> = HashMap::new();
    let mut queue: VecDeque<PackageId> = roots.iter().copied().collect();
    for &r in &roots {
        depth.insert(r, 0);
    }
    while let Some(id) = queue.pop_front() {
        let d = depth[&id];
        for &c in children.get(&id).into_iter().flatten() {
            if let std::collections::hash_map::Entry::Vacant(e) = depth.entry(c) {
                e.insert(d + 1);
                queue.push_back(c);
            }
        }
    }
    // Ancestors of the vulnerable packages: every path to them.
    let mut on_path: BTreeSet<PackageId> = vulnerable.clone();
    let mut stack: Vec<PackageId> = vulnerable.iter().copied().collect();
    while let Some(id) = stack.pop() {
        for &p in parents.get(&id).into_iter().flatten() {
            if on_path.insert(p) {
                stack.push(p);
            }
        }
    }
    // What to keep: the vulnerable packages, then the paths to them, then
    // the nearest (packages only on a cycle, never reached from a root, last).
    let total_nodes = purls.len();
    let mut order: Vec<PackageId> = purls.keys().copied().collect();
    order.sort_by_key(|id| {
        (
            !vulnerable.contains(id),
            !on_path.contains(id),
            depth.get(id).copied().unwrap_or(u32::MAX),
            *id,
        )
    });
    order.truncate(max_nodes);
    let kept: BTreeSet<PackageId> = order.into_iter().collect();
    let nodes = kept
        .iter()
        .map(|id| GraphNode {
            id: *id,
            purl: purls[id].clone(),
            vulnerable: vulnerable.contains(id),
            on_vulnerable_path: on_path.contains(id),
            depth: depth.get(id).copied().unwrap_or(0),
        })
        .collect();
    Ok(Some(DependencyGraph {
        deployment: deployment.to_string(),
        nodes,
        edges: edges
            .into_iter()
            .filter(|(a, b)| kept.contains(a) && kept.contains(b))
            .collect(),
        roots: roots.into_iter().filter(|r| kept.contains(r)).collect(),
        total_nodes,
        truncated: kept.len() < total_nodes,
    }))
}
