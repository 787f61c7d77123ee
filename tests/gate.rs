//! `aibomdb gate`, rule by rule: every built-in rule and custom CEL rules on
//! real corpus inputs, both ways; waivers expire against a fixed `--at`.
//! (Policy files, stored policies, output formats and documents judged
//! without being stored: tests/gate_policy.rs.)

mod common;
mod gate_helpers;

use std::path::Path;

use common::{aibomdb, corpus, json};
use gate_helpers::*;
use serde_json::Value;

#[test]
fn vulnerabilities_by_severity_unknown_bucket_vex_and_waivers() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_store(dir.path());
    let at = "2026-12-01T00:00:00Z";

    // The unknown bucket decides: deny trips on setuptools and wheel, with
    // their paths from the deployment.
    let strict = policy(
        dir.path(),
        "strict.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"deny\"\n",
    );
    let (code, report) = gate(&db, &strict, "python", at);
    assert_eq!(code, 1);
    let v = rule(&report, "vulnerabilities");
    assert_eq!(v["outcome"], "fail");
    let mut got = subjects(v);
    got.sort();
    assert_eq!(
        got,
        [
            "PYSEC-2022-43012 in pkg:pypi/setuptools@63.2.0",
            "PYSEC-2022-43017 in pkg:pypi/wheel@0.37.1"
        ]
    );
    let path = v["violations"][0]["path"].as_array().unwrap();
    assert_eq!(path.first().unwrap()["id"], "python");
    assert!(
        path.last().unwrap()["id"]
            .as_str()
            .unwrap()
            .starts_with("pkg:pypi/")
    );

    // Warn: reported, not failing.
    let lenient = policy(
        dir.path(),
        "lenient.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"warn\"\n",
    );
    let (code, report) = gate(&db, &lenient, "python", at);
    assert_eq!(code, 0);
    assert_eq!(rule(&report, "vulnerabilities")["outcome"], "warn");

    // The threshold: pip's 3.3 is low, so `low` trips and `medium` does not.
    let low = policy(
        dir.path(),
        "low.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"low\"\nunknown = \"allow\"\n",
    );
    let (code, report) = gate(&db, &low, "python", at);
    assert_eq!(code, 1);
    assert_eq!(
        subjects(rule(&report, "vulnerabilities")),
        ["PYSEC-2023-228 in pkg:pypi/pip@22.2.2"]
    );
    let medium = policy(
        dir.path(),
        "medium.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"medium\"\nunknown = \"allow\"\n",
    );
    assert_eq!(gate(&db, &medium, "python", at).0, 0);

    // Waivers by alias, with an expiry: they hold before it, then the gate
    // fails again and says which waiver expired.
    let waived = policy(
        dir.path(),
        "waived.toml",
        r#"version = 1
[vulnerabilities]
severity = "high"
unknown = "deny"

[[vulnerabilities.waivers]]
advisory = "CVE-2022-40897"
package = "pkg:pypi/setuptools"
reason = "setuptools runs at build time only"
expires = "2027-01-31"

[[vulnerabilities.waivers]]
advisory = "PYSEC-2022-43017"
deployment = "python"
reason = "wheel is not invoked at run time"
expires = "2027-01-31T00:00:00Z"
"#,
    );
    let (code, report) = gate(&db, &waived, "python", at);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        rule(&report, "vulnerabilities")["waived"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (code, report) = gate(&db, &waived, "python", "2027-02-01");
    assert_eq!(code, 1);
    let v = rule(&report, "vulnerabilities");
    assert_eq!(subjects(v).len(), 2);
    assert!(
        v["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired on 2027-01-31"),
        "{v}"
    );
    // A renewed waiver holds though an older one for the same advisory has
    // expired; a package written in another spelling is the same package.
    let renewed = policy(
        dir.path(),
        "renewed.toml",
        r#"version = 1
[vulnerabilities]
severity = "high"
unknown = "deny"

[[vulnerabilities.waivers]]
advisory = "CVE-2022-40897"
package = "pkg:pypi/SetupTools"
reason = "first review"
expires = "2026-06-30"

[[vulnerabilities.waivers]]
advisory = "CVE-2022-40897"
package = "pkg:pypi/setuptools"
reason = "renewed after the second review"
expires = "2027-06-30"

[[vulnerabilities.waivers]]
advisory = "PYSEC-2022-43017"
reason = "wheel is not invoked at run time"
expires = "2027-06-30"
"#,
    );
    let (code, report) = gate(&db, &renewed, "python", at);
    assert_eq!(code, 0, "{report}");
    let w = &rule(&report, "vulnerabilities")["waived"];
    assert!(
        w.as_array()
            .unwrap()
            .iter()
            .any(|w| w["reason"] == "renewed after the second review"),
        "{w}"
    );
    // Before the first expired, it (spelt `SetupTools`) is the one that holds.
    let (code, report) = gate(&db, &renewed, "python", "2026-05-01");
    assert_eq!(code, 0, "{report}");
    let w = &rule(&report, "vulnerabilities")["waived"];
    assert!(
        w.as_array()
            .unwrap()
            .iter()
            .any(|w| w["reason"] == "first review"),
        "{w}"
    );

    // A waiver for another package does not cover this one.
    let elsewhere = policy(
        dir.path(),
        "elsewhere.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"low\"\nunknown = \"allow\"\n\
         [[vulnerabilities.waivers]]\nadvisory = \"CVE-2023-5752\"\npackage = \"pkg:pypi/pipx\"\n\
         reason = \"x\"\nexpires = \"2099-01-01\"\n",
    );
    assert_eq!(gate(&db, &elsewhere, "python", at).0, 1);

    // VEX: the OpenVEX statement (made with vexctl-compatible tooling, see
    // tests/fixtures/vex/make.py) marks pip not_affected; the low gate passes.
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            fixture("vex/python-image.openvex.json").to_str().unwrap(),
        ],
    );
    let (code, report) = gate(&db, &low, "python", at);
    assert_eq!(code, 0, "{report}");
    assert!(
        rule(&report, "vulnerabilities")["summary"]
            .as_str()
            .unwrap()
            .contains("1 suppressed by VEX")
    );
}

/// A record that carries only a CVSS v4.0 vector is scored by it: log4j-core
/// 2.8.1 in GUAC's SPDX document matches GHSA-3pxv-7cmr-fjr4
/// (`CVSS:4.0/…/SI:L/SA:N`, 6.9 by FIRST's method; the label MODERATE alone
/// gave no score), so `medium` trips with the score named and `high` passes.
#[test]
fn vulnerabilities_scored_by_cvss_v4() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let record = corpus().join("osv/examples/Maven/GHSA-3pxv-7cmr-fjr4.json");
    run_ok(&db, &["advisories", "load", record.to_str().unwrap()]);
    let java = corpus().join("external/guac-data/docs/spdx/spdx_vuln.json");
    run_ok(
        &db,
        &["ingest", "--deployment", "java", java.to_str().unwrap()],
    );
    let at = "2026-12-01T00:00:00Z";
    let medium = policy(
        dir.path(),
        "medium.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"medium\"\nunknown = \"deny\"\n",
    );
    let (code, report) = gate(&db, &medium, "java", at);
    assert_eq!(code, 1);
    let v = rule(&report, "vulnerabilities");
    assert_eq!(
        subjects(v),
        ["GHSA-3pxv-7cmr-fjr4 in pkg:maven/org.apache.logging.log4j/log4j-core@2.8.1"]
    );
    let message = v["violations"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("medium (CVSS 6.9)"), "{message}");
    let high = policy(
        dir.path(),
        "high.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"deny\"\n",
    );
    let (code, report) = gate(&db, &high, "java", at);
    assert_eq!(code, 0, "{report}");
    // The CycloneDX export rates it by the method that scored it.
    let out = dir.path().join("java.cdx.json");
    run_ok(
        &db,
        &[
            "export",
            "--deployment",
            "java",
            "--format",
            "cyclonedx-1.6",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let bom: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let vulnerability = bom["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "GHSA-3pxv-7cmr-fjr4")
        .unwrap();
    assert_eq!(
        vulnerability["ratings"],
        serde_json::json!([{"score": 6.9, "severity": "medium", "method": "CVSSv4"}])
    );
}

#[test]
fn pinning_of_images_python_packages_and_models() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let pin = policy(
        dir.path(),
        "pin.toml",
        "version = 1\n[pinning]\nmodels = true\nimages = true\npython = true\n",
    );
    let at = "2026-12-01";
    // syft names the image by digest; Trivy's example image has none.
    run_ok(
        &db,
        &[
            "ingest",
            python_image().to_str().unwrap(),
            "--deployment",
            "python",
        ],
    );
    run_ok(
        &db,
        &[
            "ingest",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/trivy-0.54.1_container_cdx1.6.json")
                .to_str()
                .unwrap(),
            "--deployment",
            "trivy",
        ],
    );
    let images_only = policy(
        dir.path(),
        "images.toml",
        "version = 1\n[pinning]\nmodels = false\npython = false\n",
    );
    let (code, report) = gate(&db, &images_only, "python", at);
    assert_eq!(code, 0, "{report}");
    let (code, report) = gate(&db, &images_only, "trivy", at);
    assert_eq!(code, 1);
    assert_eq!(
        subjects(rule(&report, "pinning")),
        ["image trivy-test-image"]
    );

    // Python: pip-compile --generate-hashes passes; the image's packages
    // (no hashes in the SBOM) fail, each naming the document that lacks them.
    // The same uv.lock exported by uv with and without hashes
    // (tests/fixtures/lockfiles/make.sh): with passes for what it pins, without
    // fails for every package, naming the file.
    let nohashes = fixture("lockfiles/b-rag-service/uv/requirements-nohashes.txt");
    run_ok(
        &db,
        &[
            "ingest",
            nohashes.to_str().unwrap(),
            "--deployment",
            "nohashes",
        ],
    );
    let python_only = policy(
        dir.path(),
        "python-only.toml",
        "version = 1\n[pinning]\nmodels = false\nimages = false\n",
    );
    let (code, report) = gate(&db, &python_only, "nohashes", at);
    assert_eq!(code, 1);
    let p = rule(&report, "pinning");
    let unhashed = p["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["message"].as_str().unwrap().contains("no hash"))
        .count();
    // 23 versions pinned with `==` (counted with grep), an editable path and a
    // git URL: 25 entries, none with a hash.
    assert_eq!(unhashed, 25, "{p}");
    assert!(
        p["violations"][0]["document"]
            .as_str()
            .unwrap()
            .ends_with("requirements-nohashes.txt")
    );
    let reqs = corpus().join("dev/lockfiles/a-finetune/pip-tools/requirements.txt");
    run_ok(
        &db,
        &["ingest", reqs.to_str().unwrap(), "--deployment", "hashed"],
    );
    let (code, report) = gate(&db, &pin, "hashed", at);
    assert_eq!(code, 0, "{report}");
    let (code, report) = gate(&db, &pin, "python", at);
    assert_eq!(code, 1);
    let p = rule(&report, "pinning");
    assert_eq!(subjects(p).len(), 4, "{p}");
    assert!(
        p["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no hash")
    );
    assert!(
        p["violations"][0]["document"]
            .as_str()
            .unwrap()
            .ends_with("library-python.latest.json")
    );

    // Models: a Hub model-info response carries the commit (`sha`) and passes;
    // LLaMA-Factory's adapter names its base without a revision and fails.
    let cassette = corpus().join(
        "formats/huggingface/huggingface_hub-cassettes/InferenceApiTest.test_simple_inference.yaml",
    );
    let text = std::fs::read_to_string(cassette).unwrap();
    let c: Value = serde_saphyr::from_str(&text).unwrap();
    let info = c["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["response"]["body"]["string"].as_str())
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .find(|v| v.get("sha").is_some() && v.get("modelId").is_some())
        .expect("a model-info body with sha");
    let f = dir.path().join("info.json");
    std::fs::write(&f, info.to_string()).unwrap();
    run_ok(&db, &["ingest", f.to_str().unwrap(), "--deployment", "hub"]);
    let models_only = policy(
        dir.path(),
        "models.toml",
        "version = 1\n[pinning]\nimages = false\npython = false\n",
    );
    let (code, report) = gate(&db, &models_only, "hub", at);
    assert_eq!(code, 0, "{report}");
    let adapter = corpus().join("formats/huggingface/llamafactory-pr7074-checkpoint-900");
    run_ok(
        &db,
        &[
            "ingest-model",
            adapter.to_str().unwrap(),
            "--deployment",
            "adapter",
        ],
    );
    let (code, report) = gate(&db, &models_only, "adapter", at);
    assert_eq!(code, 1);
    let p = rule(&report, "pinning");
    let base = p["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["subject"] == "pkg:huggingface/meta-llama/Llama-3.2-3B-Instruct")
        .unwrap_or_else(|| panic!("{p}"));
    assert!(
        base["message"]
            .as_str()
            .unwrap()
            .contains("without a revision")
    );
}

#[test]
fn model_artifacts_pickles_and_approvals() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let at = "2026-12-01";
    run_ok(
        &db,
        &[
            "ingest-model",
            fixture("models/pickle-zoo").to_str().unwrap(),
            "--deployment",
            "zoo",
        ],
    );
    let pickles = policy(
        dir.path(),
        "pickles.toml",
        "version = 1\n[models]\nrequire_signature = false\nrequire_approval = false\n\
         require_known_base = false\n",
    );
    let (code, report) = gate(&db, &pickles, "zoo", at);
    assert_eq!(code, 1);
    let m = rule(&report, "models");
    assert!(
        m["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["message"].as_str().unwrap().contains("popen.pt")),
        "{m}"
    );

    // The safetensors fine-tune: unapproved until each weight file is
    // approved by digest, then the rule passes.
    run_ok(
        &db,
        &[
            "ingest-model",
            fixture("models/finetune-safetensors").to_str().unwrap(),
            "--deployment",
            "ft",
        ],
    );
    let approval = policy(
        dir.path(),
        "approval.toml",
        "version = 1\n[models]\nrequire_signature = false\nrequire_approval = true\n\
         require_known_base = false\n",
    );
    let (code, report) = gate(&db, &approval, "ft", at);
    assert_eq!(code, 1, "{report}");
    let models = json(&aibomdb(
        &db,
        &["query", "models", "--deployment", "ft", "--format", "json"],
    ));
    let model = &models[0];
    for a in model["info"]["artifacts"].as_array().unwrap() {
        if a["format"] == "safetensors" {
            run_ok(
                &db,
                &[
                    "approve",
                    "--model",
                    model["purl"].as_str().unwrap(),
                    "--artifact-sha256",
                    a["sha256"].as_str().unwrap(),
                    "--by",
                    "alice",
                    "--note",
                    "eval ok",
                ],
            );
        }
    }
    let (code, report) = gate(&db, &approval, "ft", at);
    assert_eq!(code, 0, "{report}");

    // Signatures: the fixture has no model.sig.
    let signed = policy(
        dir.path(),
        "signed.toml",
        "version = 1\n[models]\nrequire_approval = false\nrequire_known_base = false\n",
    );
    let (code, report) = gate(&db, &signed, "ft", at);
    assert_eq!(code, 1);
    assert!(
        rule(&report, "models")["violations"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("signature")
    );
}

#[test]
fn licences_allow_and_deny() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_image_store(dir.path());
    let at = "2026-12-01";
    let deny_gpl3 = policy(
        dir.path(),
        "gpl.toml",
        "version = 1\n[licenses]\ndeny = [\"GPL-3.0-only\"]\nunknown = \"allow\"\n",
    );
    let (code, report) = gate(&db, &deny_gpl3, "python", at);
    assert_eq!(code, 1);
    assert!(
        subjects(rule(&report, "licenses"))
            .contains(&"pkg:deb/debian/bash@5.1-2+deb11u1".to_string())
    );
    // A licence nobody in the image uses denies nothing.
    let deny_sspl = policy(
        dir.path(),
        "sspl.toml",
        "version = 1\n[licenses]\ndeny = [\"SSPL-1.0\"]\nunknown = \"allow\"\n",
    );
    assert_eq!(gate(&db, &deny_sspl, "python", at).0, 0);
}

#[test]
fn evidence_is_the_cra_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_image_store(dir.path());
    let evidence = policy(dir.path(), "e.toml", "version = 1\n[evidence]\n");
    let (code, report) = gate(&db, &evidence, "python", "2026-12-01");
    assert_eq!(code, 1);
    let e = rule(&report, "evidence");
    assert!(
        subjects(e)
            .iter()
            .any(|s| s.starts_with("TR-03183-2 field 1 ")),
        "{e}"
    );
    // The creator named in the policy supplies field 1.
    let named = policy(
        dir.path(),
        "n.toml",
        "version = 1\n[evidence]\ncreator_email = \"psirt@example.org\"\n",
    );
    let (_, report) = gate(&db, &named, "python", "2026-12-01");
    assert!(
        !subjects(rule(&report, "evidence"))
            .iter()
            .any(|s| s.starts_with("TR-03183-2 field 1 "))
    );
}

#[test]
fn freshness_from_upload_times_and_a_release_date_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let lock = corpus().join("dev/lockfiles/a-finetune/uv");
    run_ok(
        &db,
        &[
            "ingest",
            lock.join("uv.lock").to_str().unwrap(),
            "--deployment",
            "uv",
        ],
    );
    run_ok(
        &db,
        &[
            "ingest",
            lock.join("pylock.toml").to_str().unwrap(),
            "--deployment",
            "pylock",
        ],
    );
    let p = policy(
        dir.path(),
        "fresh.toml",
        "version = 1\n[freshness]\nlevel = \"deny\"\nmax_age_days = 365\nunknown = \"deny\"\n",
    );
    // Counted independently with tomllib: of the 73 locked packages, 9 have
    // their earliest file uploaded more than 365 days before 2026-12-01.
    for deployment in ["uv", "pylock"] {
        let (code, report) = gate(&db, &p, deployment, "2026-12-01");
        assert_eq!(code, 1, "{deployment}");
        let f = rule(&report, "freshness");
        let mut got = subjects(f);
        got.sort();
        assert_eq!(got.len(), 9, "{deployment}: {f}");
        assert!(
            got.iter().any(|s| s.starts_with("pkg:pypi/sympy@")),
            "{got:?}"
        );
        assert!(
            f["summary"]
                .as_str()
                .unwrap()
                .contains("73 dated, 0 with no known"),
            "{f}"
        );
    }
    // Everything ages: a year later more packages are over the limit, and a
    // ten-year limit passes today.
    let (_, later) = gate(&db, &p, "uv", "2027-12-01");
    assert!(subjects(rule(&later, "freshness")).len() > 9);
    let decade = policy(
        dir.path(),
        "decade.toml",
        "version = 1\n[freshness]\nlevel = \"deny\"\nmax_age_days = 3650\n",
    );
    assert_eq!(gate(&db, &decade, "uv", "2026-12-01").0, 0);

    // The python image's SBOM states no release time: unknown, not a pass,
    // until an index supplies the dates.
    run_ok(
        &db,
        &[
            "ingest",
            python_image().to_str().unwrap(),
            "--deployment",
            "python",
        ],
    );
    let pypi = policy(
        dir.path(),
        "pypi.toml",
        "version = 1\n[freshness]\nlevel = \"deny\"\nunknown = \"deny\"\necosystems = [\"pypi\"]\n",
    );
    let (code, report) = gate(&db, &pypi, "python", "2026-12-01");
    assert_eq!(code, 1);
    let f = rule(&report, "freshness");
    assert_eq!(subjects(f).len(), 4, "{f}");
    assert!(
        f["violations"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("release time unknown")
    );
    // An index beside the policy supplies dates (here the four versions'
    // release days as a team would record them; the format is what is tested).
    std::fs::write(
        dir.path().join("dates.csv"),
        "purl,released\n# PyPI upload times\npkg:pypi/pip@22.2.2,2022-08-03\n\
         pkg:pypi/setuptools@63.2.0,2022-07-16\npkg:pypi/wheel@0.37.1,2021-12-22\n\
         pkg:pypi/mercurial@5.6.1,2020-12-08\n",
    )
    .unwrap();
    let indexed = policy(
        dir.path(),
        "indexed.toml",
        "version = 1\n[freshness]\nlevel = \"deny\"\nunknown = \"deny\"\necosystems = [\"pypi\"]\n\
         max_age_days = 3650\nrelease_dates = \"dates.csv\"\n",
    );
    let (code, report) = gate(&db, &indexed, "python", "2026-12-01");
    assert_eq!(code, 0, "{report}");
    let (code, report) = gate(&db, &indexed, "python", "2031-01-01");
    assert_eq!(code, 1);
    assert_eq!(
        subjects(rule(&report, "freshness")),
        ["pkg:pypi/mercurial@5.6.1"]
    );
}

#[test]
fn custom_cel_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_store(dir.path());
    let at = "2026-12-01";
    let p = policy(
        dir.path(),
        "custom.toml",
        r#"version = 1
[[custom]]
name = "no-mercurial"
for = "package"
deny_if = 'pkg.ecosystem == "pypi" && pkg.name == "mercurial"'
message = "mercurial must not ship in images"

[[custom]]
name = "open-without-fix"
for = "advisory"
deny_if = 'advisory.open && size(advisory.fixed) == 0'
"#,
    );
    let (code, report) = gate(&db, &p, "python", at);
    assert_eq!(code, 1);
    let c = rule(&report, "custom:no-mercurial");
    assert_eq!(subjects(c), ["pkg:pypi/mercurial@5.6.1"]);
    assert_eq!(
        c["violations"][0]["message"],
        "mercurial must not ship in images"
    );
    // Every match of the image has a fixed version.
    assert_eq!(rule(&report, "custom:open-without-fix")["outcome"], "pass");
    // Macros bind their own loop variable; it is not taken for a typo.
    let macros = policy(
        dir.path(),
        "macros.toml",
        "version = 1\n[[custom]]\nname = \"md5\"\nfor = \"package\"\n\
         deny_if = 'pkg.hashes.exists(h, h.startsWith(\"md5:\")) || pkg.licenses.all(l, l == \"x\") && size(pkg.licenses) > 0'\n",
    );
    let (_, report) = gate(&db, &macros, "python", at);
    let m = rule(&report, "custom:md5");
    assert!(
        !m["summary"].as_str().unwrap().contains("not evaluable"),
        "{m}"
    );
    // An expression that fails on a subject is a violation, not a pass.
    let broken = policy(
        dir.path(),
        "broken.toml",
        "version = 1\n[[custom]]\nname = \"b\"\nfor = \"advisory\"\ndeny_if = 'advisory.nosuch == 1'\n",
    );
    let (code, report) = gate(&db, &broken, "python", at);
    assert_eq!(code, 1);
    let b = rule(&report, "custom:b");
    assert_eq!(subjects(b).len(), 3);
    assert!(
        b["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("could not be evaluated")
    );
}

/// CISA KEV on matches and in the gate: Pillow 10.0.0 (compiled by uv with
/// hashes, tests/fixtures/lockfiles/make.sh) matches PyPA's PYSEC-2023-175,
/// which relates CVE-2023-4863 (libwebp), in a trimmed real KEV catalog
/// (tests/fixtures/kev/make.sh). The record has no severity, so a policy that
/// lets unknown severities through passes it, until `kev = "deny"`.
#[test]
fn kev_marks_exploited_matches_and_the_gate_denies_them() {
    let (dir, db) = pillow_matched_by_pysec_2023_175();
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(rows[0]["advisory"], "PYSEC-2023-175");
    assert_eq!(rows[0]["kev"], Value::Null);
    let at = "2026-12-01T00:00:00Z";
    let lenient = "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"allow\"\n";
    let p = policy(dir.path(), "lenient.toml", lenient);
    assert_eq!(gate(&db, &p, "images", at).0, 0);

    let kev = fixture("kev/known_exploited_vulnerabilities.trimmed.json");
    let loaded = json(&aibomdb(
        &db,
        &[
            "advisories",
            "kev",
            kev.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(loaded["version"], "2025.08.25");
    assert_eq!(loaded["entries"], 14);
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(rows[0]["kev"]["cve"], "CVE-2023-4863");
    assert_eq!(rows[0]["kev"]["date_added"], "2023-09-13");
    let sarif = json(&aibomdb(&db, &["match", "--format", "sarif"]));
    assert_eq!(sarif["runs"][0]["results"][0]["properties"]["kev"], true);
    // Still passing by severity; `kev = "deny"` fails it whatever the severity.
    assert_eq!(gate(&db, &p, "images", at).0, 0);
    let strict = policy(
        dir.path(),
        "kev.toml",
        &format!("{lenient}kev = \"deny\"\n"),
    );
    let (code, report) = gate(&db, &strict, "images", at);
    assert_eq!(code, 1, "{report}");
    let v = rule(&report, "vulnerabilities");
    assert_eq!(subjects(v), ["PYSEC-2023-175 in pkg:pypi/pillow@10.0.0"]);
    let message = v["violations"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("CVE-2023-4863 is in CISA KEV since 2023-09-13"),
        "{message}"
    );
    // A bad level is a bad policy: exit 2 with the line.
    let bad = policy(
        dir.path(),
        "bad.toml",
        &format!("{lenient}kev = \"maybe\"\n"),
    );
    refused_with(&db, &bad, "bad.toml:5: [vulnerabilities] kev");
}

/// FIRST EPSS on matches and in the gate: the same Pillow match, and a
/// trimmed real EPSS CSV (tests/fixtures/epss/make.sh) that scores
/// CVE-2023-4863 at 0.99979. A policy that lets the record's unknown severity
/// through passes it until `epss_at_least` is at or below that score.
#[test]
fn epss_scores_matches_and_the_gate_denies_likely_exploitation() {
    let (dir, db) = pillow_matched_by_pysec_2023_175();
    let epss = fixture("epss/epss_scores.trimmed.csv");
    let loaded = json(&aibomdb(
        &db,
        &[
            "advisories",
            "epss",
            epss.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(loaded["version"], "v2026.06.15");
    assert_eq!(loaded["released"], "2026-09-29T12:00:22Z");
    assert_eq!(loaded["entries"], 16);
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(rows[0]["epss"]["epss"], 0.99979, "{rows}");
    assert_eq!(rows[0]["epss"]["percentile"], 0.9998);
    let sarif = json(&aibomdb(&db, &["match", "--format", "sarif"]));
    assert_eq!(
        sarif["runs"][0]["results"][0]["properties"]["epss"],
        0.99979
    );
    let at = "2026-12-01T00:00:00Z";
    let lenient = "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"allow\"\n";
    let above = policy(
        dir.path(),
        "above.toml",
        &format!("{lenient}epss_at_least = 0.9998\n"),
    );
    assert_eq!(gate(&db, &above, "images", at).0, 0);
    let strict = policy(
        dir.path(),
        "epss.toml",
        &format!("{lenient}epss_at_least = 0.5\n"),
    );
    let (code, report) = gate(&db, &strict, "images", at);
    assert_eq!(code, 1, "{report}");
    let v = rule(&report, "vulnerabilities");
    assert_eq!(subjects(v), ["PYSEC-2023-175 in pkg:pypi/pillow@10.0.0"]);
    let message = v["violations"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("EPSS 0.99979 (percentile 0.9998)"),
        "{message}"
    );
    // A probability out of range is a bad policy, with its line.
    let bad = policy(
        dir.path(),
        "bad.toml",
        &format!("{lenient}epss_at_least = 2\n"),
    );
    refused_with(&db, &bad, "bad.toml:5: [vulnerabilities] epss_at_least");
    // Not an EPSS file: exit 2, and the scores loaded before stay.
    let kev = fixture("kev/known_exploited_vulnerabilities.trimmed.json");
    let out = aibomdb(&db, &["advisories", "epss", kev.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("not an EPSS file"));
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(rows[0]["epss"]["epss"], 0.99979);
}

/// A store where the service's Pillow 10.0.0 (uv-compiled with hashes,
/// tests/fixtures/lockfiles/make.sh) matches PyPA's PYSEC-2023-175, which
/// relates CVE-2023-4863 (libwebp).
fn pillow_matched_by_pysec_2023_175() -> (tempfile::TempDir, common::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let lock = fixture("lockfiles/d-image-service/requirements.txt");
    run_ok(
        &db,
        &["ingest", "--deployment", "images", lock.to_str().unwrap()],
    );
    let record = corpus().join("osv/pypa-advisory-database/vulns/pillow/PYSEC-2023-175.yaml");
    run_ok(&db, &["advisories", "load", record.to_str().unwrap()]);
    (dir, db)
}

/// `gate` refuses the policy: exit 2, and stderr names `place`.
fn refused_with(db: &Path, policy: &Path, place: &str) {
    let out = aibomdb(
        db,
        &[
            "gate",
            "--policy",
            policy.to_str().unwrap(),
            "--deployment",
            "images",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains(place),
        "{}",
        common::stderr(&out)
    );
}
