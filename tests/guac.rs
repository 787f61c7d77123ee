//! GUAC's own benchmark data: 94 real syft SBOMs of Docker Hub images
//! (SPDX 2.2 and CycloneDX 1.4). Counts checked with jq (tests/COUNTS.md).

mod common;

use aibomdb_ingest::{Event, Limits};
use aibomdb_store::{IngestOutcome, Store};

#[test]
fn all_94_container_sboms_ingest_with_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("guac.redb")).unwrap();
    let root = common::corpus().join("external/guac-data");
    let inputs = aibomdb_ingest::expand(&[root]).unwrap();
    let mut committed = Vec::new();
    let mut failed = Vec::new();
    let failures = aibomdb_ingest::run(
        &store,
        &inputs,
        None,
        &Limits::default(),
        &Default::default(),
        2,
        |e| match e {
            Event::Committed { path, outcome, .. } => {
                committed.push((path.clone(), outcome.clone()))
            }
            Event::Failed(e) => failed.push(e.to_string()),
            Event::Skipped(_) => {}
        },
    );
    assert_eq!(failures, 0, "{failed:?}");
    assert_eq!(committed.len(), 94);

    let docs = store.documents().unwrap();
    let by_file = |suffix: &str| {
        docs.iter()
            .find(|d| d.source_path.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} not ingested"))
    };
    // (file, jq entries, distinct packages)
    for (file, entries, packages) in [
        ("top-dh-sboms/alpine.json", 14, 14),
        ("top-dh-sboms/flink.json", 211, 210),
        ("top-dh-sboms/debian.json", 96, 96),
        ("top-dh-sboms/vault.json", 348, 348),
        ("docs/spdx/spdx_vuln.json", 125, 123),
        ("-library-python.latest.json", 431, 431),
        ("-library-alpine.latest.json", 15, 15),
    ] {
        let d = by_file(file);
        assert_eq!(d.entries, entries, "{file} entries");
        assert_eq!(d.package_count, packages, "{file} packages");
    }
    // Each image is its own deployment, named by the document.
    assert_eq!(store.deployments().unwrap().len(), 94);
    // syft names the document after the image reference (registry host, then
    // `/library/alpine-latest`).
    assert!(
        by_file("top-dh-sboms/alpine.json")
            .deployment
            .ends_with("/library/alpine-latest")
    );

    // OS packages from several images share nodes; the epoch syft puts in an
    // `epoch=` qualifier (Oracle Linux RPMs in the openjdk image) is part of the key.
    let stats = store.stats().unwrap();
    assert!(stats.packages < stats.occurrences, "{stats:?}");
    let openjdk = by_file("top-dh-sboms/openjdk.json");
    let with_epoch = store
        .document_packages(openjdk.id)
        .unwrap()
        .into_iter()
        .filter(|(_, o)| o.fact.qualifiers.iter().any(|(k, _)| k == "epoch"))
        .collect::<Vec<_>>();
    assert!(!with_epoch.is_empty());
    for (p, o) in &with_epoch {
        let epoch = &o
            .fact
            .qualifiers
            .iter()
            .find(|(k, _)| k == "epoch")
            .unwrap()
            .1;
        assert!(
            p.key.contains(&format!("@{epoch}:")),
            "{} lacks epoch {epoch}",
            p.key
        );
    }

    // Ingesting the same set again writes nothing.
    let before = store.content_fingerprint().unwrap();
    let mut unchanged = 0;
    aibomdb_ingest::run(
        &store,
        &inputs,
        None,
        &Limits::default(),
        &Default::default(),
        2,
        |e| {
            if let Event::Committed {
                outcome: IngestOutcome::Unchanged { .. },
                ..
            } = e
            {
                unchanged += 1;
            }
        },
    );
    assert_eq!(unchanged, 94);
    assert_eq!(store.content_fingerprint().unwrap(), before);
}
