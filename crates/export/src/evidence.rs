//! The TR-03183-2 report for many deployments that list the same packages:
//! each component is measured once per distinct way of making it — its
//! package, the facts merged into it in the documents' order, whether a
//! lockfile lists it — with the same writer (`cyclonedx::component`) and the
//! same checks (`cra::measure`) as the report on a whole export.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aibomdb_graph::PackageFact;
use aibomdb_store::{DocumentRecord, FactId, PackageId, PackageRecord};

use crate::Options;
use crate::cra::{self, CraReport, Measured};
use crate::cyclonedx::{self, Spec};
use crate::inventory::{Component, Inventory, merge};

/// One package a document lists, with the (interned) fact it stated.
pub struct ListedFact<'a> {
    pub package: &'a PackageRecord,
    pub fact: &'a PackageFact,
    pub fact_id: FactId,
}

type ComponentKey = (PackageId, Vec<FactId>, bool);

/// How the documents make one component: its package, the facts merged into
/// it in order, and whether a lockfile lists it.
struct Making<'a> {
    package: &'a PackageRecord,
    fact_ids: Vec<FactId>,
    facts: Vec<&'a PackageFact>,
    lockfile: bool,
}

/// SBOM-level fields, for the options they were measured with.
type SbomFields = Vec<(u8, &'static str, &'static str, &'static str, bool)>;

/// Components measured so far, by how they were made.
#[derive(Default)]
pub struct EvidenceMemo {
    components: HashMap<ComponentKey, Arc<Measured>>,
    sbom: Option<(Options, SbomFields)>,
}

impl EvidenceMemo {
    /// How many components it holds.
    pub fn len(&self) -> usize {
        self.components.len()
    }

    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }
}

/// The report [`crate::cra_report_of`] gives for these documents, measured
/// per component through `memo`, except that each field's `missing` names
/// at most `named` components (`present` and `total` count them all);
/// `None` when a component describes a model or dataset (its card and files
/// read the deployment's lineage edges, so the caller measures the whole
/// export instead).
pub fn cra_report_listed(
    deployment: &str,
    documents: &[(&DocumentRecord, Vec<ListedFact>)],
    opts: &Options,
    named: usize,
    memo: &mut EvidenceMemo,
) -> Option<CraReport> {
    // As `Inventory::of` merges: by key, in the documents' order.
    let mut made: BTreeMap<&str, Making> = BTreeMap::new();
    for (doc, listed) in documents {
        let lockfile = doc.format.family() == "lockfile";
        for l in listed {
            if l.fact.model.is_some() {
                return None;
            }
            let entry = made
                .entry(l.package.key.as_str())
                .or_insert_with(|| Making {
                    package: l.package,
                    fact_ids: Vec::new(),
                    facts: Vec::new(),
                    lockfile: false,
                });
            entry.fact_ids.push(l.fact_id);
            entry.facts.push(l.fact);
            entry.lockfile |= lockfile;
        }
    }
    // No component is a model, so the writer reads nothing of the inventory.
    let empty = std::cell::OnceCell::new();
    let empty = || empty.get_or_init(|| Inventory::empty(deployment));
    let mut measured = Vec::with_capacity(made.len());
    for Making {
        package,
        fact_ids,
        facts,
        lockfile,
    } in made.into_values()
    {
        let key = (package.id, fact_ids, lockfile);
        if let Some(m) = memo.components.get(&key) {
            measured.push(m.clone());
            continue;
        }
        let mut c = Component {
            key: package.key.clone(),
            ecosystem: package.ecosystem.clone(),
            namespace: package.namespace.clone(),
            name: package.name.clone(),
            version: package.version.clone(),
            from_lockfile: lockfile,
            ..Default::default()
        };
        for f in facts {
            merge(&mut c, f);
        }
        let (value, files) = cyclonedx::component(empty(), &c, Spec::V1_6);
        debug_assert!(files.is_empty(), "only a model has nested files");
        // `cyclonedx::bom` gives every component a `dependencies` entry and
        // puts it in a composition (complete from a lockfile, else unknown).
        let m = Arc::new(cra::measure(&value, &|_| true));
        measured.push(m.clone());
        memo.components.insert(key, m);
    }
    // The SBOM-level fields depend on the options alone.
    if memo.sbom.as_ref().is_none_or(|(o, _)| o != opts) {
        let sbom = cyclonedx::bom(empty(), Spec::V1_6, opts, &[]);
        memo.sbom = Some((opts.clone(), cra::sbom_fields(&sbom)));
    }
    let sbom = memo
        .sbom
        .as_ref()
        .map(|(_, f)| f.clone())
        .unwrap_or_default();
    let measured: Vec<&Measured> = measured.iter().map(|m| &**m).collect();
    Some(cra::assemble(deployment, sbom, &measured, named))
}
