//! Every version-ordering fixture of osv-scalibr (copied into the shared
//! corpus, see its version-fixtures/SOURCES.md): each line `a <op> b` is
//! checked both ways, `cmp(a, b) == op` and `cmp(b, a) == -op`, as upstream's
//! own test does. All lines, not a sample.

use std::cmp::Ordering;
use std::path::PathBuf;

use aibomdb_versions::{Ecosystem, compare};

fn testdata() -> PathBuf {
    let dir = std::env::var_os("AIBOMDB_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
        .join("osv/version-fixtures/osv-scalibr/semantic/testdata");
    assert!(dir.is_dir(), "fixtures not found at {}", dir.display());
    dir
}

/// Runs one fixture file against `ecosystem`; returns (lines checked, failures).
fn run(file: &str, ecosystem: &str) -> (usize, Vec<String>) {
    let eco = Ecosystem::from_osv(ecosystem).unwrap_or_else(|| panic!("{ecosystem} unsupported"));
    let text = std::fs::read_to_string(testdata().join(file)).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with("# ") || line.starts_with("// ") {
            continue;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{file}:{}: {line:?}", n + 1);
        let want = match parts[1] {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            op => panic!("{file}:{}: operator {op:?}", n + 1),
        };
        checked += 1;
        for (a, b, want) in [
            (parts[0], parts[2], want),
            (parts[2], parts[0], want.reverse()),
        ] {
            match compare(eco, a, b) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "{file}:{}: {a} vs {b}: got {got:?}, want {want:?}",
                    n + 1
                )),
                Err(e) => failures.push(format!("{file}:{}: {e}", n + 1)),
            }
        }
    }
    (checked, failures)
}

fn check(file: &str, ecosystems: &[&str], expected_lines: usize) {
    for eco in ecosystems {
        let (checked, failures) = run(file, eco);
        assert_eq!(checked, expected_lines, "{file} line count");
        assert!(
            failures.is_empty(),
            "{file} as {eco}: {} of {} comparisons failed:\n{}",
            failures.len(),
            checked * 2,
            failures
                .iter()
                .take(25)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

// Line counts are upstream's (version-fixtures/SOURCES.md).
#[test]
fn semver() {
    check(
        "semver-versions.txt",
        &["npm", "crates.io", "Go", "Hex"],
        86,
    );
}
#[test]
fn pypi() {
    check("pypi-versions.txt", &["PyPI"], 37);
}
#[test]
fn pypi_generated() {
    check("pypi-versions-generated.txt", &["PyPI"], 12_375);
}
#[test]
fn debian() {
    check("debian-versions.txt", &["Debian"], 30);
}
#[test]
fn debian_generated() {
    check("debian-versions-generated.txt", &["Debian"], 14_442);
}
#[test]
fn alpine() {
    check("alpine-versions.txt", &["Alpine"], 778);
}
#[test]
fn alpine_generated() {
    check("alpine-versions-generated.txt", &["Alpine"], 13_979);
}
#[test]
fn maven() {
    check("maven-versions.txt", &["Maven"], 102);
}
#[test]
fn maven_generated() {
    check("maven-versions-generated.txt", &["Maven"], 14_752);
}
#[test]
fn rubygems() {
    check("rubygems-versions.txt", &["RubyGems"], 25);
}
#[test]
fn rubygems_generated() {
    check("rubygems-versions-generated.txt", &["RubyGems"], 4_098);
}
#[test]
fn nuget() {
    check("nuget-versions.txt", &["NuGet"], 35);
}
#[test]
fn packagist() {
    check("packagist-versions.txt", &["Packagist"], 95);
}
#[test]
fn packagist_generated() {
    check("packagist-versions-generated.txt", &["Packagist"], 10_630);
}
#[test]
fn redhat() {
    check(
        "redhat-versions.txt",
        &["Red Hat", "AlmaLinux", "Rocky Linux", "SUSE", "openSUSE"],
        165,
    );
}
#[test]
fn cran() {
    check("cran-versions.txt", &["CRAN"], 21);
}
#[test]
fn cran_generated() {
    check("cran-versions-generated.txt", &["CRAN"], 57);
}
#[test]
fn hackage() {
    check("hackage-versions.txt", &["Hackage"], 11);
}
#[test]
fn pub_() {
    check("pub-versions.txt", &["Pub"], 100);
}
