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
    /// The caller's number for this row, dense from 0, that always stands
    /// for this (package, fact): what [`required_missing_listed`] measured
    /// of a one-fact component is kept at it in a vector the caller holds,
    /// found without a hash probe. `None`: not numbered.
    pub slot: Option<u32>,
}

type ComponentKey = (PackageId, Vec<FactId>, bool);

/// A model's component: how it is made, and its edges (target, kind).
type ModelKey = (ComponentKey, Vec<(String, aibomdb_graph::EdgeKind)>);

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
    /// What a component made from one fact lacks, by (package, fact,
    /// lockfile): the estate's tally asks for nothing else.
    single: rustc_hash::FxHashMap<(PackageId, FactId, bool), u32>,
    /// What a model's component (with its files) lacks, by how it is made
    /// and the edges from it (the only part of the deployment it reads).
    models: rustc_hash::FxHashMap<ModelKey, u32>,
    sbom: Option<(Options, SbomFields)>,
}

impl EvidenceMemo {
    /// How many components it holds.
    pub fn len(&self) -> usize {
        self.components.len() + self.single.len() + self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The report [`crate::cra_report_of`] gives for these documents, measured
/// per component through `memo`, except that each field's `missing` names
/// at most `named` components (`present` and `total` count them all). A
/// model or dataset is measured anew for each deployment: its card, pedigree
/// and files read the deployment's lineage edges, which are read from
/// `store` only when one is listed.
pub fn cra_report_listed(
    store: &aibomdb_store::Store,
    deployment: &str,
    documents: &[(&DocumentRecord, Vec<ListedFact>)],
    opts: &Options,
    named: usize,
    memo: &mut EvidenceMemo,
) -> Result<CraReport, crate::ExportError> {
    // As `Inventory::of` merges: by key, in the documents' order.
    let mut made: BTreeMap<&str, Making> = BTreeMap::new();
    let mut models = false;
    for (doc, listed) in documents {
        let lockfile = doc.format.family() == "lockfile";
        for l in listed {
            models |= l.fact.model.is_some();
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
    // What a model's component reads of the deployment: its edges and the
    // components they lead to. Nothing else reads the inventory.
    let inventory = if models {
        Inventory::around_models(store, deployment, documents)?
    } else {
        Inventory::empty(deployment)
    };
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
        let all = measure_component(&inventory, package, &facts, lockfile);
        if let Some(m) = all.first().filter(|_| !is_model(&facts)) {
            memo.components.insert(key, m.clone());
        }
        measured.extend(all);
    }
    let sbom = sbom_fields(deployment, opts, memo);
    let measured: Vec<&Measured> = measured.iter().map(|m| &**m).collect();
    Ok(cra::assemble(deployment, sbom, &measured, named))
}

/// Whether the facts merged into a component make it a model or dataset.
fn is_model(facts: &[&PackageFact]) -> bool {
    facts.iter().any(|f| f.model.is_some())
}

/// The component these facts make, and (for a model) its files, measured
/// as the export writes them.
fn measure_component(
    inventory: &Inventory,
    package: &PackageRecord,
    facts: &[&PackageFact],
    lockfile: bool,
) -> Vec<Arc<Measured>> {
    let mut c = Component {
        from_lockfile: lockfile,
        ..Component::of(package)
    };
    for f in facts {
        merge(&mut c, f);
    }
    let (value, _files) = cyclonedx::component(inventory, &c, Spec::V1_6);
    // `cyclonedx::bom` gives every component (and a model's files) a
    // `dependencies` entry and puts it in a composition (complete from a
    // lockfile, else unknown); a model's files follow it, as nested
    // components of the export do.
    cra::nested(&value)
        .into_iter()
        .map(|v| Arc::new(cra::measure(v, &|_| true)))
        .collect()
}

/// The SBOM-level fields, which depend on the options alone.
fn sbom_fields(deployment: &str, opts: &Options, memo: &mut EvidenceMemo) -> SbomFields {
    if memo.sbom.as_ref().is_none_or(|(o, _)| o != opts) {
        let sbom = cyclonedx::bom(&Inventory::empty(deployment), Spec::V1_6, opts, &[]);
        memo.sbom = Some((opts.clone(), cra::sbom_fields(&sbom)));
    }
    memo.sbom
        .as_ref()
        .map(|(_, f)| f.clone())
        .unwrap_or_default()
}

/// How many required fields the report of [`cra_report_listed`] would find
/// missing (a field some component, or the SBOM, lacks), without writing
/// the report: the same components, measured the same way.
pub fn required_missing_listed(
    store: &aibomdb_store::Store,
    deployment: &str,
    documents: &[(&DocumentRecord, Vec<ListedFact>)],
    opts: &Options,
    memo: &mut EvidenceMemo,
    by_slot: &mut Vec<Option<u32>>,
) -> Result<usize, crate::ExportError> {
    // As `cra_report_listed` merges: one component per package, its facts
    // in the documents' order. Nearly every component is made of one fact:
    // a second is kept aside, not in a list per component.
    let rows = documents.iter().map(|(_, l)| l.len()).sum();
    let mut at: rustc_hash::FxHashMap<PackageId, usize> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(rows, Default::default());
    let mut made: Vec<(&PackageRecord, FactId, &PackageFact, bool, Option<u32>)> =
        Vec::with_capacity(rows);
    let mut more: Vec<(usize, FactId, &PackageFact)> = Vec::new();
    let mut models = false;
    for (doc, listed) in documents {
        let lockfile = doc.format.family() == "lockfile";
        for l in listed {
            models |= l.fact.model.is_some();
            match at.entry(l.package.id) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(made.len());
                    made.push((l.package, l.fact_id, l.fact, lockfile, l.slot));
                }
                std::collections::hash_map::Entry::Occupied(o) => {
                    let i = *o.get();
                    made[i].3 |= lockfile;
                    more.push((i, l.fact_id, l.fact));
                }
            }
        }
    }
    let inventory = if models {
        Inventory::around_models(store, deployment, documents)?
    } else {
        Inventory::empty(deployment)
    };
    let mut lacking = 0u32;
    if !more.is_empty() {
        more.sort_by_key(|(i, ..)| *i);
    }
    let required = cra::required_component_fields();
    for (i, &(package, fact_id, fact, lockfile, slot)) in made.iter().enumerate() {
        if lacking & required == required {
            // Every required field is missing already: no component can add one.
            break;
        }
        let extra = {
            let from = more.partition_point(|(j, ..)| *j < i);
            let to = more.partition_point(|(j, ..)| *j <= i);
            &more[from..to]
        };
        let facts = if extra.is_empty() {
            std::borrow::Cow::Borrowed(std::slice::from_ref(&fact))
        } else {
            std::iter::once(fact)
                .chain(extra.iter().map(|(_, _, f)| *f))
                .collect::<Vec<_>>()
                .into()
        };
        let extra = extra.iter();
        let missing = if is_model(&facts) {
            let fact_ids = std::iter::once(fact_id)
                .chain(extra.map(|(_, id, _)| *id))
                .collect();
            let edges = inventory
                .edges_from(&package.key)
                .map(|(to, kind)| (to.to_string(), kind))
                .collect();
            let key = ((package.id, fact_ids, lockfile), edges);
            match memo.models.get(&key) {
                Some(missing) => *missing,
                None => {
                    // With its files, as the report measures it.
                    let missing = measure_component(&inventory, package, &facts, lockfile)
                        .iter()
                        .fold(0, |bits, c| bits | c.missing);
                    memo.models.insert(key, missing);
                    missing
                }
            }
        } else if facts.len() == 1 {
            let front = slot.map(|s| s as usize * 2 + usize::from(lockfile));
            match front.and_then(|i| by_slot.get(i).copied().flatten()) {
                Some(missing) => missing,
                None => {
                    let key = (package.id, fact_id, lockfile);
                    let missing = match memo.single.get(&key) {
                        Some(missing) => *missing,
                        None => {
                            let missing = measure_component(&inventory, package, &facts, lockfile)
                                .first()
                                .map_or(0, |c| c.missing);
                            memo.single.insert(key, missing);
                            missing
                        }
                    };
                    if let Some(i) = front {
                        if by_slot.len() <= i {
                            by_slot.resize(i + 1, None);
                        }
                        by_slot[i] = Some(missing);
                    }
                    missing
                }
            }
        } else {
            let fact_ids = std::iter::once(fact_id)
                .chain(extra.map(|(_, id, _)| *id))
                .collect();
            let key = (package.id, fact_ids, lockfile);
            match memo.components.get(&key) {
                Some(c) => c.missing,
                None => {
                    let all = measure_component(&inventory, package, &facts, lockfile);
                    let missing = all.first().map_or(0, |c| c.missing);
                    if let Some(c) = all.into_iter().next() {
                        memo.components.insert(key, c);
                    }
                    missing
                }
            }
        };
        lacking |= missing;
    }
    let sbom = sbom_fields(deployment, opts, memo)
        .iter()
        .filter(|(_, _, category, _, present)| *category == "required" && !present)
        .count();
    Ok(sbom + (lacking & required).count_ones() as usize)
}
