//! `aibomdb gate --all --counts`: each deployment's verdict and each rule's
//! violations counted, without listing them. Every count must be what the
//! full report lists (violations by level, waived matches, outcome), on a
//! store that gives every rule both verdicts: an image with and without a
//! VEX statement, lockfiles with release times and hashes, a fine-tuned
//! model alone and beside a lockfile; policies with waivers that hold and
//! that expired, each level, and custom rules of every subject.

mod common;
mod gate_helpers;

use common::{aibomdb, corpus, stderr};
use gate_helpers::*;
use serde_json::Value;

fn counted(db: &std::path::Path, policy: &std::path::Path, at: &str) -> (i32, Value) {
    let out = aibomdb(
        db,
        &[
            "gate",
            "--policy",
            policy.to_str().unwrap(),
            "--all",
            "--counts",
            "--at",
            at,
            "--format",
            "json",
        ],
    );
    let code = out.status.code().unwrap();
    assert!(code == 0 || code == 1, "exit {code}: {}", stderr(&out));
    (code, serde_json::from_slice(&out.stdout).unwrap())
}

/// The counted report against the full one, deployment by deployment and
/// rule by rule; returns how many violations the full report lists.
fn assert_same(full: &Value, counts: &Value) -> usize {
    let (full, counts) = (
        full["deployments"].as_array().unwrap(),
        counts["deployments"].as_array().unwrap(),
    );
    assert_eq!(full.len(), counts.len());
    let mut listed = 0;
    for (f, c) in full.iter().zip(counts) {
        assert_eq!(f["deployment"], c["deployment"]);
        assert_eq!(f["passed"], c["passed"], "{}", f["deployment"]);
        let (fr, cr) = (
            f["rules"].as_array().unwrap(),
            c["rules"].as_array().unwrap(),
        );
        assert_eq!(fr.len(), cr.len());
        for (f_rule, c_rule) in fr.iter().zip(cr) {
            let what = format!("{} / {}", f["deployment"], f_rule["rule"]);
            assert_eq!(f_rule["rule"], c_rule["rule"], "{what}");
            assert_eq!(f_rule["outcome"], c_rule["outcome"], "{what}");
            let violations = f_rule["violations"].as_array().unwrap();
            listed += violations.len();
            for level in ["deny", "warn"] {
                let n = violations.iter().filter(|v| v["level"] == level).count();
                assert_eq!(c_rule[level], n, "{what}: {level}");
            }
            let waived = f_rule["waived"].as_array().map_or(0, Vec::len);
            assert_eq!(c_rule["waived"], waived, "{what}: waived");
        }
    }
    listed
}

#[test]
fn counts_are_what_the_full_report_lists() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_store(dir.path());
    // The same image again, without the VEX statement the first one gets.
    run_ok(
        &db,
        &[
            "ingest",
            python_image().to_str().unwrap(),
            "--deployment",
            "python-too",
        ],
    );
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            fixture("vex/python-image.openvex.json").to_str().unwrap(),
        ],
    );
    let locks = corpus().join("dev/lockfiles/a-finetune");
    for (deployment, file) in [
        ("uv", "uv/uv.lock"),
        ("pylock", "pip-lock/pylock.toml"),
        ("ft-and-uv", "uv/uv.lock"),
    ] {
        run_ok(
            &db,
            &[
                "ingest",
                locks.join(file).to_str().unwrap(),
                "--deployment",
                deployment,
            ],
        );
    }
    let model = fixture("models/finetune-safetensors");
    for deployment in ["ft", "ft-and-uv"] {
        run_ok(
            &db,
            &[
                "ingest-model",
                model.to_str().unwrap(),
                "--deployment",
                deployment,
            ],
        );
    }

    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy.toml");
    let strict = policy(
        dir.path(),
        "strict.toml",
        r#"version = 1
[vulnerabilities]
severity = "low"
unknown = "deny"

[[vulnerabilities.waivers]]
advisory = "CVE-2022-40897"
package = "pkg:pypi/setuptools"
reason = "build time only"
expires = "2027-01-31"

[[vulnerabilities.waivers]]
advisory = "PYSEC-2022-43017"
deployment = "python"
reason = "expired"
expires = "2026-06-01"

[pinning]

[freshness]
max_age_days = 30
unknown = "deny"

[models]
allowed_base_orgs = ["meta-llama"]

[licenses]
deny = ["MIT"]
unknown = "warn"

[evidence]

[[custom]]
name = "hashes"
for = "package"
deny_if = 'size(pkg.hashes) == 0'

[[custom]]
name = "whole-package"
level = "warn"
for = "package"
deny_if = 'pkg.name.startsWith("p") && document.format != "x"'

[[custom]]
name = "open-advisories"
for = "advisory"
deny_if = 'advisory.open'

[[custom]]
name = "big"
for = "deployment"
deny_if = 'deployment.packages > 100'

[[custom]]
name = "documents"
level = "warn"
for = "document"
deny_if = 'document.format == "cyclonedx"'

[[custom]]
name = "models"
for = "model"
deny_if = 'model.approval != "approved"'
"#,
    );
    let warn_only = policy(
        dir.path(),
        "warn.toml",
        "version = 1\n[vulnerabilities]\nlevel = \"warn\"\nseverity = \"low\"\nunknown = \"warn\"\n\
         [licenses]\nlevel = \"warn\"\ndeny = [\"Apache-2.0\"]\n[evidence]\nlevel = \"allow\"\n",
    );
    let mut listed = 0;
    let mut failed = false;
    for (p, at) in [
        (&example, "2026-12-01"),
        (&strict, "2026-12-01"),
        (&strict, "2027-02-01"),
        (&warn_only, "2026-12-01"),
    ] {
        let (full_code, full) = gate_all(&db, p, at);
        let (code, counts) = counted(&db, p, at);
        assert_eq!(code, full_code, "{}", p.display());
        listed += assert_same(&full, &counts);
        failed |= code == 1;
    }
    // The comparison is not empty: every level and rule was exercised.
    assert!(listed > 100, "{listed}");
    assert!(failed);

    // SARIF and JUnit list each violation: --counts refuses them (exit 2).
    let out = aibomdb(
        &db,
        &[
            "gate",
            "--policy",
            strict.to_str().unwrap(),
            "--all",
            "--counts",
            "--format",
            "sarif",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // The table: one row per deployment, one column per rule.
    let out = aibomdb(
        &db,
        &[
            "gate",
            "--policy",
            strict.to_str().unwrap(),
            "--all",
            "--counts",
            "--at",
            "2026-12-01",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("custom:hashes"), "{text}");
    assert!(text.contains("6 deployments, "), "{text}");
}

/// Two package rules that select different fields of `pkg`, evaluated in
/// one run: each is answered on its own fields (a package's variable made
/// for one rule, with only what that rule reads, must not answer the
/// other). On the python image, exactly pip offends the second rule, and
/// nothing is "not evaluable".
#[test]
fn package_rules_reading_different_fields_answer_on_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_image_store(dir.path());
    let p = policy(
        dir.path(),
        "two.toml",
        r#"version = 1
[[custom]]
name = "unhashed"
level = "warn"
for = "package"
deny_if = 'size(pkg.hashes) > 1000'

[[custom]]
name = "pip"
for = "package"
deny_if = 'pkg.name == "pip"'
"#,
    );
    let (code, full) = gate_all(&db, &p, "2026-12-01");
    assert_eq!(code, 1, "{full}");
    let rules = full["deployments"][0]["rules"].as_array().unwrap();
    assert!(
        rules[0]["violations"].as_array().unwrap().is_empty(),
        "{}",
        rules[0]
    );
    let pip = rules[1]["violations"].as_array().unwrap();
    assert!(!pip.is_empty());
    for v in pip {
        assert!(
            v["subject"].as_str().unwrap().starts_with("pkg:pypi/pip@"),
            "{v}"
        );
        assert!(
            !v["message"]
                .as_str()
                .unwrap()
                .contains("could not be evaluated"),
            "{v}"
        );
    }
    let (_, counts) = counted(&db, &p, "2026-12-01");
    assert_same(&full, &counts);
}
