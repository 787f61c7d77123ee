//! The same SBOM in two encodings, written by the same real tool, ingests to
//! the same facts: identical packages (every field) and edges, subject and
//! tools. Fixtures: tests/fixtures/formats/make.sh.

mod common;

use std::path::{Path, PathBuf};

use aibomdb_ingest::{Format, Limits, prepare};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/formats")
        .join(name)
}

/// The facts of one file (counts in the tests are `jq` counts of the JSON:
/// `[.components[]]|length`, `[.dependencies[].dependsOn[]]|length`).
fn facts(name: &str) -> aibomdb_graph::DocumentFacts {
    facts_at(&fixture(name), Format::CycloneDx)
}

fn facts_at(path: &Path, format: Format) -> aibomdb_graph::DocumentFacts {
    let p = prepare(path, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.format, format, "{}", path.display());
    p.facts
}

fn same(json: &str, xml: &str, packages: usize, edges: usize) {
    same_facts(json, xml, facts(json), facts(xml), packages, edges);
}

fn same_facts(
    json: &str,
    xml: &str,
    j: aibomdb_graph::DocumentFacts,
    x: aibomdb_graph::DocumentFacts,
    packages: usize,
    edges: usize,
) {
    assert_eq!(j.spec_version, x.spec_version);
    assert_eq!(j.packages.len(), packages, "{json}");
    assert_eq!(x.packages, j.packages, "{xml} vs {json}");
    let edge = |f: &aibomdb_graph::DocumentFacts| {
        let mut e: Vec<String> = f
            .dependencies
            .iter()
            .map(|d| {
                format!(
                    "{:?} -> {:?} {:?}",
                    f.packages[d.from].key, f.packages[d.to].key, d.kind
                )
            })
            .collect();
        e.sort();
        e
    };
    assert_eq!(j.dependencies.len(), edges, "{json}");
    assert_eq!(edge(&x), edge(&j), "{xml} vs {json}");
    assert_eq!(x.subject, j.subject);
    assert_eq!(x.tools, j.tools);
    // Serial and timestamp are per run (piptool's two files are two runs).
    assert_eq!(x.skipped, j.skipped);
    assert_eq!(x.warnings, j.warnings);
    assert_eq!(x.entries_read, j.entries_read);
}

#[test]
fn cyclonedx_py_environment_1_6() {
    same("piptool.cdx.json", "piptool.cdx.xml", 2, 1);
}

#[test]
fn cyclonedx_py_environment_1_5_with_dependency_graph() {
    same("tools-env.cdx.json", "tools-env.cdx.xml", 97, 171);
}

#[test]
fn cyclonedx_py_requirements_1_4_legacy_tools() {
    same(
        "pip-tools-req-1.4.cdx.json",
        "pip-tools-req-1.4.cdx.xml",
        68,
        0,
    );
}

#[test]
fn cyclonedx_py_requirements_1_2() {
    same(
        "pip-tools-req-1.2.cdx.json",
        "pip-tools-req-1.2.cdx.xml",
        68,
        0,
    );
}

/// A container-image SBOM (Trivy's, syft's) read by cyclonedx-python-lib and
/// written by it as JSON and as XML (tests/fixtures/cdx-container/make.sh).
fn same_container(name: &str, packages: usize, edges: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/cdx-container");
    let (json, xml) = (format!("{name}.cdx.json"), format!("{name}.cdx.xml"));
    let j = facts_at(&dir.join(&json), Format::CycloneDx);
    let x = facts_at(&dir.join(&xml), Format::CycloneDx);
    assert_eq!((&x.serial, &x.created), (&j.serial, &j.created));
    same_facts(&json, &xml, j, x, packages, edges);
}

#[test]
fn cyclonedx_python_lib_trivy_container_image_1_6() {
    // 23 components, one (dom4j 2.1.4, found at two paths) listed twice:
    // 22 packages and the image; 52 `dependsOn`, the image's two on dom4j one edge.
    same_container("trivy-container", 23, 51);
}

#[test]
fn cyclonedx_python_lib_syft_container_image_1_4() {
    // 15 components and the image.
    same_container("syft-alpine", 16, 0);
}

/// One SPDX document written by spdx-tools as tag-value and as JSON
/// (tests/fixtures/spdx-tv/make.sh): the same facts, down to serial and time
/// (both files come from one parse, so they carry the same ones).
fn same_spdx(name: &str, packages: usize, edges: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/spdx-tv");
    let (json, tv) = (format!("{name}.spdx.json"), format!("{name}.spdx"));
    let j = facts_at(&dir.join(&json), Format::Spdx2);
    let t = facts_at(&dir.join(&tv), Format::Spdx2);
    assert_eq!((&t.serial, &t.created), (&j.serial, &j.created));
    assert!(j.serial.is_some() && j.created.is_some(), "{json}");
    same_facts(&json, &tv, j, t, packages, edges);
}

#[test]
fn spdx_tools_spec_example_2_3() {
    same_spdx("SPDXJSONExample-v2.3", 4, 0);
}

#[test]
fn spdx_tools_syft_alpine_container_image_2_2() {
    same_spdx("alpine-syft0.57", 14, 0);
}

#[test]
fn spdx_tools_syft_bash_container_image_2_2() {
    same_spdx("bash-syft0.57", 17, 0);
}

#[test]
fn spdx_tools_syft_nats_streaming_container_image_2_2() {
    same_spdx("nats-streaming-syft0.57", 26, 0);
}

#[test]
fn spdx_tools_maven_example_with_test_dependency() {
    same_spdx("examplemaven-0.0.1", 6, 1);
}

#[test]
fn spdx_tools_example_with_depends_on() {
    same_spdx("example11-sbom", 4, 3);
}

#[test]
fn spdx_tools_example_with_package_containment() {
    same_spdx("ACME-v2.3", 4, 3);
}

fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            xml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "xml") {
            out.push(path);
        }
    }
}

/// Every XML file in the fixtures and under the corpus's `formats/` either
/// ingests, with the component and edge counts Python's xml.etree finds, or
/// is refused naming the file and the reason.
#[test]
fn every_xml_file_ingests_with_the_counts_xml_etree_finds_or_is_refused() {
    let mut files = Vec::new();
    xml_files(&fixture(""), &mut files);
    xml_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/cdx-container"),
        &mut files,
    );
    let corpus_formats = common::corpus().join("formats");
    xml_files(&corpus_formats, &mut files);
    files.sort();
    let args: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    let expected = common::validator("cdx_xml_counts.py", &args);
    let (mut read, mut refused) = (0, 0);
    for path in &files {
        let want = &expected[path.to_str().unwrap()];
        match prepare(path, &Limits::default()) {
            Ok(p) => {
                read += 1;
                assert_eq!(
                    p.facts.entries_read as u64,
                    want["components"].as_u64().unwrap(),
                    "{}",
                    path.display()
                );
                assert_eq!(
                    p.facts.dependencies.len() as u64,
                    want["edges"].as_u64().unwrap(),
                    "{}",
                    path.display()
                );
            }
            Err(e) => {
                refused += 1;
                let text = e.to_string();
                assert!(
                    text.starts_with(&path.display().to_string()) && text.contains(": "),
                    "{text}"
                );
                // Only SPDX RDF/XML is refused here, naming its format.
                assert!(text.contains("SPDX RDF/XML"), "{text}");
            }
        }
    }
    // 6 CycloneDX XML read (4 by cyclonedx-py, 2 container images by
    // cyclonedx-python-lib), 1 SPDX RDF/XML refused (the corpus's formats/
    // holds no XML file today).
    assert_eq!((read, refused), (6, 1), "{files:?}");
}

/// osv-scalibr's lineage documents (tests/fixtures/spdx-lineage, JSON as
/// published, tag-value by spdx-tools): a package known only as the
/// descendant or ancestor of another, with a path fragment as its name and no
/// purl or version, is folded into that package instead of standing as a
/// `pkg:generic/<fragment>` node that could never match. Before the folding
/// every entry here was a package (2, 2, 3 and 2).
#[test]
fn spdx_lineage_fragments_fold_into_the_package_they_relate_to() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/spdx-lineage");
    let summary = |f: &aibomdb_graph::DocumentFacts| -> Vec<String> {
        f.packages
            .iter()
            .map(|p| {
                format!(
                    "{} locations={:?} ancestors={:?}",
                    p.key.as_ref().unwrap().as_str(),
                    p.locations,
                    p.pedigree_ancestors
                )
            })
            .collect()
    };
    let skipped = |f: &aibomdb_graph::DocumentFacts| -> Vec<String> {
        f.skipped.iter().map(|s| s.reference.clone()).collect()
    };
    let log4j = "pkg:maven/log4j/log4j@1.2.15 locations=[\"log4j/v1_2_15\"] ancestors=[]";
    for (name, packages, folded) in [
        (
            "ancestor_of",
            vec![log4j],
            vec!["SPDXRef-DownstreamPackage-log4j"],
        ),
        (
            "descendant_of",
            vec![log4j],
            vec!["SPDXRef-DownstreamPackage-log4j"],
        ),
        (
            "multi_descendant",
            vec!["pkg:generic/google/pkg@5.0 locations=[\"pkg/arm\", \"pkg/x86\"] ancestors=[]"],
            vec![
                "SPDXRef-DownstreamPackage-pkg-arm",
                "SPDXRef-DownstreamPackage-pkg-x86",
            ],
        ),
        (
            "independent_packages_descendant",
            vec![
                "pkg:generic/child@1.0.0 locations=[] ancestors=[]",
                "pkg:generic/parent@2.0.0 locations=[] ancestors=[]",
            ],
            vec![],
        ),
    ] {
        for file in [format!("{name}.spdx.json"), format!("{name}.spdx")] {
            let f = facts_at(&dir.join(&file), Format::Spdx2);
            assert_eq!(summary(&f), packages, "{file}");
            assert_eq!(skipped(&f), folded, "{file}");
            for s in &f.skipped {
                assert!(
                    s.reason.contains("folded into it as a location"),
                    "{file}: {s:?}"
                );
            }
        }
    }
}

fn tag_value_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            tag_value_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "spdx") {
            out.push(path);
        }
    }
}

/// Every SPDX tag-value file in the fixtures and under the corpus's
/// `formats/` ingests with the package and edge counts spdx-tools' own
/// tag-value parser finds (tests/helpers/spdx_tv_counts.py).
#[test]
fn every_tag_value_file_ingests_with_the_counts_spdx_tools_finds() {
    let mut files = Vec::new();
    tag_value_files(&fixture(""), &mut files);
    tag_value_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/spdx-tv"),
        &mut files,
    );
    tag_value_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/spdx-lineage"),
        &mut files,
    );
    tag_value_files(&common::corpus().join("formats"), &mut files);
    files.sort();
    let args: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    let expected = common::validator("spdx_tv_counts.py", &args);
    for path in &files {
        let want = &expected[path.to_str().unwrap()];
        assert!(want.get("error").is_none(), "{}: {want}", path.display());
        let p = prepare(path, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.format, Format::Spdx2, "{}", path.display());
        assert_eq!(
            p.facts.entries_read as u64,
            want["packages"].as_u64().unwrap(),
            "{}",
            path.display()
        );
        assert_eq!(
            p.facts.dependencies.len() as u64,
            want["edges"].as_u64().unwrap(),
            "{}",
            path.display()
        );
    }
    // 7 pairs in spdx-tv/, 4 in spdx-lineage/, the spec example in formats/
    // (the corpus's formats/ holds no tag-value file today).
    assert_eq!(files.len(), 12, "{files:?}");
}

/// A billion-laughs document (built here: entities nest ten deep) is refused
/// before any expansion, naming the file and line, with exit 2 and nothing
/// written; so is one nested past the depth bound.
#[test]
fn xml_bombs_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let mut entities = String::from("<!ENTITY l0 \"lol\">");
    for i in 1..10 {
        entities.push_str(&format!(
            "<!ENTITY l{i} \"{}\">",
            format!("&l{};", i - 1).repeat(10)
        ));
    }
    let bomb = dir.path().join("bomb.cdx.xml");
    std::fs::write(
        &bomb,
        format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE bom [{entities}]>\n<bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\"><metadata><timestamp>&l9;</timestamp></metadata></bom>"
        ),
    )
    .unwrap();
    let deep = dir.path().join("deep.xml");
    std::fs::write(
        &deep,
        format!(
            "<bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\">{}{}</bom>",
            "<components><component>".repeat(100),
            "</component></components>".repeat(100)
        ),
    )
    .unwrap();
    for (path, why) in [(&bomb, "DOCTYPE"), (&deep, "nested deeper than 128")] {
        let out = common::aibomdb(&db, &["ingest", path.to_str().unwrap()]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&path.display().to_string()) && err.contains(why),
            "{err}"
        );
    }
    let stats = common::json(&common::aibomdb(&db, &["stats", "--format", "json"]));
    assert_eq!(stats["documents"], 0, "{stats}");
}

/// A tag-value file past the reader's line bound, and one past its package
/// bound, are refused naming the file and the line, with exit 2 and nothing
/// written (built here: 10,000,001 comment lines; 500,001 packages).
#[test]
fn huge_tag_value_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let lines = dir.path().join("lines.spdx");
    let mut text = String::from("SPDXVersion: SPDX-2.3\n");
    text.push_str(&"#\n".repeat(10_000_000));
    std::fs::write(&lines, text).unwrap();
    let packages = dir.path().join("packages.spdx");
    let mut text = String::from("SPDXVersion: SPDX-2.3\n");
    text.push_str(&"PackageName: a\n".repeat(500_001));
    std::fs::write(&packages, text).unwrap();
    for (path, why) in [
        (
            &lines,
            "more than 10000000 lines (the reader's bound) at line 10000001",
        ),
        (
            &packages,
            "in `PackageName`: more than 500000 packages (the reader's bound) at line 500002",
        ),
    ] {
        let started = std::time::Instant::now();
        let out = common::aibomdb(&db, &["ingest", path.to_str().unwrap()]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&path.display().to_string()) && err.contains(why),
            "{err}"
        );
        // Refused within bounds: well under a minute even in a debug build.
        assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    }
    let stats = common::json(&common::aibomdb(&db, &["stats", "--format", "json"]));
    assert_eq!(stats["documents"], 0, "{stats}");
}
