//! Every CycloneDX and SPDX document of the shared corpus through the importers.
//!
//! Expected counts were taken with `jq` from the files themselves, not from
//! aibomdb (commands in tests/COUNTS.md).

mod common;

use std::path::{Path, PathBuf};

use aibomdb_graph::ImportError;
use aibomdb_ingest::{ErrorKind, Format, Limits, prepare};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_sbom_in_the_corpus_ingests_or_fails_specifically() {
    let corpus = common::corpus();
    let mut files = Vec::new();
    for dir in ["formats/cyclonedx", "formats/spdx", "dev/sboms"] {
        files_under(&corpus.join(dir), &mut files);
    }
    let documents: Vec<_> = files
        .iter()
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("json" | "yaml")
            )
        })
        .collect();
    assert!(
        documents.len() >= 90,
        "corpus shrank: {} documents",
        documents.len()
    );
    let mut ok = 0;
    let mut failed = Vec::new();
    for path in &documents {
        match prepare(path, &Limits::default()) {
            Ok(p) => {
                assert!(!p.facts.spec_version.is_empty(), "{}", path.display());
                ok += 1;
            }
            Err(e) => failed.push(e),
        }
    }
    let rel = |p: &Path| p.strip_prefix(&corpus).unwrap().display().to_string();
    let mut failures: Vec<(String, String)> = failed
        .iter()
        .map(|e| (rel(&e.path), e.to_string()))
        .collect();
    failures.sort();
    // The two files upstream left with trailing commas, and the SPDX YAML
    // example (YAML is not an input format; it is refused by name).
    let names: Vec<&str> = failures.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "formats/cyclonedx/bom-examples-pr50-mlbom/MLBOM/Dataset/bom.json",
            "formats/cyclonedx/bom-examples-pr50-mlbom/MLBOM/Model/OpenSource/bom.json",
            "formats/spdx/2.3/SPDXYAMLExample-2.3.spdx.yaml",
        ]
    );
    for e in &failed[..] {
        let text = e.to_string();
        assert!(text.starts_with(&e.path.display().to_string()), "{text}");
    }
    for e in failed
        .iter()
        .filter(|e| e.path.extension().is_some_and(|x| x == "json"))
    {
        match &e.kind {
            ErrorKind::Import {
                format: Format::CycloneDx,
                error:
                    ImportError::Syntax {
                        message,
                        line,
                        column,
                        ..
                    },
            } => {
                assert_eq!(message, "trailing comma");
                assert_eq!((*line, *column), (9, 5), "{e}");
            }
            other => panic!("{}: unexpected {other}", e.path.display()),
        }
    }
    assert_eq!(ok, documents.len() - 3);
    let yaml = failed
        .iter()
        .find(|e| e.path.extension().is_some_and(|x| x == "yaml"))
        .unwrap();
    assert!(
        yaml.to_string()
            .contains("SPDX YAML: a known SBOM format that this build does not read"),
        "{yaml}"
    );
}

/// Known encodings not read yet are refused naming the format, with exit 2
/// (real files: tests/fixtures/formats/make.sh), each also under a name that
/// does not give it away (the content decides).
#[test]
fn known_but_unread_formats_are_named() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/formats");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    for (file, format) in [("SPDXExample-v2.3.spdx.rdf.xml", "SPDX RDF/XML")] {
        let renamed = dir
            .path()
            .join(format!("{}.document", file.replace('.', "-")));
        std::fs::copy(fixtures.join(file), &renamed).unwrap();
        for path in [fixtures.join(file), renamed] {
            let out = common::aibomdb(&db, &["ingest", path.to_str().unwrap()]);
            let err = common::stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{file}: {err}");
            assert!(
                err.contains(&format!(
                    "{}: not a recognised document: {format}: a known SBOM format that this build does not read",
                    path.display()
                )),
                "{file}: {err}"
            );
        }
    }
    // CycloneDX XML and SPDX tag-value are read now (tests/encodings.rs),
    // under any name.
    for (file, format) in [
        ("piptool.cdx.xml", Format::CycloneDx),
        ("SPDXExample-v2.3.spdx", Format::Spdx2),
    ] {
        let renamed = dir
            .path()
            .join(format!("{}.document", file.replace('.', "-")));
        std::fs::copy(fixtures.join(file), &renamed).unwrap();
        for path in [fixtures.join(file), renamed] {
            let p = prepare(&path, &Limits::default()).unwrap();
            assert_eq!(p.format, format, "{}", path.display());
        }
    }
}

struct Expect {
    file: &'static str,
    format: Format,
    spec: &'static str,
    /// `jq` count of component/package entries.
    entries: usize,
    /// Distinct packages after identity merging.
    packages: usize,
    /// Package→package edges after merging.
    edges: usize,
    tool: Option<(&'static str, &'static str)>,
}

#[test]
fn exact_counts_match_jq() {
    let corpus = common::corpus();
    let cases = [
        Expect {
            file: "dev/sboms/uv-export_a-finetune_cdx1.5.json",
            format: Format::CycloneDx,
            spec: "1.5",
            entries: 73,
            packages: 73,
            edges: 126,
            tool: Some(("uv", "0.13.9")),
        },
        Expect {
            file: "dev/sboms/cyclonedx-py_requirements_a-finetune_cdx1.6.json",
            format: Format::CycloneDx,
            spec: "1.6",
            entries: 68,
            packages: 68,
            edges: 0,
            tool: Some(("cyclonedx-py", "7.5.0")),
        },
        Expect {
            file: "formats/cyclonedx/container/trivy-0.54.1_container_cdx1.6.json",
            format: Format::CycloneDx,
            spec: "1.6",
            entries: 23,
            packages: 22,
            edges: 51,
            tool: Some(("trivy", "0.54.1")),
        },
        Expect {
            file: "formats/cyclonedx/guac-testdata/alpine-cyclonedx.json",
            format: Format::CycloneDx,
            spec: "1.4",
            entries: 15,
            packages: 15,
            edges: 0,
            tool: Some(("syft", "0.58.0")),
        },
        Expect {
            file: "formats/spdx/2.2-container/alpine-spdx-syft0.57.json",
            format: Format::Spdx2,
            spec: "2.2",
            entries: 14,
            packages: 14,
            edges: 0,
            tool: Some(("syft", "0.57.0")),
        },
        Expect {
            file: "formats/spdx/2.3/SPDXJSONExample-v2.3.spdx.json",
            format: Format::Spdx2,
            spec: "2.3",
            entries: 4,
            // One of the four is the package the document DESCRIBES: the subject.
            packages: 3,
            // Both CONTAINS relationships start at a non-package (the DOCUMENT,
            // and SPDXRef-JenaLib, a file): no package→package edge.
            edges: 0,
            tool: None,
        },
        Expect {
            file: "formats/spdx/3.0/spdx-examples/ai/example01/spdx3.0/simplehtr-example.json",
            format: Format::Spdx3,
            spec: "3.0.1",
            entries: 13,
            // The SBOM's root element (SimpleHTR) is the subject. Edges: the 7
            // dependsOn/contains between packages, plus 2 trainedOn and 2
            // testedOn (AI profile lineage).
            packages: 12,
            edges: 11,
            tool: None,
        },
    ];
    for c in cases {
        let p = prepare(&corpus.join(c.file), &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.format, c.format, "{}", c.file);
        assert_eq!(p.facts.spec_version, c.spec, "{}", c.file);
        assert_eq!(p.facts.entries_read, c.entries, "{} entries", c.file);
        assert_eq!(p.facts.component_count(), c.packages, "{} packages", c.file);
        assert_eq!(p.facts.dependencies.len(), c.edges, "{} edges", c.file);
        if let Some((name, version)) = c.tool {
            assert!(
                p.facts
                    .tools
                    .iter()
                    .any(|t| t.name == name && t.version.as_deref() == Some(version)),
                "{}: tools {:?}",
                c.file,
                p.facts.tools
            );
        }
    }
}

#[test]
fn hashes_from_external_references_and_facts_are_kept() {
    let corpus = common::corpus();
    // uv writes hashes only under externalReferences[].hashes.
    let uv = prepare(
        &corpus.join("dev/sboms/uv-export_a-finetune_cdx1.5.json"),
        &Limits::default(),
    )
    .unwrap();
    let acc = uv
        .facts
        .packages
        .iter()
        .find(|p| p.key.as_ref().unwrap().as_str() == "pkg:pypi/accelerate@1.15.0")
        .unwrap();
    let values: Vec<&str> = acc.hashes.iter().map(|h| h.value.as_str()).collect();
    assert_eq!(
        values,
        [
            "5654f8c5eaa0d4fa68b33e287a97765da6849bf6d51dcac874e73fbbddfb6134",
            "97eacca0b73e45cb867dbf8c5d5d4dc32219544300e0c8992c7334dc2ef33cec"
        ]
    );
    assert!(acc.hashes.iter().all(|h| h.alg == "sha256"));
    // uv's direct dependencies come from the root component's dependency entry.
    assert_eq!(acc.direct, Some(true));

    // Trivy names the source package of each OS package in properties.
    let trivy = prepare(
        &corpus.join("formats/cyclonedx/container/trivy-0.54.1_container_cdx1.6.json"),
        &Limits::default(),
    )
    .unwrap();
    let data = trivy
        .facts
        .packages
        .iter()
        .find(|p| p.name == "alpine-baselayout-data")
        .unwrap();
    assert_eq!(
        data.source_package,
        Some(("alpine-baselayout".into(), Some("3.6.5-r0".into())))
    );
    assert_eq!(
        data.qualifiers,
        [
            ("arch".to_string(), "x86_64".to_string()),
            ("distro".into(), "3.20.3".into())
        ]
    );

    // syft (SPDX 2.2) keeps CPEs and the RPM/Debian source in `upstream=`.
    let syft = prepare(
        &corpus.join("formats/spdx/2.2-container/alpine-spdx-syft0.57.json"),
        &Limits::default(),
    )
    .unwrap();
    let busybox = syft
        .facts
        .packages
        .iter()
        .find(|p| p.name == "busybox")
        .unwrap();
    assert_eq!(
        busybox.cpes,
        ["cpe:2.3:a:busybox:busybox:1.35.0-r17:*:*:*:*:*:*:*"]
    );
    assert_eq!(
        busybox.source_package,
        Some(("busybox".into(), None)),
        "from upstream=busybox"
    );
    assert_eq!(busybox.licenses, ["GPL-2.0-only"]);
    // syft 0.57 puts checksums on files, never on packages: none is made up
    // (jq '[.packages[] | select(.checksums)] | length' → 0).
    assert!(busybox.hashes.is_empty());
}

#[test]
fn the_same_package_from_two_tools_has_one_key() {
    let corpus = common::corpus();
    let a = prepare(
        &corpus.join("dev/sboms/uv-export_a-finetune_cdx1.5.json"),
        &Limits::default(),
    )
    .unwrap();
    let b = prepare(
        &corpus.join("dev/sboms/cyclonedx-py_requirements_a-finetune_cdx1.6.json"),
        &Limits::default(),
    )
    .unwrap();
    let keys = |p: &aibomdb_ingest::Prepared| {
        p.facts
            .packages
            .iter()
            .filter(|f| !f.purl_synthesized)
            .map(|f| f.key.clone().unwrap())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (ka, kb) = (keys(&a), keys(&b));
    // pip-compile's output (and so cyclonedx-py's) leaves out setuptools and
    // platform-specific wheels that uv.lock keeps: every package of the
    // smaller set is in the larger one.
    assert!(
        kb.is_subset(&ka),
        "only in cyclonedx-py: {:?}",
        kb.difference(&ka).collect::<Vec<_>>()
    );
    assert_eq!(kb.len(), 68);
}
