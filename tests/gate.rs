//! `aibomdb gate`, rule by rule: pinning, models, licences, evidence,
//! freshness and custom CEL rules on real corpus inputs, both ways.
//! (Vulnerabilities, KEV and EPSS: tests/gate_vulnerabilities.rs. Policy
//! files, stored policies, output formats and documents judged without
//! being stored: tests/gate_policy.rs.)

mod common;
mod gate_helpers;

use std::path::Path;

use common::{aibomdb, corpus, json};
use gate_helpers::*;
use serde_json::Value;

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
