//! The gate's answers where it shares work between deployments (package CEL
//! answers kept per what the expression reads, TR-03183-2 components measured
//! once, whether a base model is described anywhere): each checked against the
//! answer worked out from scratch. (Rule by rule: tests/gate.rs and
//! tests/gate_vulnerabilities.rs.)

mod common;
mod gate_helpers;

use common::{aibomdb, corpus};
use gate_helpers::*;
use serde_json::Value;

/// The gate answers a package rule once per distinct combination of what the
/// expression reads: two deployments listing the same packages from the same
/// SBOM bytes under different file names share every `pkg` value, and only
/// the document's path tells their answers apart. Both are evaluated in one
/// run (one worker), so a key that left the document out would hand the
/// first deployment's answers to the second.
#[test]
fn custom_package_answers_are_kept_per_what_the_expression_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_image_store(dir.path());
    let copy = dir.path().join("python-copy.cdx.json");
    std::fs::copy(python_image(), &copy).unwrap();
    run_ok(
        &db,
        &[
            "ingest",
            copy.to_str().unwrap(),
            "--deployment",
            "python-copy",
        ],
    );
    let p = policy(
        dir.path(),
        "by-path.toml",
        r#"version = 1
[[custom]]
name = "mercurial-in-the-copy"
for = "package"
deny_if = 'pkg.name == "mercurial" && document.path.endsWith("python-copy.cdx.json")'
"#,
    );
    let (code, report) = gate_all(&db, &p, "2026-12-01");
    assert_eq!(code, 1);
    let by_name = |name: &str| subjects(&verdict_of(&report, name)["rules"][0]);
    assert!(by_name("python").is_empty());
    assert_eq!(
        by_name("python-copy"),
        [
            "pkg:pypi/mercurial@5.6.1",
            "pkg:deb/debian/mercurial@5.6.1-4"
        ]
    );
    // Every package of both was evaluated, whatever was answered from memory.
    let evaluated = |i: usize| {
        let summary = report["deployments"][i]["rules"][0]["summary"]
            .as_str()
            .unwrap()
            .to_string();
        summary
            .split("): ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(evaluated(0), "432 packages evaluated");
    assert_eq!(evaluated(1), evaluated(0));
}

/// The gate measures TR-03183-2 component by component, once per distinct
/// way a component is made, for every deployment that makes it so: what it
/// reports must be what `cra-report` finds on the whole export, for an image
/// SBOM, a lockfile, and the same lockfile again in a second deployment
/// (answered from what the first one measured), and a fine-tuned model
/// (its card, pedigree and files read the deployment's lineage edges) alone
/// and beside the lockfile, in one run.
#[test]
fn evidence_measured_per_component_is_the_whole_exports_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_image_store(dir.path());
    let lock = corpus().join("dev/lockfiles/a-finetune/uv/uv.lock");
    for deployment in ["uv", "uv-again", "ft-and-uv"] {
        run_ok(
            &db,
            &["ingest", lock.to_str().unwrap(), "--deployment", deployment],
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
    let p = policy(dir.path(), "e.toml", "version = 1\n[evidence]\n");
    let (code, report) = gate_all(&db, &p, "2026-12-01");
    assert_eq!(code, 1);
    for deployment in ["python", "uv", "uv-again", "ft", "ft-and-uv"] {
        let verdict = verdict_of(&report, deployment);
        let got: Vec<(String, String)> = verdict["rules"][0]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["subject"].as_str().unwrap().to_string(),
                    v["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let cra = aibomdb(
            &db,
            &["cra-report", "--deployment", deployment, "--format", "json"],
        );
        // Exit 1: required fields are missing, as the gate says.
        assert_eq!(
            cra.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&cra.stderr)
        );
        let cra: Value = serde_json::from_slice(&cra.stdout).unwrap();
        let expected: Vec<(String, String)> = cra["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["category"] == "required" && f["present"] != f["total"])
            .map(|f| {
                let (present, total) =
                    (f["present"].as_u64().unwrap(), f["total"].as_u64().unwrap());
                let first: Vec<&str> = f["missing"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .take(5)
                    .map(|m| m.as_str().unwrap())
                    .collect();
                (
                    format!(
                        "TR-03183-2 field {} ({})",
                        f["number"],
                        f["field"].as_str().unwrap()
                    ),
                    format!(
                        "required, missing on {} of {total} {}{}",
                        total - present,
                        if f["level"] == "sbom" {
                            "SBOMs"
                        } else {
                            "components"
                        },
                        if first.is_empty() {
                            String::new()
                        } else {
                            format!(" (first: {})", first.join(", "))
                        }
                    ),
                )
            })
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(got, expected, "{deployment}");
    }
}

/// `require_known_base`: the fine-tune's base (`google-bert/bert-base-uncased`,
/// from its model card) is described by no document until a directory is
/// ingested as that model; then the rule passes. The check stops at the first
/// document that describes the base.
#[test]
fn known_base_models() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let model = fixture("models/finetune-safetensors");
    run_ok(
        &db,
        &[
            "ingest-model",
            model.to_str().unwrap(),
            "--deployment",
            "ft",
        ],
    );
    let p = policy(
        dir.path(),
        "base.toml",
        "version = 1\n[models]\nrequire_signature = false\nrequire_approval = false\n\
         no_dangerous_pickle = false\nno_hash_mismatch = false\nrequire_known_base = true\n",
    );
    let unknown = |report: &Value| -> Vec<String> {
        rule(report, "models")["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["message"].as_str().unwrap().to_string())
            .filter(|m| m.contains("described by no document"))
            .collect()
    };
    let (code, report) = gate(&db, &p, "ft", "2026-12-01");
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        unknown(&report),
        [
            "base model pkg:huggingface/google-bert/bert-base-uncased (finetune) is described by no document in the store: its own files, licence and findings are unknown"
        ]
    );
    // The same files ingested as the base model itself describe it.
    run_ok(
        &db,
        &[
            "ingest-model",
            model.to_str().unwrap(),
            "--id",
            "google-bert/bert-base-uncased",
            "--deployment",
            "base",
        ],
    );
    let (_, report) = gate(&db, &p, "ft", "2026-12-01");
    assert!(unknown(&report).is_empty(), "{report}");
}

/// The gate walks each violation's path up the document's tree from the rows
/// it already read; the steps must be the blast radius's own
/// (`Store::paths_in_documents`), through the subject and the dependency
/// chain, for a lockfile (a project → its dependencies) and an image SBOM.
#[test]
fn gate_paths_are_the_blast_radius_paths() {
    use aibomdb_osv::load_advisories;
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let store = common::open(&db);
    let inputs = [
        ("lock", corpus().join("dev/lockfiles/a-finetune/uv/uv.lock")),
        ("python", python_image()),
    ];
    for (deployment, path) in &inputs {
        let prepared = aibomdb_ingest::prepare(path, &Default::default()).unwrap();
        aibomdb_ingest::commit(&store, prepared, Some(deployment)).unwrap();
    }
    load_advisories(&store, &common::pypa_records()).unwrap();
    let policy = aibomdb_policy::Policy::parse(
        "paths.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"none\"\nunknown = \"deny\"\n\
         [licenses]\nunknown = \"deny\"\n",
    )
    .unwrap();
    let names: Vec<String> = inputs.iter().map(|(d, _)| d.to_string()).collect();
    let report = aibomdb_policy::evaluate(&store, &policy, &names, 1_764_547_200).unwrap();
    let mut compared = 0;
    let mut longest = 0;
    for d in &report.deployments {
        let documents: Vec<aibomdb_store::DocumentRecord> = store
            .current_documents(&d.deployment)
            .unwrap()
            .into_iter()
            .filter_map(|id| store.document(id).unwrap())
            .collect();
        for v in d.rules.iter().flat_map(|r| &r.violations) {
            let Some(last) = v.path().last() else {
                continue;
            };
            let doc = documents
                .iter()
                .find(|doc| Some(doc.source_path.as_str()) == v.document.as_deref())
                .unwrap_or(&documents[0]);
            let package = store
                .package(&aibomdb_graph::PackageKey::from_stored(last.id.clone()))
                .unwrap()
                .unwrap();
            let hits = store.paths_in_documents(&[doc], &[package.id]).unwrap();
            assert_eq!(hits.len(), 1, "{}", v.subject());
            assert_eq!(
                hits[0].path,
                v.path(),
                "{} in {}",
                v.subject(),
                d.deployment
            );
            compared += 1;
            longest = longest.max(v.path().len());
        }
    }
    assert!(compared >= 10, "{compared} paths compared");
    // deployment → document → subject → at least one dependency hop.
    assert!(longest >= 5, "longest path {longest}");
}

/// A server keeps one gate cache between requests, with what it has read
/// (weighed matches, whether a VEX statement names an advisory, parsed
/// policies). A VEX statement ingested between two questions, through the
/// same store handle, must be honoured by the second: pip's PYSEC-2023-228
/// trips a `low` gate, then lib4vex's OpenVEX statement marks it
/// not_affected.
#[test]
fn a_kept_gate_cache_sees_a_vex_statement_ingested_between_two_questions() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_store(dir.path());
    let store = common::open(&db);
    let cache = aibomdb_policy::GateCache::default();
    let text = "version = 1\n[vulnerabilities]\nseverity = \"low\"\nunknown = \"allow\"\n";
    let at = aibomdb_policy::time::parse("2026-12-01").unwrap();
    let ask = || {
        let policy = cache
            .policy("stored low", text, || {
                aibomdb_policy::Policy::parse("low", text)
            })
            .unwrap();
        let report =
            aibomdb_policy::evaluate_cached(&store, &policy, &["python".to_string()], at, &cache)
                .unwrap();
        report.deployments[0]
            .rules
            .iter()
            .flat_map(|r| &r.violations)
            .map(|v| v.subject().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ask(), ["PYSEC-2023-228 in pkg:pypi/pip@22.2.2"]);
    // Asked again, from what the cache kept: the same answer.
    assert_eq!(ask(), ["PYSEC-2023-228 in pkg:pypi/pip@22.2.2"]);
    let vex = fixture("vex/python-image.openvex.json");
    let prepared = aibomdb_ingest::prepare(&vex, &Default::default()).unwrap();
    aibomdb_ingest::commit(&store, prepared, Some("python")).unwrap();
    assert!(ask().is_empty(), "the statement was not seen");
}

/// A stored policy edited under the same name is parsed again; the same
/// text is not.
#[test]
fn a_kept_policy_is_parsed_again_when_its_text_changes() {
    let cache = aibomdb_policy::GateCache::default();
    let first = "version = 1\n[vulnerabilities]\nseverity = \"low\"\n";
    let second = "version = 1\n[vulnerabilities]\nseverity = \"high\"\n";
    let a = cache
        .policy("stored p", first, || {
            aibomdb_policy::Policy::parse("p", first)
        })
        .unwrap();
    let again = cache
        .policy("stored p", first, || panic!("parsed twice"))
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &again));
    let b = cache
        .policy("stored p", second, || {
            aibomdb_policy::Policy::parse("p", second)
        })
        .unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &b));
    assert_ne!(
        format!("{:?}", a.vulnerabilities.as_ref().map(|v| v.severity)),
        format!("{:?}", b.vulnerabilities.as_ref().map(|v| v.severity))
    );
}
