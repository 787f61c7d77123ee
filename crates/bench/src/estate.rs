//! A synthetic estate, deterministic by seed: N deployments, each one
//! CycloneDX-shaped document of M real PyPI packages (names and versions from
//! the PyPA advisory snapshot) with a dependency tree (mean depth ≈ 6) under the
//! deployment's own application, and `transformers` in a configurable share of
//! them at real released versions, deep in the tree.

use std::collections::{BTreeMap, BTreeSet};

use aibomdb_graph::{
    DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, PackageFact, PackageKey, Subject,
};
use aibomdb_store::{NewDocument, Store};
use anyhow::Result;

/// Released transformers versions, either side of the 4.38 boundary the
/// responder's question uses.
pub(crate) const TRANSFORMERS: &[&str] = &[
    "4.30.2", "4.33.3", "4.36.2", "4.37.2", "4.38.0", "4.38.2", "4.40.2", "4.44.2", "4.46.3",
    "4.51.3", "4.57.1", "5.23.0",
];

/// xorshift64*: deterministic by seed, no dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub(crate) struct EstateSpec {
    pub(crate) deployments: usize,
    pub(crate) packages: usize,
    /// Share of deployments that contain transformers (0..=1).
    pub(crate) transformers_share: f64,
    pub(crate) seed: u64,
}

/// Real PyPI names with the versions the snapshot's records list or bound.
pub(crate) fn name_pool(advisories: &[aibomdb_osv::Advisory]) -> Vec<(String, Vec<String>)> {
    let mut pool: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in advisories {
        for x in &a.affected {
            let Some(p) = &x.package else { continue };
            if p.ecosystem != "PyPI" {
                continue;
            }
            let versions = pool
                .entry(aibomdb_graph::pep503_normalise(&p.name))
                .or_default();
            versions.extend(x.versions.iter().cloned());
            for r in &x.ranges {
                for e in &r.events {
                    versions.extend(
                        e.fixed
                            .iter()
                            .chain(&e.introduced)
                            .filter(|v| *v != "0")
                            .cloned(),
                    );
                }
            }
        }
    }
    pool.remove("transformers");
    pool.into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (n, v.into_iter().collect()))
        .collect()
}

/// One deployment's document.
pub(crate) fn deployment_facts(
    d: usize,
    spec: &EstateSpec,
    pool: &[(String, Vec<String>)],
) -> DocumentFacts {
    let mut rng = Rng((spec.seed.max(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (d as u64 + 1));
    let mut facts = DocumentFacts::new(DocumentFormat::CycloneDx, "1.6");
    let app = PackageKey::from_parts("generic", None, &format!("service-{d:05}"), Some("1.0.0"));
    facts.packages.push(PackageFact {
        purl: Some(app.as_str().to_string()),
        name: format!("service-{d:05}"),
        version: Some("1.0.0".into()),
        kind: Some("application".into()),
        key: Some(app),
        ..Default::default()
    });
    facts.subject = Some(Subject {
        name: format!("service-{d:05}"),
        version: Some("1.0.0".into()),
        kind: Some("application".into()),
        package: Some(0),
        reference: None,
    });
    let per = spec.packages.min(pool.len());
    let mut chosen = BTreeSet::new();
    while chosen.len() < per {
        chosen.insert(rng.below(pool.len()));
    }
    let mut order: Vec<usize> = chosen.into_iter().collect();
    // Shuffle so that tree position does not follow name order.
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let with_transformers = (rng.below(1_000_000) as f64) < spec.transformers_share * 1_000_000.0;
    let transformers_at = if with_transformers && per > 60 {
        Some(50 + rng.below(per - 50))
    } else {
        None
    };
    for (slot, i) in order.into_iter().enumerate() {
        let (name, version) = if Some(slot) == transformers_at {
            (
                "transformers".to_string(),
                TRANSFORMERS[rng.below(TRANSFORMERS.len())].to_string(),
            )
        } else {
            let (n, vs) = &pool[i];
            (n.clone(), vs[rng.below(vs.len())].clone())
        };
        let key = PackageKey::from_parts("pypi", None, &name, Some(&version));
        facts.packages.push(PackageFact {
            purl: Some(key.as_str().to_string()),
            key: Some(key),
            name,
            version: Some(version),
            kind: Some("library".into()),
            ..Default::default()
        });
    }
    random_tree(&mut facts, &mut rng);
    facts.entries_read = facts.packages.len() - 1;
    facts.finish()
}

/// A random recursive tree under ten direct dependencies of package 0: each
/// later package hangs under a uniformly chosen earlier one, which gives the
/// logarithmic depth of real dependency trees (mean ≈ ln n ≈ 6 at 300; the
/// deepest chains ≈ 12–15).
pub(crate) fn random_tree(facts: &mut DocumentFacts, rng: &mut Rng) {
    for i in 1..facts.packages.len() {
        let parent = if i <= 10 { 0 } else { 1 + rng.below(i - 1) };
        facts.dependencies.push(DependencyFact {
            from: parent,
            to: i,
            kind: EdgeKind::DependsOn,
            scope: None,
            marker: None,
            via_extra: None,
        });
    }
}

/// Writes the estate, 256 deployments per durable transaction (as
/// `aibomdb ingest` groups its commits).
pub(crate) fn build(
    store: &Store,
    spec: &EstateSpec,
    pool: &[(String, Vec<String>)],
) -> Result<()> {
    let mut group = Vec::with_capacity(256);
    for d in 0..spec.deployments {
        let facts = deployment_facts(d, spec, pool);
        let lookup_names = facts
            .packages
            .iter()
            .map(aibomdb_osv::lookup_names)
            .collect();
        let mut sha = [0u8; 32];
        sha[..8].copy_from_slice(&(d as u64).to_le_bytes());
        group.push(NewDocument {
            deployment: format!("synthetic-{d:05}"),
            source_path: format!("synthetic/{d:05}.cdx.json"),
            sha256: sha,
            size: 0,
            facts,
            lookup_names,
            matches: Vec::new(),
            matched_at: None,
            rows: None,
        });
        if group.len() == 256 || d + 1 == spec.deployments {
            store.ingest_batch(&group)?;
            group.clear();
        }
    }
    Ok(())
}

/// The `scale` generator's estate for `spec` (written once, kept under
/// `target/estate/`), ingested by the CLI into a fresh store at
/// `target/<work>/aibomdb.redb`. Returns the store's path, what was written,
/// and the PyPA advisories the estate's names were drawn from (not loaded).
pub(crate) fn ingested(
    spec: &EstateSpec,
    models_share: f64,
    work: &str,
) -> anyhow::Result<(
    std::path::PathBuf,
    crate::scale::Written,
    Vec<aibomdb_osv::Advisory>,
)> {
    let root = crate::repo_root();
    let pypa = root.join("../shared/corpus/osv/pypa-advisory-database");
    let loaded = aibomdb_osv::load_path(&pypa, &aibomdb_osv::LoadLimits::default())?;
    let advisories: Vec<_> = loaded.advisories.into_iter().map(|(_, a)| a).collect();
    let pool = name_pool(&advisories);
    let dir = root.join("target/estate").join(format!(
        "{}x{}-seed{}-t{}-m{}",
        spec.deployments, spec.packages, spec.seed, spec.transformers_share, models_share
    ));
    let written = crate::scale::write_estate(&dir, spec, models_share, &pool)?;
    let work = root.join("target").join(work);
    std::fs::create_dir_all(&work)?;
    let db = work.join("aibomdb.redb");
    let _ = std::fs::remove_file(&db);
    let out = std::process::Command::new(crate::scale::sibling_binary("aibomdb")?)
        .arg("--db")
        .arg(&db)
        .arg("ingest")
        .arg(&dir)
        .args(["--format", "json"])
        .stdout(std::process::Stdio::null())
        .output()?;
    if !out.status.success() {
        anyhow::bail!("aibomdb ingest: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok((db, written, advisories))
}
