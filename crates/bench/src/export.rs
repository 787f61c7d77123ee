//! `aibomdb-bench export`: a deployment of 5,000 real PyPI package versions
//! (names and versions from the PyPA advisory snapshot, matched against it, a
//! dependency tree, SHA-256 hashes and licences) written as CycloneDX 1.6,
//! CycloneDX 1.5, SPDX 2.3 and OpenVEX, and the TR-03183-2 report, next to
//! cyclonedx-python-lib writing the same CycloneDX 1.6 BOM in the same command.

use std::process::Command;
use std::time::Instant;

use aibomdb_graph::{DocumentFacts, DocumentFormat, Hash, PackageFact, PackageKey, Subject};
use aibomdb_store::{NewDocument, Store};
use anyhow::{Context, Result};

use crate::estate::{Rng, name_pool, random_tree};
use crate::repo_root;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut components = 5_000usize;
    let mut runs = 5usize;
    let mut baseline = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--components" => components = it.next().context("--components N")?.parse()?,
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            "--no-baseline" => baseline = false,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let pypa = repo_root().join("../shared/corpus/osv/pypa-advisory-database");
    let loaded = aibomdb_osv::load_path(&pypa, &aibomdb_osv::LoadLimits::default())?;
    let advisories: Vec<_> = loaded.advisories.into_iter().map(|(_, a)| a).collect();
    let pool = name_pool(&advisories);
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("export.redb"))?;
    aibomdb_osv::load_advisories(&store, &advisories)?;
    let facts = deployment(components, &pool);
    let (lookup_names, matches) = aibomdb_osv::match_document(&store, &facts)?;
    store.ingest(NewDocument {
        deployment: "big".into(),
        source_path: "synthetic/big.cdx.json".into(),
        sha256: [7; 32],
        size: 0,
        facts,
        lookup_names,
        matches,
        matched_at: None,
        rows: None,
    })?;
    let opts = aibomdb_export::Options {
        timestamp: aibomdb_export::time::rfc3339_now(),
        creator_email: Some("psirt@example.org".into()),
        ..Default::default()
    };
    println!(
        "export benchmark: one deployment of {components} components (real PyPI names/versions, dependency tree, hashes, licences, OSV matches); median of {runs} runs, release build; each figure includes reading the store and serialising the JSON text"
    );
    let mut cdx_text = String::new();
    for format in aibomdb_export::ExportFormat::ALL {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let doc = aibomdb_export::export(&store, "big", format, &opts)?;
            let text = serde_json::to_string(&doc)?;
            times.push(start.elapsed().as_secs_f64());
            bytes = text.len();
            if format == aibomdb_export::ExportFormat::CycloneDx16 {
                cdx_text = text;
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  {:<14} {:>8.1} ms  ({:.1} MB)",
            format.name(),
            times[runs / 2] * 1e3,
            bytes as f64 / 1e6
        );
    }
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let r = aibomdb_export::cra_report(&store, "big", &opts)?;
        times.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(
            r.components >= components,
            "report saw {} components",
            r.components
        );
    }
    times.sort_by(f64::total_cmp);
    println!("  {:<14} {:>8.1} ms", "cra-report", times[runs / 2] * 1e3);
    if baseline {
        let file = dir.path().join("big.cdx.json");
        std::fs::write(&file, &cdx_text)?;
        let out = Command::new("python3")
            .arg(repo_root().join("benches/baseline_export_cyclonedx.py"))
            .arg(&file)
            .arg("3")
            .output()
            .context("python3 benches/baseline_export_cyclonedx.py")?;
        anyhow::ensure!(
            out.status.success(),
            "baseline failed (pip install cyclonedx-python-lib): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        println!(
            "  baseline: cyclonedx-python-lib building and serialising the same {} components as CycloneDX 1.6: {:.1} ms",
            v["components"],
            v["median_s"].as_f64().unwrap_or(f64::NAN) * 1e3
        );
    }
    Ok(())
}

/// One document of `n` distinct (name, version) packages from the pool, under
/// one application, in a random recursive tree.
fn deployment(n: usize, pool: &[(String, Vec<String>)]) -> DocumentFacts {
    let mut rng = Rng(0x5EED_2026);
    let mut facts = DocumentFacts::new(DocumentFormat::CycloneDx, "1.6");
    let app = PackageKey::from_parts("generic", None, "big-service", Some("1.0.0"));
    facts.packages.push(PackageFact {
        purl: Some(app.as_str().to_string()),
        name: "big-service".into(),
        version: Some("1.0.0".into()),
        kind: Some("application".into()),
        key: Some(app),
        ..Default::default()
    });
    facts.subject = Some(Subject {
        name: "big-service".into(),
        version: Some("1.0.0".into()),
        kind: Some("application".into()),
        package: Some(0),
        reference: None,
    });
    let pairs = pool
        .iter()
        .flat_map(|(name, versions)| versions.iter().map(move |v| (name, v)));
    for (i, (name, version)) in pairs.take(n).enumerate() {
        let key = PackageKey::from_parts("pypi", None, name, Some(version));
        let digest: String = (0..4).map(|_| format!("{:016x}", rng.next())).collect();
        facts.packages.push(PackageFact {
            purl: Some(key.as_str().to_string()),
            key: Some(key),
            name: name.clone(),
            version: Some(version.clone()),
            kind: Some("library".into()),
            hashes: vec![Hash {
                alg: "sha256".into(),
                value: digest,
            }],
            licenses: vec![["MIT", "Apache-2.0", "BSD-3-Clause"][i % 3].into()],
            ..Default::default()
        });
    }
    random_tree(&mut facts, &mut rng);
    facts.entries_read = facts.packages.len() - 1;
    facts.finish()
}
