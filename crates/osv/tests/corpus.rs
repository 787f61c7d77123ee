//! OSV records of the shared corpus: every one loads or is reported with a
//! reason; range evaluation against osv-scalibr's matcher cases and the record
//! shapes of `osv/examples/`.

use std::path::PathBuf;

use aibomdb_osv::{Advisory, LoadLimits, Verdict, load_path};

fn osv_dir() -> PathBuf {
    let dir = std::env::var_os("AIBOMDB_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
        .join("osv");
    assert!(dir.is_dir(), "corpus not found at {}", dir.display());
    dir
}

fn example(rel: &str) -> Advisory {
    let loaded = load_path(
        &osv_dir().join("examples").join(rel),
        &LoadLimits::default(),
    )
    .unwrap();
    assert!(loaded.rejected.is_empty(), "{:?}", loaded.rejected);
    loaded.advisories.into_iter().next().unwrap().1
}

#[test]
fn every_record_loads() {
    // 2,661 PyPA YAML files (osv/SOURCES.md) and 23 JSON examples (examples/SOURCES.md).
    let pypa = load_path(
        &osv_dir().join("pypa-advisory-database"),
        &LoadLimits::default(),
    )
    .unwrap();
    assert_eq!(pypa.rejected, Vec::<(String, String)>::new());
    assert_eq!(pypa.advisories.len(), 2661);
    assert!(
        pypa.advisories
            .iter()
            .all(|(_, a)| a.id.starts_with("PYSEC-"))
    );
    let examples = load_path(&osv_dir().join("examples"), &LoadLimits::default()).unwrap();
    assert_eq!(examples.rejected, Vec::<(String, String)>::new());
    assert_eq!(examples.advisories.len(), 23);
    // YAML scalars such as `1.10` stay version strings, not numbers.
    let (_, aiohttp) = pypa
        .advisories
        .iter()
        .find(|(_, a)| a.id == "PYSEC-2022-43059")
        .unwrap();
    assert!(aiohttp.affected[0].versions.iter().any(|v| v == "0.10.0"));
    assert!(aiohttp.is_withdrawn());
}

#[test]
fn a_broken_record_is_reported_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let src =
        std::fs::read_to_string(osv_dir().join("examples/npm/GHSA-whgm-jr23-g3j9.json")).unwrap();
    std::fs::write(dir.path().join("cut.json"), &src[..src.len() / 2]).unwrap();
    let yaml = std::fs::read_to_string(
        osv_dir().join("pypa-advisory-database/vulns/aiohttp/PYSEC-2022-43059.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        yaml.replacen("affected:\n", "affected: [\n", 1),
    )
    .unwrap();
    let loaded = load_path(dir.path(), &LoadLimits::default()).unwrap();
    assert!(loaded.advisories.is_empty());
    assert_eq!(loaded.rejected.len(), 2);
    let (bad, reason) = &loaded.rejected[0];
    assert!(
        bad.ends_with("bad.yaml") && reason.starts_with("YAML") && reason.contains("line"),
        "{reason}"
    );
    let (cut, reason) = &loaded.rejected[1];
    assert!(
        cut.ends_with("cut.json") && reason.contains("EOF"),
        "{reason}"
    );
}

#[test]
fn osv_scalibr_matcher_cases() {
    let path = osv_dir().join("version-fixtures/derived/osv-scalibr-isaffected-cases.json");
    let cases: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let cases = cases["version_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 20);
    for case in cases {
        let advisory: Advisory = serde_json::from_value(serde_json::json!({
            "id": case["id"],
            "affected": case["advisory_affected"],
        }))
        .unwrap();
        let eco = case["package"]["ecosystem"].as_str().unwrap();
        let name = case["package"]["name"].as_str().unwrap();
        for (list, want) in [
            ("affected_versions", true),
            ("not_affected_versions", false),
        ] {
            for v in case[list].as_array().unwrap() {
                let v = v.as_str().unwrap();
                let got = advisory.affects(eco, name, v);
                assert_eq!(
                    got == Verdict::Affected,
                    want,
                    "{}: {v}: {got:?}",
                    case["id"]
                );
            }
        }
    }
}

#[test]
fn record_shapes_from_the_examples() {
    // last_affected: 3.0.0-beta3 is the last affected version of one entry.
    let a = example("Maven/GHSA-3pxv-7cmr-fjr4.json");
    let p = a.affected[0].package.as_ref().unwrap();
    let (eco, name) = (p.ecosystem.clone(), p.name.clone());
    let last: Vec<&str> = a
        .affected
        .iter()
        .flat_map(|x| {
            x.ranges
                .iter()
                .flat_map(|r| r.events.iter().filter_map(|e| e.last_affected.as_deref()))
        })
        .collect();
    assert_eq!(last, ["3.0.0-beta3"]);
    assert_eq!(a.affects(&eco, &name, "3.0.0-beta3"), Verdict::Affected);
    assert_eq!(a.affects(&eco, &name, "3.0.0"), Verdict::NotAffected);

    // Withdrawn records never affect anything.
    let w = example("PyPI/PYSEC-2021-63.withdrawn-test-fixture.json");
    let p = w.affected[0].package.as_ref().unwrap();
    let listed = w.affected[0]
        .versions
        .first()
        .cloned()
        .unwrap_or_else(|| "0.0.1".into());
    assert!(w.is_withdrawn());
    assert_eq!(
        w.affects(&p.ecosystem, &p.name, &listed),
        Verdict::NotAffected
    );

    // Versions only, no ranges (malicious package).
    let m = example("PyPI/MAL-2024-10238.json");
    let p = m.affected[0].package.as_ref().unwrap();
    let v = m.affected[0].versions[0].clone();
    assert!(m.affected[0].ranges.is_empty());
    assert_eq!(m.affects(&p.ecosystem, &p.name, &v), Verdict::Affected);
    assert_eq!(
        m.affects(&p.ecosystem, &p.name, "999.0.0"),
        Verdict::NotAffected
    );

    // An entry without a package (GIT only) names no package: nothing matches it.
    let g = example("GIT/CVE-2024-51757.json");
    assert!(g.affected.iter().all(|x| x.package.is_none()));
    assert_eq!(g.affects("PyPI", "anything", "1.0"), Verdict::NotAffected);

    // GIT range listed first, then ECOSYSTEM: the GIT one is kept, not evaluated.
    let d = example("PyPI/PYSEC-2023-74.json");
    assert!(d.affected[0].ranges.iter().any(|r| r.ty == "GIT"));
    let p = d.affected[0].package.as_ref().unwrap();
    let fixed = d.affected[0].fixed_versions();
    assert!(!fixed.is_empty());
    assert_eq!(
        d.affects(&p.ecosystem, &p.name, &fixed[0]),
        Verdict::NotAffected
    );

    // PEP 503 names: the advisory says `products-pluggableauthservice`.
    let n = example("PyPI/GHSA-p44j-xrqg-4xrr.json");
    let p = n.affected[0].package.as_ref().unwrap();
    // Its range is introduced 0, fixed 2.6.1: 2.6.0 is affected under
    // either spelling, 2.6.1 under neither.
    assert!(n.affected[0].versions.is_empty());
    assert_eq!(n.affected[0].fixed_versions(), ["2.6.1"]);
    for name in [
        "Products.PluggableAuthService",
        "products_pluggableauthservice",
        &p.name,
    ] {
        assert_eq!(
            n.affects("PyPI", name, "2.6.0"),
            Verdict::Affected,
            "{name}"
        );
        assert_eq!(
            n.affects("PyPI", name, "2.6.1"),
            Verdict::NotAffected,
            "{name}"
        );
    }

    // An ecosystem without an ordering here is said, not silently skipped.
    let mut u = example("npm/GHSA-whgm-jr23-g3j9.json");
    let p = u.affected[0].package.clone().unwrap();
    u.affected[0].package.as_mut().unwrap().ecosystem = "SomethingNew".into();
    for r in &mut u.affected[0].ranges {
        r.ty = "ECOSYSTEM".into();
    }
    assert!(matches!(
        u.affects("SomethingNew", &p.name, "1.0.0"),
        Verdict::Unsupported(_)
    ));

    // Debian records carry a release; a package from that release matches.
    let deb = example("Debian/DLA-3008-1.json");
    let p = deb.affected[0].package.as_ref().unwrap();
    assert_eq!(p.ecosystem, "Debian:9");
    let fixed = deb.affected[0].fixed_versions();
    assert_eq!(
        deb.affects("Debian:9", &p.name, &fixed[0]),
        Verdict::NotAffected
    );
    assert_eq!(
        deb.affects("Debian:10", &p.name, "0.1"),
        Verdict::NotAffected
    );
    // Every version the record lists is affected in its release, and dpkg
    // ordering decides the boundary (fixed 1.1.0l-1~deb9u6): `~` sorts before
    // anything, so ~deb9u5 is before the fix and 1.1.0l-1 after it (as text,
    // "1.1.0l-1" would sort before the fix).
    assert_eq!(fixed, ["1.1.0l-1~deb9u6"]);
    assert_eq!(deb.affected[0].versions.len(), 19);
    for v in &deb.affected[0].versions {
        assert_eq!(
            deb.affects("Debian:9", &p.name, v),
            Verdict::Affected,
            "{v}"
        );
    }
    assert_eq!(
        deb.affects("Debian:9", &p.name, "1.1.0l-1~deb9u5"),
        Verdict::Affected
    );
    assert_eq!(
        deb.affects("Debian:9", &p.name, "1.1.0l-1"),
        Verdict::NotAffected
    );
}

/// Every record of the corpus reads as OSV by the ends of the file (what
/// `ingest` looks at; `modified` may come last), and none of the SBOM and VEX
/// examples does.
#[test]
fn sniff_tells_records_from_other_documents() {
    let mut records = 0;
    for dir in ["examples", "pypa-advisory-database/vulns/pillow"] {
        let mut stack = vec![osv_dir().join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json" || x == "yaml") {
                    assert!(aibomdb_osv::sniff_file(&p), "{}", p.display());
                    records += 1;
                }
            }
        }
    }
    assert!(records > 30, "{records}");
    let formats = osv_dir().join("../formats");
    for other in [
        "cyclonedx/bom-examples/VEX/bom.json",
        "spdx/2.3/SPDXJSONExample-v2.3.spdx.json",
        "cyclonedx/spec-testdata/1.6/valid-bom-1.6.json",
    ] {
        assert!(!aibomdb_osv::sniff_file(&formats.join(other)), "{other}");
    }
}
