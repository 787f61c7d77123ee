//! `aibomdb overview` and `aibomdb search`, and the GraphQL fields the web
//! page reads them through, on the real inputs of `common::estate`.
//!
//! The overview's figures are checked against an independent fold of
//! `aibomdb match --format json` (every match row of the estate): the
//! overview reads the indexes and never builds those rows.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Server, aibomdb, graphql, json};
use serde_json::{Value, json};

fn weight(severity: &str) -> u64 {
    match severity {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        _ => 1,
    }
}

/// What the overview must say, folded from the match rows: per (deployment,
/// advisory), open when any row is open.
struct Folded {
    pairs: BTreeMap<(String, String), bool>,
    severity: BTreeMap<String, String>,
    kev: BTreeSet<String>,
}

fn fold(rows: &Value) -> Folded {
    let mut f = Folded {
        pairs: BTreeMap::new(),
        severity: BTreeMap::new(),
        kev: BTreeSet::new(),
    };
    for r in rows.as_array().unwrap() {
        let advisory = r["advisory"].as_str().unwrap().to_string();
        let open = !r["vex"]
            .as_object()
            .is_some_and(|v| matches!(v["status"].as_str(), Some("NotAffected" | "Fixed")));
        let slot = f
            .pairs
            .entry((
                r["deployment"].as_str().unwrap().to_string(),
                advisory.clone(),
            ))
            .or_insert(false);
        *slot |= open;
        f.severity.insert(
            advisory.clone(),
            r["severity"].as_str().unwrap().to_string(),
        );
        if !r["kev"].is_null() {
            f.kev.insert(advisory);
        }
        // Every unknown severity says why; no other does.
        assert_eq!(
            r["severity"] == "unknown",
            r["unknown_reason"].is_string(),
            "{r}"
        );
    }
    f
}

#[test]
fn overview_equals_the_estates_match_rows_folded() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    common::estate::build(&db);
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    let f = fold(&rows);
    let o = json(&aibomdb(
        &db,
        &["overview", "--top", "100", "--format", "json"],
    ));

    let open: Vec<_> = f
        .pairs
        .iter()
        .filter(|&(_, &open)| open)
        .map(|(k, _)| k)
        .collect();
    let suppressed = f.pairs.values().filter(|&&open| !open).count();
    assert_eq!(o["open_pairs"], open.len());
    assert_eq!(o["suppressed_pairs"], suppressed);
    // The VEX took something out, so the two counts are really apart.
    assert!(suppressed >= 2, "{suppressed}");
    let matched: BTreeSet<&String> = f.pairs.keys().map(|(_, a)| a).collect();
    assert_eq!(o["matched_advisories"], matched.len());

    // Advisories: deployments open, ranked by deployments × weight.
    let mut per_advisory: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, a) in &open {
        *per_advisory.entry(a.as_str()).or_default() += 1;
    }
    let mut expected: Vec<(u64, bool, &str)> = per_advisory
        .iter()
        .map(|(a, n)| (n * weight(&f.severity[*a]), f.kev.contains(*a), *a))
        .collect();
    expected.sort_by(|x, y| y.0.cmp(&x.0).then(y.1.cmp(&x.1)).then(x.2.cmp(y.2)));
    let got: Vec<(u64, bool, &str)> = o["top_exposures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rank"].as_u64().unwrap(),
                e["kev"].as_bool().unwrap(),
                e["advisory"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    let mut by_severity: BTreeMap<String, u64> = BTreeMap::new();
    for a in per_advisory.keys() {
        let s = match f.severity[*a].as_str() {
            "none" => "unknown",
            s => s,
        };
        *by_severity.entry(s.to_string()).or_default() += 1;
    }
    for s in ["critical", "high", "medium", "low", "unknown"] {
        assert_eq!(
            o["advisories_by_severity"][s],
            by_severity.get(s).copied().unwrap_or(0),
            "{s}"
        );
    }
    assert!(by_severity.len() >= 2, "{by_severity:?}");

    // Deployments: the sum of their open advisories' weights.
    let mut risk: BTreeMap<&str, u64> = BTreeMap::new();
    for (d, a) in &open {
        *risk.entry(d.as_str()).or_default() += weight(&f.severity[a]);
    }
    let mut expected: Vec<(u64, &str)> = risk.iter().map(|(d, r)| (*r, *d)).collect();
    expected.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(y.1)));
    let got: Vec<(u64, &str)> = o["riskiest_deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["risk"].as_u64().unwrap(),
                d["deployment"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(o["exposed_deployments"], risk.len());

    // Counts against `stats`; the examples' model and its finding.
    let stats = json(&aibomdb(&db, &["stats", "--format", "json"]));
    assert_eq!(o["counts"]["deployments"], stats["deployments"]);
    assert_eq!(o["counts"]["documents"], stats["current_documents"]);
    assert_eq!(o["counts"]["packages"], stats["packages"]);
    let newest = &o["recent_documents"][0];
    assert_eq!(newest["deployment"], "docs-model", "{newest}");
    let models: Vec<&str> = o["models_with_findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["purl"].as_str().unwrap())
        .collect();
    assert_eq!(
        models,
        [
            "pkg:huggingface/aibomdb-test/bert-imdb",
            "pkg:huggingface/docs/transformers"
        ]
    );

    // `--top` cuts the lists, not the counts.
    let small = json(&aibomdb(
        &db,
        &["overview", "--top", "1", "--format", "json"],
    ));
    assert_eq!(small["top_exposures"].as_array().unwrap().len(), 1);
    assert_eq!(small["top_exposures"][0], o["top_exposures"][0]);
    assert_eq!(small["open_pairs"], o["open_pairs"]);
    assert_eq!(
        aibomdb(&db, &["overview", "--top", "0"]).status.code(),
        Some(2)
    );

    // GraphQL gives the same answer.
    let server = Server::start(&db, &[]);
    let (status, v) = graphql(
        &server.addr,
        None,
        "{overview(top:100){openPairs suppressedPairs matchedAdvisories
          topExposures{rank advisory openDeployments severity unknownReason}
          riskiestDeployments{risk deployment}
          counts{deployments documents packages}}}",
        json!({}),
    );
    assert_eq!(status, 200, "{v}");
    let g = &v["data"]["overview"];
    assert_eq!(g["openPairs"], o["open_pairs"]);
    assert_eq!(g["suppressedPairs"], o["suppressed_pairs"]);
    assert_eq!(g["matchedAdvisories"], o["matched_advisories"]);
    let names = |v: &Value, key: &str| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x[key].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&g["topExposures"], "advisory"),
        names(&o["top_exposures"], "advisory")
    );
    assert_eq!(
        names(&g["riskiestDeployments"], "deployment"),
        names(&o["riskiest_deployments"], "deployment")
    );
    for e in g["topExposures"].as_array().unwrap() {
        assert_eq!(e["severity"] == "unknown", e["unknownReason"].is_string());
    }
}

/// The server keeps the overview computed (it takes about a second at
/// 10,000 deployments), but never answers from before a write: a document
/// ingested over the API shows in the very next answer, and the last answer
/// is the CLI's once the server has stopped.
#[test]
fn the_servers_overview_follows_every_write() {
    const TOKEN: &str = "overview-write-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    common::estate::build(&db);
    let python = common::corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    let query = "{overview(top:100){openPairs exposedDeployments
        counts{deployments documents}
        topExposures{advisory openDeployments}
        riskiestDeployments{deployment risk}
        recentDocuments{deployment}}}";
    let server = Server::start(&db, &["--write-token", TOKEN]);
    let ask = || {
        let (status, v) = graphql(&server.addr, None, query, json!({}));
        assert_eq!(status, 200, "{v}");
        assert!(v.get("errors").is_none(), "{v}");
        v["data"]["overview"].clone()
    };
    let before = ask();
    let mut last = before.clone();
    for deployment in ["python-3", "python-4"] {
        let (status, v) = graphql(
            &server.addr,
            Some(TOKEN),
            "mutation($d:String!,$c:String!){ingestDocument(deployment:$d,fileName:\"python.cdx.json\",content:$c){status}}",
            json!({"d": deployment, "c": std::fs::read_to_string(&python).unwrap()}),
        );
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["data"]["ingestDocument"]["status"], "ingested", "{v}");
        let now = ask();
        assert_eq!(
            now["counts"]["deployments"].as_u64().unwrap(),
            last["counts"]["deployments"].as_u64().unwrap() + 1,
            "{now}"
        );
        assert_eq!(now["recentDocuments"][0]["deployment"], deployment);
        // The python image has open advisories: one more exposed deployment.
        assert_eq!(
            now["exposedDeployments"].as_u64().unwrap(),
            last["exposedDeployments"].as_u64().unwrap() + 1
        );
        assert!(now["openPairs"].as_u64() > last["openPairs"].as_u64());
        last = now;
    }
    drop(server);

    let cli = json(&aibomdb(
        &db,
        &["overview", "--top", "100", "--format", "json"],
    ));
    assert_eq!(last["openPairs"], cli["open_pairs"]);
    assert_eq!(last["exposedDeployments"], cli["exposed_deployments"]);
    assert_eq!(last["counts"]["documents"], cli["counts"]["documents"]);
    let pairs = |v: &Value, name: &str, value: &str| -> Vec<(String, u64)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x[name].as_str().unwrap().to_string(),
                    x[value].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        pairs(&last["topExposures"], "advisory", "openDeployments"),
        pairs(&cli["top_exposures"], "advisory", "open_deployments")
    );
    assert_eq!(
        pairs(&last["riskiestDeployments"], "deployment", "risk"),
        pairs(&cli["riskiest_deployments"], "deployment", "risk")
    );
    assert_ne!(before, last);
}

#[test]
fn search_ranks_exact_names_first_then_by_deployments_holding_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    common::estate::build(&db);
    let search = |text: &str| json(&aibomdb(&db, &["search", text, "--format", "json"]));

    // `zlib`: Alpine's zlib is the name asked for (3 deployments); Debian's
    // zlib1g is held by more deployments (4) but only starts with it.
    let r = search("zlib");
    let packages: Vec<(&str, bool, u64)> = r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["purl"].as_str().unwrap(),
                p["exact"].as_bool().unwrap(),
                p["deployments"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        packages[0],
        ("pkg:apk/alpine/zlib", true, 3),
        "{packages:?}"
    );
    assert_eq!(
        packages[1],
        ("pkg:deb/debian/zlib1g", false, 4),
        "{packages:?}"
    );
    for pair in packages[1..].windows(2) {
        assert!(!pair[1].1, "{packages:?}");
        assert!(pair[0].2 >= pair[1].2, "{packages:?}");
    }

    // Each deployment count is the blast radius's own.
    for (purl, _, n) in &packages {
        let hits = json(&aibomdb(
            &db,
            &["query", "deployments", "--purl", purl, "--format", "json"],
        ));
        let deployments: BTreeSet<&str> = hits["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["deployment"].as_str().unwrap())
            .collect();
        assert_eq!(deployments.len() as u64, *n, "{purl}");
    }

    // `transformers`: the PyPI package two deployments hold before the
    // one-off Hub model of that name.
    let r = search("transformers");
    assert_eq!(
        r["packages"],
        json!([
            {"purl": "pkg:pypi/transformers", "versions": 1, "deployments": 2, "exact": true},
            {"purl": "pkg:huggingface/docs/transformers", "versions": 1, "deployments": 1, "exact": true}
        ])
    );

    // PEP 503: `Python_Dateutil` is the name `python-dateutil`.
    let r = search("Python_Dateutil");
    assert_eq!(r["packages"][0]["purl"], "pkg:pypi/python-dateutil");
    assert_eq!(r["packages"][0]["exact"], true);

    // Deployments: the exact name before those that only contain it.
    let r = search("python");
    assert_eq!(
        r["deployments"],
        json!(["python", "python-2", "python-image"])
    );
    // Advisories by an alias.
    let r = search("CVE-2023-5752");
    assert_eq!(r["advisories"], json!(["PYSEC-2023-228"]));
}

/// A dependency graph cut to fewer nodes than the deployment holds keeps
/// every vulnerable package first, then the paths to them, and says it cut.
/// Trivy's SBOM of its test image states edges: the vulnerable packages lie
/// two hops below the roots of the paths to them.
#[test]
fn a_cut_dependency_graph_keeps_the_vulnerable_packages_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    common::estate::build(&db);
    let server = Server::start(&db, &[]);
    let graph = |max: usize| {
        let (status, v) = graphql(
            &server.addr,
            None,
            "query($m:Int!){dependencyGraph(deployment:\"trivy-test-image\", maxNodes:$m){
               nodes{purl vulnerable onVulnerablePath} totalNodes truncated}}",
            json!({"m": max}),
        );
        assert_eq!(status, 200, "{v}");
        assert!(v.get("errors").is_none(), "{v}");
        v["data"]["dependencyGraph"].clone()
    };
    let whole = graph(5_000);
    assert_eq!(whole["truncated"], false);
    let total = whole["totalNodes"].as_u64().unwrap() as usize;
    assert_eq!(whole["nodes"].as_array().unwrap().len(), total);
    let vulnerable: BTreeSet<String> = whole["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["vulnerable"] == true)
        .map(|n| n["purl"].as_str().unwrap().to_string())
        .collect();
    assert!(!vulnerable.is_empty() && vulnerable.len() + 3 < total);

    for extra in [0, 3] {
        let cut = graph(vulnerable.len() + extra);
        assert_eq!(cut["truncated"], true);
        let nodes = cut["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), vulnerable.len() + extra);
        let kept: BTreeSet<String> = nodes
            .iter()
            .filter(|n| n["vulnerable"] == true)
            .map(|n| n["purl"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kept, vulnerable, "maxNodes {}", vulnerable.len() + extra);
        assert!(nodes.iter().all(|n| n["onVulnerablePath"] == true), "{cut}");
    }
}

/// The overview's chart counts exposures at moments as `aibomdb timeline`
/// reads history, from the indexes rather than every document: checked at
/// every boundary of the timeline's periods (and a second either side) on
/// an estate built over several seconds: documents before and after the
/// advisories arrived, one superseded by its fix, and a VEX statement that
/// takes pip out.
#[test]
fn exposure_at_moments_is_the_timeline_folded() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let c = common::corpus();
    let root = common::estate::root();
    let fixtures = root.join("tests/fixtures/lockfiles/d-image-service");
    let python = c.join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    let service = dir.path().join("svc");
    std::fs::create_dir_all(&service).unwrap();
    let reqs = service.join("requirements.txt");
    let run = |args: &[&str]| {
        let out = aibomdb(&db, args);
        assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
    };
    // Seconds are the store's resolution: one between each step.
    let step = || std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::copy(fixtures.join("requirements.txt"), &reqs).unwrap();
    run(&["ingest", "--deployment", "svc", reqs.to_str().unwrap()]);
    run(&["ingest", "--deployment", "py", python.to_str().unwrap()]);
    step();
    run(&[
        "advisories",
        "load",
        c.join("osv/pypa-advisory-database").to_str().unwrap(),
    ]);
    step();
    run(&["ingest", "--deployment", "py-2", python.to_str().unwrap()]);
    step();
    std::fs::copy(fixtures.join("upgraded/requirements.txt"), &reqs).unwrap();
    run(&["ingest", "--deployment", "svc", reqs.to_str().unwrap()]);
    step();
    let vex = root.join("tests/fixtures/vex/python-image.cdx-vex.json");
    run(&["ingest", vex.to_str().unwrap()]);
    step();

    let timeline = json(&aibomdb(&db, &["timeline", "--format", "json"]));
    let exposures = timeline.as_array().unwrap();
    assert!(exposures.iter().any(|e| {
        e["resolved_by"]
            .as_str()
            .is_some_and(|r| r.starts_with("VEX"))
    }));
    assert!(exposures.iter().any(|e| {
        e["resolved_by"]
            .as_str()
            .is_some_and(|r| r.contains("newer document"))
    }));
    let mut moments: BTreeSet<u64> = BTreeSet::new();
    for e in exposures {
        let mut add = |v: &Value| {
            if let Some(t) = v.as_u64() {
                moments.extend([t - 1, t, t + 1]);
            }
        };
        add(&e["exposed_from"]);
        add(&e["resolved_at"]);
        for p in e["periods"].as_array().unwrap() {
            add(&p["from"]);
            add(&p["until"]);
        }
    }
    let expected = |t: u64| -> u64 {
        exposures
            .iter()
            .filter(|e| {
                e["periods"].as_array().unwrap().iter().any(|p| {
                    p["from"].as_u64().unwrap() <= t && p["until"].as_u64().is_none_or(|u| t < u)
                }) && e["resolved_at"].as_u64().is_none_or(|r| t < r)
            })
            .count() as u64
    };
    let moments: Vec<u64> = moments.into_iter().collect();
    let times: Vec<String> = moments
        .iter()
        .map(|&t| aibomdb_export::time::rfc3339(t))
        .collect();

    let server = Server::start(&db, &[]);
    let (status, v) = graphql(
        &server.addr,
        None,
        "query($t:[String!]!){exposureAt(times:$t){at open} exposureHistory(days:2){at open}}",
        json!({ "t": times }),
    );
    assert_eq!(status, 200, "{v}");
    assert!(v.get("errors").is_none(), "{v}");
    let got: Vec<u64> = v["data"]["exposureAt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["open"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = moments.iter().map(|&t| expected(t)).collect();
    assert_eq!(got, want, "at {moments:?}");
    // The history moved: before the advisories nothing, then up and down.
    let distinct: BTreeSet<u64> = want.iter().copied().collect();
    assert!(distinct.len() >= 4, "{want:?}");
    assert_eq!(want[0], 0);
    // The chart's now is the timeline's open exposures.
    let history = v["data"]["exposureHistory"].as_array().unwrap();
    let now = history.last().unwrap()["open"].as_u64().unwrap();
    let open_now = exposures
        .iter()
        .filter(|e| e["resolved_at"].is_null())
        .count() as u64;
    assert_eq!(now, open_now);

    // Bad moments are bad input.
    let (_, v) = graphql(
        &server.addr,
        None,
        "{exposureAt(times:[\"yesterday\"]){open}}",
        json!({}),
    );
    assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_INPUT", "{v}");
}

/// "Who is affected by X" without its match rows (`affected{deployments}`
/// alone reads the listing and builds no row) names the deployments the
/// rows name: those of `aibomdb match --format json`, and those of the same
/// field asked beside `matches`, for every advisory any row names.
#[test]
fn affected_deployments_alone_are_those_of_its_match_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    common::estate::build(&db);
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    let mut by_advisory: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows.as_array().unwrap() {
        by_advisory
            .entry(r["advisory"].as_str().unwrap().to_string())
            .or_default()
            .insert(r["deployment"].as_str().unwrap().to_string());
    }
    assert!(by_advisory.len() >= 5, "{}", by_advisory.len());
    assert!(by_advisory.values().any(|d| d.len() > 1));
    let server = Server::start(&db, &[]);
    let ask = |query: &str, advisory: &str| -> Value {
        let (status, v) = graphql(&server.addr, None, query, json!({"a": advisory}));
        assert_eq!(status, 200, "{v}");
        assert!(v.get("errors").is_none(), "{v}");
        v["data"]["affected"].clone()
    };
    let names = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    };
    for advisory in by_advisory.keys() {
        let alone = ask(
            "query($a:String!){affected(advisory:$a){deployments advisories}}",
            advisory,
        );
        let with_rows = ask(
            "query($a:String!){affected(advisory:$a){deployments matches{deployment}}}",
            advisory,
        );
        // The name may answer for other records too (an alias they share).
        let deployments: BTreeSet<String> = alone["advisories"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|id| by_advisory.get(id.as_str().unwrap()).into_iter().flatten())
            .cloned()
            .collect();
        assert_eq!(names(&alone["deployments"]), deployments, "{advisory}");
        assert_eq!(alone["deployments"], with_rows["deployments"], "{advisory}");
        let from_rows: BTreeSet<String> = with_rows["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["deployment"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(from_rows, deployments, "{advisory}");
    }
    // `matches` asked through a fragment under an alias still gets its rows.
    let (advisory, deployments) = by_advisory.iter().next().unwrap();
    let (status, v) = graphql(
        &server.addr,
        None,
        "query($a:String!){affected(advisory:$a){deployments ...rows}} fragment rows on Affected{found: matches{deployment}}",
        json!({"a": advisory}),
    );
    assert_eq!(status, 200, "{v}");
    let found: BTreeSet<String> = v["data"]["affected"]["found"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|m| m["deployment"].as_str().unwrap().to_string())
        .collect();
    assert!(!found.is_empty() && found.is_subset(deployments), "{v}");
}
