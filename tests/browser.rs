//! The dashboard in a real browser: headless Debian Chromium driven by
//! playwright-core (tests/browser/dashboard.mjs) against the real server with
//! the shipped examples ingested. Needs `/usr/bin/chromium` and
//! `npm ci --prefix tests/browser` (both done by .ci/run); a missing browser
//! fails the test, it is never skipped.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, aibomdb, json};

#[test]
fn dashboard_search_shows_the_deployments_that_contain_transformers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("tests/browser/dashboard.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser`"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    let out = aibomdb(&db, &["ingest", root.join("examples").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model = root.join("tests/fixtures/models/finetune-safetensors");
    let out = aibomdb(
        &db,
        &[
            "ingest-model",
            model.to_str().unwrap(),
            "--deployment",
            "classifier",
            "--id",
            "aibomdb-test/bert-imdb",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The expected answer, from the CLI (not from the page).
    let expected = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--name",
            "transformers",
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    let mut expected: Vec<String> = expected
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["deployment"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    expected.dedup();
    assert!(!expected.is_empty());

    // A stored policy: the deployment view shows its verdict.
    let out = aibomdb(
        &db,
        &[
            "policy",
            "add",
            "release",
            root.join("examples/policy.toml").to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gate = aibomdb(
        &db,
        &[
            "gate",
            "--stored",
            "release",
            "--deployment",
            "classifier",
            "--format",
            "json",
        ],
    );
    let gate: serde_json::Value = serde_json::from_slice(&gate.stdout).unwrap();
    // Two releases of the model, and an observation of weights that were
    // never released: the page shows the timeline, drift and the target.
    for (name, by) in [("r1", "alice@example.org"), ("r2", "bob@example.org")] {
        let out = aibomdb(
            &db,
            &[
                "release",
                "create",
                "--deployment",
                "classifier",
                "--name",
                name,
                "--approved-by",
                by,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let unknown_weights = "f".repeat(64);
    let out = aibomdb(
        &db,
        &[
            "observe",
            "--deployment",
            "classifier",
            "--model-sha256",
            &unknown_weights,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&db, &[]);
    let shots = root.join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("dashboard-transformers.png");
    let _ = std::fs::remove_file(&shot);
    let _ = std::fs::remove_file(&shot);
    let out = Command::new("node")
        .arg(&script)
        .arg(server.url("/"))
        .arg(&shot)
        .arg("classifier")
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "dashboard.mjs failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let deployments: Vec<String> = seen["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    assert_eq!(deployments, expected, "{seen}");
    assert!(
        seen["paths"].as_array().unwrap().iter().all(|p| p
            .as_str()
            .unwrap()
            .ends_with("pkg:pypi/transformers@5.23.0")),
        "{seen}"
    );
    assert!(seen["pictureNodes"].as_u64().unwrap() >= 4, "{seen}");
    assert!(
        seen["heading"].as_str().unwrap().starts_with("Deployment "),
        "{seen}"
    );
    assert!(
        seen["download"]
            .as_str()
            .unwrap()
            .ends_with("/sbom.cdx.json")
    );
    let exports: Vec<&str> = seen["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        exports,
        ["cyclonedx-1.5", "spdx-2.3", "openvex", "cyclonedx-vex"]
    );
    assert!(
        seen["craReport"]
            .as_str()
            .unwrap()
            .ends_with("/cra-report.html")
    );
    // The model's lineage as the card states it (tests/fixtures/models/make.sh).
    assert_eq!(
        seen["lineage"]["nodes"],
        serde_json::json!([
            "pkg:generic/huggingface-datasets/stanfordnlp/imdb",
            "pkg:huggingface/aibomdb-test/bert-imdb",
            "pkg:huggingface/google-bert/bert-base-uncased"
        ]),
        "{seen}"
    );
    assert_eq!(
        seen["lineage"]["relations"],
        serde_json::json!(["finetune", "trained_on"]),
        "{seen}"
    );
    assert_eq!(
        seen["lineage"]["approval"],
        serde_json::json!(["unapproved"])
    );
    // The gate as the CLI judged it: verdict, each rule's outcome, and each
    // violation (the page links the packages on its path).
    let rules = gate["deployments"][0]["rules"].as_array().unwrap();
    let outcomes: Vec<_> = rules
        .iter()
        .map(|r| serde_json::json!([r["rule"], r["outcome"]]))
        .collect();
    assert_eq!(
        seen["lineage"]["gate"]["outcomes"],
        serde_json::json!(outcomes),
        "{seen}"
    );
    assert_eq!(
        seen["lineage"]["gate"]["verdict"],
        if gate["passed"] == true {
            "may ship"
        } else {
            "blocked"
        }
    );
    let violations: Vec<(String, String)> = rules
        .iter()
        .flat_map(|r| {
            r["violations"]
                .as_array()
                .unwrap()
                .iter()
                .take(50)
                .map(|v| {
                    (
                        r["rule"].as_str().unwrap().to_string(),
                        v["subject"].as_str().unwrap().to_string(),
                    )
                })
        })
        .collect();
    let shown: Vec<(String, String)> = seen["lineage"]["gate"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v[0].as_str().unwrap().to_string(),
                v[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        !violations.is_empty(),
        "the unsigned, unapproved model must fail `models`"
    );
    assert_eq!(shown, violations);
    // Releases newest first, drift against r2, r1 to roll back to.
    assert_eq!(
        seen["lineage"]["releases"],
        serde_json::json!([["r2", "bob@example.org"], ["r1", "alice@example.org"]]),
        "{seen}"
    );
    assert_eq!(seen["lineage"]["drift"], "drift");
    let differences = seen["lineage"]["differences"].as_array().unwrap();
    assert!(differences.contains(&serde_json::json!([
        "model-not-released",
        format!("sha256:{unknown_weights}")
    ])));
    assert!(
        differences.contains(&serde_json::json!([
            "artifact-not-observed",
            "pkg:huggingface/aibomdb-test/bert-imdb model.safetensors"
        ])),
        "{seen}"
    );
    assert_eq!(seen["lineage"]["rollback"], "r1");
    assert_eq!(seen["errors"], serde_json::json!([]), "page errors");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
}

/// GraphiQL at `/graphql` renders and runs a query with no route out: every
/// request not to loopback is aborted (tests/browser/graphiql.mjs), none may
/// be attempted, and the page reports no error (a CSP violation is one).
#[test]
fn graphiql_works_offline_from_the_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser`"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    let out = aibomdb(&db, &["ingest", root.join("examples").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = json(&aibomdb(&db, &["stats", "--format", "json"]));
    let server = Server::start(&db, &[]);
    let shots = root.join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("graphiql-offline.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new("node")
        .arg(root.join("tests/browser/graphiql.mjs"))
        .arg(server.url(""))
        .arg(&shot)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "graphiql.mjs failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["editor"], 1, "{seen}");
    assert_eq!(seen["offsite"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    let deployments = seen["result"]["data"]["deployments"].as_array().unwrap();
    assert!(!deployments.is_empty(), "{seen}");
    assert_eq!(
        Some(deployments.len() as u64),
        expected["deployments"].as_u64(),
        "{seen} vs {expected}"
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
}

/// The page updates without a reload (the `matchEvents` subscription): a
/// deployment's page is open when an advisory that affects it is loaded
/// through the API; the live list shows the new exposure and the page's
/// advisories table gains the match, in the same document.
#[test]
fn dashboard_shows_a_new_match_live_without_a_reload() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser`"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    // The image service pins Pillow 10.0.0 (uv-compiled); no advisory yet.
    let reqs = root.join("examples/image-service/requirements.txt");
    let out = aibomdb(
        &db,
        &[
            "ingest",
            "--deployment",
            "image-service",
            reqs.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = "write-token-0123456789";
    let server = Server::start(&db, &["--write-token", token]);
    let shots = root.join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("dashboard-live.png");
    // Left by an earlier run, it would pass the check below.
    let _ = std::fs::remove_file(&shot);
    let record = root.join("examples/advisories/PYSEC-2023-175.yaml");
    let out = Command::new("node")
        .arg(root.join("tests/browser/live.mjs"))
        .arg(server.url("/"))
        .arg("image-service")
        .arg(token)
        .arg(&record)
        .arg(&shot)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["loaded"]["data"]["loadAdvisories"]["added"], 1, "{v}");
    assert_eq!(v["before"], 0, "{v}");
    assert_eq!(v["notReloaded"], true, "{v}");
    // The overview kept its figures until asked, then counted the new pair.
    assert_eq!(v["overviewStale"], v["overviewBefore"], "{v}");
    assert_eq!(
        v["overviewAfter"].as_u64().unwrap(),
        v["overviewBefore"].as_u64().unwrap() + 1,
        "{v}"
    );
    assert_eq!(v["errors"], serde_json::json!([]), "{v}");
    let live = v["live"].as_array().unwrap();
    assert_eq!(live.len(), 1, "{v}");
    assert_eq!(live[0]["kind"], "opened");
    let text = live[0]["text"].as_str().unwrap();
    assert!(
        text.contains("image-service")
            && text.contains("PYSEC-2023-175")
            && text.contains("pillow@10.0.0"),
        "{text}"
    );
    assert_eq!(v["after"], serde_json::json!(["PYSEC-2023-175"]), "{v}");
    assert!(shot.is_file());
}

/// Trivy's SBOM of a container: dependency edges, and two packages in
/// range of an Alpine advisory.
const GRAPH_DEPLOYMENT: &str = "trivy-test-image";

/// Dashboard v2 (tests/browser/overview.mjs): each view shows what the CLI
/// answers for the same question, axe-core finds no serious or critical
/// violation on any of them, and a narrow window scrolls nothing sideways.
#[test]
fn dashboard_views_answer_as_the_cli_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("tests/browser/node_modules/axe-core").is_dir(),
        "axe-core is not installed: run `npm ci --prefix tests/browser`"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    common::estate::build(&db);
    let policy = root.join("examples/policy.toml");
    let out = aibomdb(&db, &["policy", "add", "release", policy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let o = json(&aibomdb(&db, &["overview", "--format", "json"]));
    let search = json(&aibomdb(
        &db,
        &["search", "transformers", "--format", "json"],
    ));
    // The CLI's answers are read first: the server holds the store open.
    let mut verdicts = std::collections::BTreeMap::new();
    for d in o["riskiest_deployments"].as_array().unwrap() {
        let name = d["deployment"].as_str().unwrap();
        let gate = aibomdb(
            &db,
            &[
                "gate",
                "--stored",
                "release",
                "--deployment",
                name,
                "--format",
                "json",
            ],
        );
        let passed = serde_json::from_slice::<serde_json::Value>(&gate.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", common::stderr(&gate)))["passed"]
            == true;
        verdicts.insert(
            name.to_string(),
            if passed { "may ship" } else { "blocked" },
        );
    }
    let rows_of_graph_deployment = json(&aibomdb(
        &db,
        &[
            "match",
            "--deployment",
            GRAPH_DEPLOYMENT,
            "--format",
            "json",
        ],
    ));
    let base_model = "pkg:huggingface/google-bert/bert-base-uncased";
    let lineage = json(&aibomdb(
        &db,
        &[
            "query",
            "lineage",
            base_model,
            "--direction",
            "down",
            "--format",
            "json",
        ],
    ));
    let running = json(&aibomdb(
        &db,
        &["query", "running", base_model, "--format", "json"],
    ));
    let hits = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:pypi/transformers",
            "--format",
            "json",
        ],
    ));
    let stats = json(&aibomdb(&db, &["stats", "--format", "json"]));
    let timeline = json(&aibomdb(&db, &["timeline", "--format", "json"]));
    let exposed_now = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resolved_at"].is_null())
        .count();

    let server = Server::start(&db, &[]);
    let shots = root.join("target/browser/v2");
    // Screenshots of an earlier run would pass the checks below.
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(root.join("tests/browser/overview.mjs"))
        .arg(server.url("/"))
        .arg(&shots)
        .arg("transformers")
        .arg(base_model)
        .arg(GRAPH_DEPLOYMENT)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "overview.mjs failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!(
        "overview on screen {:.1} ms after navigation",
        seen["renderedMs"].as_f64().unwrap()
    );
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["violations"], serde_json::json!([]), "{seen}");

    // Overview: the counts, the severity split, the ranked lists.
    let c = &seen["counts"];
    for (card, value) in [
        ("deployments", &o["counts"]["deployments"]),
        ("documents", &o["counts"]["documents"]),
        ("packages", &o["counts"]["packages"]),
        ("models", &o["counts"]["models"]),
        ("datasets", &o["counts"]["datasets"]),
        ("matched", &o["matched_advisories"]),
        ("kev", &o["kev_advisories"]),
        ("open", &o["open_pairs"]),
        ("suppressed", &o["suppressed_pairs"]),
    ] {
        assert_eq!(&c[card], value, "{card}: {seen}");
    }
    assert_eq!(seen["severity"], o["advisories_by_severity"]);
    let ids = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x[key].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        seen["exposures"],
        serde_json::json!(ids(&o["top_exposures"], "advisory"))
    );
    assert_eq!(
        seen["riskiest"],
        serde_json::json!(ids(&o["riskiest_deployments"], "deployment"))
    );
    assert_eq!(
        seen["findings"],
        serde_json::json!(ids(&o["models_with_findings"], "purl"))
    );
    // Each riskiest deployment's gate verdict, as `aibomdb gate` gave it.
    let verdicts: Vec<serde_json::Value> = o["riskiest_deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let name = d["deployment"].as_str().unwrap();
            serde_json::json!([name, verdicts[name]])
        })
        .collect();
    assert_eq!(seen["verdicts"], serde_json::json!(verdicts));
    // The chart's "now": the exposures `aibomdb timeline` says are open.
    assert_eq!(seen["exposedNow"], exposed_now, "{seen}");
    assert!(exposed_now > 0);
    // The chart counts known-affected pairs VEX has not resolved: never more
    // than the open pairs on the card, which also hold the undecided ones.
    assert!(
        exposed_now as u64 <= seen["counts"]["open"].as_u64().unwrap(),
        "{seen}"
    );
    assert_eq!(seen["firstFocus"]["text"], "Skip to content");
    assert_eq!(seen["firstFocus"]["visible"], true);

    // Search: ranked as the CLI ranks, the PyPI package first, nothing opened.
    let ranking: Vec<serde_json::Value> = search["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| serde_json::json!({"purl": p["purl"], "exact": p["exact"], "deployments": p["deployments"]}))
        .collect();
    assert_eq!(seen["ranking"], serde_json::json!(ranking));
    assert_eq!(seen["ranking"][0]["purl"], "pkg:pypi/transformers");
    assert_eq!(seen["stayed"], "#/search/transformers");
    let mut holders: Vec<&str> = hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["deployment"].as_str().unwrap())
        .collect();
    holders.sort();
    holders.dedup();
    assert_eq!(seen["radiusDeployments"], serde_json::json!(holders));

    // A deployment's advisories: the CLI's rows, most severe first, each
    // unknown one with its reason.
    let rows = rows_of_graph_deployment;
    let rank = |s: &str| {
        ["unknown", "none", "low", "medium", "high", "critical"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    let shown = seen["advisories"].as_array().unwrap();
    assert_eq!(shown.len(), rows.as_array().unwrap().len());
    let mut cli: Vec<String> = ids(&rows, "advisory");
    let mut page: Vec<String> = ids(&seen["advisories"], "advisory");
    cli.sort();
    page.sort();
    assert_eq!(page, cli);
    for pair in shown.windows(2) {
        assert!(
            rank(pair[0]["severity"].as_str().unwrap())
                >= rank(pair[1]["severity"].as_str().unwrap()),
            "{seen}"
        );
    }
    for a in shown {
        assert_eq!(
            a["severity"] == "unknown",
            a["whyUnknown"].is_string(),
            "{a}"
        );
    }

    // Its dependency graph: the vulnerable packages are the CLI's open
    // matches, the paths to them are drawn hot, and collapsing the root by
    // keyboard hides what it brings in until it is expanded again.
    let mut open: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        // Open: no VEX statement, or one that does not take it out.
        .filter(|r| {
            !r["vex"]
                .as_object()
                .is_some_and(|v| matches!(v["status"].as_str(), Some("NotAffected" | "Fixed")))
        })
        .map(|r| r["package"].as_str().unwrap())
        .collect();
    open.sort();
    open.dedup();
    let graph = &seen["graph"];
    assert_eq!(
        graph["vulnerablePackages"],
        serde_json::json!(open),
        "{seen}"
    );
    assert!(!open.is_empty());
    assert!(graph["hotEdges"].as_u64().unwrap() >= 2, "{graph}");
    let before = graph["nodesBefore"].as_u64().unwrap();
    assert!(graph["nodesAfter"].as_u64().unwrap() < before, "{graph}");
    assert_eq!(graph["nodesExpanded"].as_u64().unwrap(), before, "{graph}");

    // Lineage explorer: what the CLI's downward walk and `query running` give.
    let roots: Vec<&str> = lineage["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let mut derived: Vec<&str> = lineage["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["purl"].as_str().unwrap())
        .filter(|p| !roots.contains(p))
        .collect();
    derived.sort();
    assert_eq!(derived.len(), 2, "{lineage}");
    assert_eq!(seen["derived"], serde_json::json!(derived));
    let mut expected: Vec<(String, String)> = running
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["hit"]["deployment"].as_str().unwrap().to_string(),
                r["model"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    expected.sort();
    let mut shown: Vec<(String, String)> = seen["running"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    shown.sort();
    assert_eq!(shown, expected);

    // Deployments list: every deployment; a narrow window fits.
    assert_eq!(
        seen["deployments"].as_array().unwrap().len() as u64,
        stats["deployments"].as_u64().unwrap()
    );
    assert_eq!(seen["overflow"], 0, "{seen}");
    for view in [
        "overview",
        "search",
        "radius",
        "deployment",
        "lineage",
        "deployments",
        "overview-narrow",
    ] {
        assert!(shots.join(format!("{view}.png")).is_file(), "{view}");
    }
}
