//! `release diff`: what changed between two releases of a deployment.

use std::collections::{BTreeMap, BTreeSet};

use aibomdb_store::{Release, Store};
use serde::Serialize;

use crate::{ReleaseError, show};

/// One change: `added`, `removed` or `changed`, of a kind of thing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `package`, `model`, `artifact`, `lineage`, `dataset`, `image`,
    /// `advisory`, `metric`, `runner`, `document`.
    pub kind: &'static str,
    pub change: &'static str,
    /// What changed: a purl, `model purl path`, an advisory on a package, …
    pub subject: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseDiff {
    pub deployment: String,
    pub from: String,
    pub to: String,
    pub changes: Vec<Change>,
}

fn sets<T: Ord + Clone>(
    kind: &'static str,
    a: &BTreeSet<T>,
    b: &BTreeSet<T>,
    name: impl Fn(&T) -> String,
    out: &mut Vec<Change>,
) {
    for x in a.difference(b) {
        out.push(Change {
            kind,
            change: "removed",
            subject: name(x),
            from: None,
            to: None,
        });
    }
    for x in b.difference(a) {
        out.push(Change {
            kind,
            change: "added",
            subject: name(x),
            from: None,
            to: None,
        });
    }
}

fn maps(
    kind: &'static str,
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    out: &mut Vec<Change>,
) {
    for (k, va) in a {
        match b.get(k) {
            None => out.push(Change {
                kind,
                change: "removed",
                subject: k.clone(),
                from: Some(va.clone()),
                to: None,
            }),
            Some(vb) if vb != va => out.push(Change {
                kind,
                change: "changed",
                subject: k.clone(),
                from: Some(va.clone()),
                to: Some(vb.clone()),
            }),
            Some(_) => {}
        }
    }
    for (k, vb) in b {
        if !a.contains_key(k) {
            out.push(Change {
                kind,
                change: "added",
                subject: k.clone(),
                from: None,
                to: Some(vb.clone()),
            });
        }
    }
}

/// Model files by `model path` → SHA-256; lineage and datasets as sets.
fn model_facts(
    r: &Release,
) -> (
    BTreeMap<String, String>,
    BTreeSet<String>,
    BTreeSet<String>,
    BTreeSet<String>,
) {
    let mut files = BTreeMap::new();
    let mut lineage = BTreeSet::new();
    let mut datasets = BTreeSet::new();
    let mut models = BTreeSet::new();
    for m in &r.models {
        // The file's model is named without its revision, so that a new
        // revision of the same model shows as changed digests.
        let model = m.purl.split('@').next().unwrap_or(&m.purl);
        models.insert(m.purl.clone());
        for a in &m.artifacts {
            files.insert(format!("{model} {}", a.path), a.sha256.clone());
        }
        for (relation, base) in &m.derived_from {
            lineage.insert(format!("{} {relation} of {base}", m.purl));
        }
        for d in &m.datasets {
            datasets.insert(format!("{} trained on {d}", m.purl));
        }
    }
    (files, lineage, datasets, models)
}

pub fn diff(
    store: &Store,
    deployment: &str,
    a: &str,
    b: &str,
) -> Result<ReleaseDiff, ReleaseError> {
    let ra = show(store, deployment, a)?;
    let rb = show(store, deployment, b)?;
    let mut changes = Vec::new();
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    sets(
        "package",
        &set(&ra.packages),
        &set(&rb.packages),
        Clone::clone,
        &mut changes,
    );
    let (fa, la, da, ma) = model_facts(&ra);
    let (fb, lb, db, mb) = model_facts(&rb);
    sets("model", &ma, &mb, Clone::clone, &mut changes);
    maps("artifact", &fa, &fb, &mut changes);
    sets("lineage", &la, &lb, Clone::clone, &mut changes);
    sets("dataset", &da, &db, Clone::clone, &mut changes);
    // Images by reference, so that a new digest under the same name shows
    // as changed.
    let images = |r: &Release| -> BTreeMap<String, String> {
        r.images
            .iter()
            .filter_map(|i| i.rsplit_once('@'))
            .map(|(r, d)| (r.to_string(), d.to_string()))
            .collect()
    };
    maps("image", &images(&ra), &images(&rb), &mut changes);
    let advisories = |r: &Release| r.advisories.iter().cloned().collect::<BTreeSet<_>>();
    sets(
        "advisory",
        &advisories(&ra),
        &advisories(&rb),
        |(adv, pkg)| format!("{adv} in {pkg}"),
        &mut changes,
    );
    let metrics = |r: &Release| -> BTreeMap<String, String> {
        r.evals
            .iter()
            .flat_map(|e| &e.metrics)
            .map(|m| {
                let name = if m.task.is_empty() {
                    m.metric.clone()
                } else {
                    format!("{} {}", m.task, m.metric)
                };
                (name, m.value.to_string())
            })
            .collect()
    };
    maps("metric", &metrics(&ra), &metrics(&rb), &mut changes);
    let runners = |r: &Release| -> BTreeMap<String, String> { r.runners.iter().cloned().collect() };
    maps("runner", &runners(&ra), &runners(&rb), &mut changes);
    let docs = |r: &Release| -> BTreeMap<String, String> {
        r.documents
            .iter()
            .map(|d| (d.source_path.clone(), d.sha256.clone()))
            .collect()
    };
    maps("document", &docs(&ra), &docs(&rb), &mut changes);
    Ok(ReleaseDiff {
        deployment: deployment.to_string(),
        from: a.to_string(),
        to: b.to_string(),
        changes,
    })
}
