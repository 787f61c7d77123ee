//! `aibomdb copy` (issue #20): a store copied redb → PostgreSQL → redb
//! answers every query shape exactly as the store it came from, down to
//! document ids, ingest times and paths, on the corpus with the whole
//! control half and on a 1,000-deployment estate; a copy into a store that
//! holds something is refused and writes nothing. Runs on the PostgreSQL
//! cluster `scripts/with-postgres.sh` starts.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::pg::Database;
use common::{aibomdb, corpus, fingerprint, stderr, stdout};
use serde_json::Value;

/// `aibomdb --db FROM copy --to TO --verify`, which must succeed: what it
/// reports.
fn copy(from: &Path, to: &Path) -> Value {
    let out = aibomdb(
        from,
        &[
            "copy",
            "--to",
            to.to_str().unwrap(),
            "--verify",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The answer to `args` as JSON, without the store's size (the one thing
/// a copy does not keep) and, for exports, the time and serial number they
/// were made with (two exports a second apart differ only there).
fn answer(db: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = args.to_vec();
    // An export names its own format (JSON all).
    if !all.contains(&"--format") {
        all.extend_from_slice(&["--format", "json"]);
    }
    let out = aibomdb(db, &all);
    let mut value: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}{}", stdout(&out), stderr(&out)));
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                // `seconds_exposed` runs to the moment the command runs.
                for key in [
                    "file_bytes",
                    "serialNumber",
                    "timestamp",
                    "generated_at",
                    "seconds_exposed",
                ] {
                    map.remove(key);
                }
                // An SPDX export's own creation time (a document's stated
                // `created` elsewhere is kept and compared).
                if let Some(Value::Object(info)) = map.get_mut("creationInfo") {
                    info.remove("created");
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    (out.status.code(), value)
}

/// The same answer (and exit code) from every store.
fn alike(stores: &[&Path], args: &[&str]) -> Value {
    let first = answer(stores[0], args);
    for other in &stores[1..] {
        let next = answer(other, args);
        if first != next {
            // Where they part, not two whole answers.
            let (a, b) = (format!("{first:?}"), format!("{next:?}"));
            let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            let around = |s: &str| {
                s.chars()
                    .skip(at.saturating_sub(200))
                    .take(400)
                    .collect::<String>()
            };
            panic!(
                "{args:?}: {} and {} answer differently:\n{}\n---\n{}",
                stores[0].display(),
                other.display(),
                around(&a),
                around(&b)
            );
        }
    }
    first.1
}

/// Every table of the round trip's file, indexes included, holds what the
/// original's does, but the counters and what is stamped with them: a
/// store that never handed out an event id has no such counter, its copy
/// has one at the same value (1); the heads' change counter starts afresh,
/// and the heads snapshot (a cache) carries it.
fn same_tables(original: &Path, returned: &Path) {
    let tables = |db: &Path| {
        let mut t = aibomdb_store::RedbStore::open(db)
            .unwrap()
            .table_fingerprints()
            .unwrap();
        assert!(t.remove("META").is_some());
        t.remove("HEADS_SNAPSHOT");
        t
    };
    let (a, b) = (tables(original), tables(returned));
    assert!(a.len() > 30, "{a:?}");
    for (table, print) in &a {
        assert_eq!(
            Some(print),
            b.get(table),
            "{table} differs after the round trip"
        );
    }
}

/// What a store holds, record by record, as the copy reads it.
fn records(db: &Path) -> Vec<String> {
    let mut out = Vec::new();
    common::open(db)
        .dump(&mut |r| {
            out.push(format!("{r:?}"));
            Ok(())
        })
        .unwrap();
    out
}

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Deployments' reports, paths to their packages, names, ranges, models,
/// matches, exposure and the gate: alike. Every `every`th deployment,
/// package and advisory is asked about.
fn every_shape_alike(stores: &[&Path], every: usize) {
    let stats = alike(stores, &["stats"]);
    assert!(stats["documents"].as_u64().unwrap() > 5, "{stats}");
    let documents = alike(stores, &["documents"]);
    let deployments: BTreeSet<String> = documents
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["deployment"].as_str().unwrap().to_string())
        .collect();
    let mut purls = BTreeSet::new();
    let mut names = BTreeSet::new();
    for d in deployments.iter().step_by(every) {
        let report = alike(stores, &["query", "deployment", d]);
        for p in report["packages"].as_array().unwrap() {
            let purl = p["purl"].as_str().unwrap().to_string();
            if let Ok(parsed) = aibomdb_graph::Purl::parse(&purl) {
                names.insert(parsed.name.clone());
            }
            purls.insert(purl);
        }
    }
    let mut steps = 0;
    for purl in purls.iter().step_by(every) {
        let hits = alike(
            stores,
            &["query", "deployments", "--purl", purl, "--history"],
        );
        for hit in hits["hits"].as_array().unwrap() {
            steps += hit["path"].as_array().unwrap().len();
        }
    }
    assert!(steps > 100, "{steps} path steps compared");
    for name in names.iter().step_by(every) {
        alike(stores, &["query", "packages", "--name", name]);
    }
    alike(
        stores,
        &[
            "query",
            "deployments",
            "--name",
            "transformers",
            "--version-range",
            ">=4,<6",
        ],
    );
    let models = alike(stores, &["query", "models"]);
    for m in models.as_array().unwrap() {
        let purl = m["purl"].as_str().unwrap();
        alike(stores, &["query", "lineage", purl]);
        alike(stores, &["query", "running", purl]);
    }
    let matches = alike(stores, &["match"]);
    let advisories: BTreeSet<&str> = matches
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["advisory"].as_str().unwrap())
        .collect();
    assert!(!advisories.is_empty(), "{matches}");
    for advisory in advisories.iter().step_by(every) {
        alike(stores, &["query", "affected", "--advisory", advisory]);
    }
    // Kept times: when each deployment became exposed, to the second.
    alike(stores, &["timeline"]);
    let policy = path(&root().join("examples/policy.toml"));
    alike(
        stores,
        &[
            "gate",
            "--policy",
            &policy,
            "--all",
            "--at",
            "2026-12-01T00:00:00Z",
        ],
    );
}

/// The corpus with everything the control half records: advisories and
/// their matches, VEX, KEV and EPSS, a stored policy, a release with its
/// evidence, an observation, a model with an approval, a webhook target and
/// the events it is owed. Copied to PostgreSQL and back, each copy reads
/// back record for record (`--verify`), the round trip's file holds the
/// very content of the original, and all three answer alike.
#[test]
fn the_corpus_and_its_control_half_copy_to_postgresql_and_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.redb");
    let returned = dir.path().join("returned.redb");
    let pg = Database::new();
    let postgres = Path::new(&pg.url);
    let corpus = corpus();
    let examples = root().join("examples");
    let fixtures = root().join("tests/fixtures");
    let run = |args: &[&str]| {
        let out = aibomdb(&original, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    };
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, "a-shared-secret-of-some-length\n").unwrap();
    run(&[
        "notify",
        "add",
        "hook",
        "--url",
        "http://127.0.0.1:9/hook",
        "--secret-file",
        &path(&secret),
    ]);
    // The target first: the examples' own advisories then record events.
    run(&["ingest", &path(&examples)]);
    run(&[
        "ingest",
        &path(&corpus.join("dev")),
        &path(&corpus.join("formats/cyclonedx/bom-examples")),
        &path(&fixtures.join("vex")),
    ]);
    run(&[
        "advisories",
        "load",
        &path(&corpus.join("osv/pypa-advisory-database")),
    ]);
    run(&[
        "advisories",
        "kev",
        &path(&fixtures.join("kev/known_exploited_vulnerabilities.trimmed.json")),
    ]);
    run(&[
        "advisories",
        "epss",
        &path(&fixtures.join("epss/epss_scores.trimmed.csv")),
    ]);
    let policy = path(&examples.join("policy.toml"));
    run(&["policy", "add", "release", &policy]);
    let at = "2026-12-01T00:00:00Z";
    run(&[
        "release",
        "create",
        "--deployment",
        "a-finetune",
        "--name",
        "r1",
        "--at",
        at,
    ]);
    let digest = format!("sha256:{}", "0".repeat(64));
    run(&[
        "observe",
        "--deployment",
        "a-finetune",
        "--image-digest",
        &digest,
        "--at",
        at,
    ]);
    let model = corpus.join("formats/huggingface/cognix-openmodel");
    run(&[
        "ingest-model",
        &path(&model),
        "--deployment",
        "chat",
        "--id",
        "cognix/openmodel",
    ]);
    let (_, models) = answer(&original, &["query", "models"]);
    let artifact = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["purl"] == "pkg:huggingface/cognix/openmodel")
        .and_then(|m| m["info"]["artifacts"].as_array())
        .and_then(|a| a.iter().find_map(|a| a["sha256"].as_str()))
        .unwrap_or_else(|| panic!("{models}"))
        .to_string();
    run(&[
        "approve",
        "--model",
        "cognix/openmodel",
        "--artifact-sha256",
        &artifact,
        "--by",
        "lead",
    ]);

    let there = copy(&original, postgres);
    let records = &there["records"];
    for kind in [
        "documents",
        "packages",
        "facts",
        "advisories",
        "matches",
        "vex_statements",
        "kev",
        "epss",
        "enrichment_sources",
        "policies",
        "releases",
        "observations",
        "approvals",
        "model_nodes",
        "digests",
        "notify_targets",
        "outbox",
    ] {
        assert!(
            records[kind].as_u64().unwrap_or(0) > 0,
            "no {kind} copied: {there}"
        );
    }
    assert_eq!(there["verified_records"], {
        let n: u64 = records
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        // The counters are a record too.
        Value::from(n + 1)
    });
    let back = copy(postgres, &returned);
    assert_eq!(back["records"], there["records"]);
    same_tables(&original, &returned);

    every_shape_alike(&[&original, postgres, &returned], 3);
    let stores = [&*original, postgres, &*returned];
    for format in ["cyclonedx-1.6", "spdx-2.3", "openvex", "cyclonedx-vex"] {
        alike(
            &stores,
            &["export", "--deployment", "a-finetune", "--format", format],
        );
    }
    alike(&stores, &["cra-report", "--deployment", "a-finetune"]);
    alike(&stores, &["policy", "list"]);
    alike(&stores, &["release", "list", "--deployment", "a-finetune"]);
    alike(&stores, &["release", "show", "a-finetune", "r1"]);
    alike(&stores, &["drift", "--deployment", "a-finetune"]);
    // Notifications run on redb only so far: the copy back keeps them.
    alike(&[&original, &returned], &["notify", "list"]);
    alike(&[&original, &returned], &["notify", "log"]);

    // The copy goes on from where the original was: the next document
    // gets the same id in both.
    let next = corpus.join("dev/sboms/uv-export_a-finetune_cdx1.5.json");
    let args = ["ingest", "--deployment", "late", next.to_str().unwrap()];
    for db in [&*original, postgres, &*returned] {
        let out = aibomdb(db, &args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    alike(&stores, &["query", "deployment", "late"]);
}

/// What a copy refuses: a target that holds anything (and it is left as it
/// was), a store copied onto itself, a source that is not there (and no
/// file is left behind).
#[test]
fn a_copy_into_a_store_that_holds_something_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.redb");
    let b = dir.path().join("b.redb");
    let dev = path(&corpus().join("dev/sboms"));
    for db in [&a, &b] {
        let out = aibomdb(db, &["ingest", &dev]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let pg = Database::new();
    let postgres = Path::new(&pg.url);
    let out = aibomdb(
        postgres,
        &[
            "policy",
            "add",
            "p",
            &path(&root().join("examples/policy.toml")),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let before = (fingerprint(&b), records(postgres));
    for target in [&*b, postgres] {
        let out = aibomdb(&a, &["copy", "--to", target.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("already holds"), "{}", stderr(&out));
    }
    assert_eq!(before, (fingerprint(&b), records(postgres)));

    let out = aibomdb(&a, &["copy", "--to", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let missing = dir.path().join("missing.redb");
    let target = dir.path().join("never.redb");
    let out = aibomdb(&missing, &["copy", "--to", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!missing.exists() && !target.exists());
    // A source that opens but fails half-way (a record it cannot read):
    // the target the copy made holds nothing of it and is removed again.
    let broken = Database::new();
    copy(&a, Path::new(&broken.url));
    broken.sql("UPDATE documents SET record = '\\x00' WHERE id = (SELECT max(id) FROM documents)");
    let out = aibomdb(
        Path::new(&broken.url),
        &["copy", "--to", target.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("documents"), "{}", stderr(&out));
    assert!(!target.exists());
    // Into an empty store that was there before: it stays, empty (the
    // packages and deployments read before the failure are not committed).
    let empty = dir.path().join("empty.redb");
    assert!(aibomdb(&empty, &["stats"]).status.success());
    let nothing = fingerprint(&empty);
    let out = aibomdb(
        Path::new(&broken.url),
        &["copy", "--to", empty.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(fingerprint(&empty), nothing);
}

/// A 1,000-deployment estate made of the corpus's documents (three to a
/// deployment, some superseding others), matched against PyPA: copied to
/// PostgreSQL and back with every record alike and every query shape
/// answering alike.
#[test]
fn a_thousand_deployment_estate_copies_to_postgresql_and_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("estate.redb");
    let returned = dir.path().join("returned.redb");
    let corpus = corpus();
    let mut prepared = Vec::new();
    for folder in [
        corpus.join("dev"),
        corpus.join("formats/cyclonedx/bom-examples"),
        root().join("examples"),
    ] {
        let mut files: Vec<PathBuf> = walk(&folder);
        files.sort();
        for file in files {
            // Files that are not documents (READMEs, pyproject.toml) are refused.
            if let Ok(p) = aibomdb_ingest::prepare(&file, &aibomdb_ingest::Limits::default()) {
                prepared.push(p);
            }
        }
    }
    assert!(prepared.len() > 20, "{} documents", prepared.len());
    {
        let store = aibomdb_store::Store::open(&original).unwrap();
        let n = prepared.len();
        let mut batch = Vec::new();
        for i in 0..1000usize {
            let picks: BTreeSet<usize> = [i % n, (i * 7 + 3) % n, (i * 13 + 5) % n].into();
            for pick in picks {
                let p = &prepared[pick];
                // How advisories name each package, as ingest records it.
                let (lookup_names, matches) =
                    aibomdb_osv::match_document(&store, &p.facts).unwrap();
                batch.push(aibomdb_store::NewDocument {
                    deployment: format!("service-{i:04}"),
                    source_path: p.path.display().to_string(),
                    sha256: p.sha256,
                    size: p.size,
                    facts: p.facts.clone(),
                    lookup_names,
                    matches,
                    matched_at: None,
                    rows: None,
                });
            }
            if batch.len() >= 600 {
                store.ingest_batch(&batch).unwrap();
                batch.clear();
            }
        }
        store.ingest_batch(&batch).unwrap();
        store.persist_heads().unwrap();
    }
    let out = aibomdb(
        &original,
        &[
            "advisories",
            "load",
            &path(&corpus.join("osv/pypa-advisory-database")),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let pg = Database::new();
    let postgres = Path::new(&pg.url);
    let there = copy(&original, postgres);
    assert_eq!(there["records"]["deployments"], 1000, "{there}");
    let back = copy(postgres, &returned);
    assert_eq!(back["records"], there["records"]);
    same_tables(&original, &returned);
    every_shape_alike(&[&original, postgres, &returned], 25);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
