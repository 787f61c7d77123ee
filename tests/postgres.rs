//! The PostgreSQL back end on a real server (issue #20): the one started by
//! `scripts/with-postgres.sh`, which the README's test command runs the
//! tests under (`AIBOMDB_TEST_DB_URL`). Each test makes a database of its
//! own: schema migrations, and the same answers from both back ends (every
//! command runs on PostgreSQL; tests/notify.rs runs on both). Several
//! servers, a replica,
//! concurrent writers and crashes: tests/postgres_ops.rs.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{aibomdb, stderr, stdout};
use serde_json::Value;

use common::pg::Database as TestDatabase;

const TABLES: &str = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";

#[test]
fn migrate_applies_the_schema_once_and_check_writes_nothing() {
    let db = TestDatabase::new();
    let check = db.migrate_json(&["--check"]);
    assert_eq!(check["current"], false);
    assert_eq!(check["migrated"], false);
    assert_eq!(
        check["steps"],
        serde_json::json!(["0001_graph", "0002_copy", "0003_occurrences_by_4"])
    );
    assert_eq!(db.sql(TABLES), "0", "--check created a table");

    let first = db.migrate_json(&[]);
    assert_eq!(first["migrated"], true, "{first}");
    assert_eq!(first["from"], 0);
    assert_eq!(first["to"], 3);
    assert_eq!(
        first["steps"],
        serde_json::json!(["0001_graph", "0002_copy", "0003_occurrences_by_4"])
    );
    // The graph's tables, partitions of the large one among them.
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_partitioned_table"),
        "1",
        "occurrences are partitioned"
    );
    assert_eq!(
        db.sql(
            "SELECT count(*) FROM pg_inherits JOIN pg_class c ON c.oid = inhparent WHERE c.relname = 'occurrences'"
        ),
        "4"
    );
    assert_eq!(
        db.sql("SELECT string_agg(version || ' ' || name, ', ' ORDER BY version) FROM schema_migrations"),
        "1 graph, 2 copy, 3 occurrences_by_4"
    );
    let tables = db.sql(TABLES);

    let again = db.migrate_json(&[]);
    assert_eq!(again["current"], true, "{again}");
    assert_eq!(again["steps"], serde_json::json!([]));
    assert_eq!(db.sql(TABLES), tables);
    let text = db.run(&["migrate"]);
    assert!(
        stdout(&text).contains("already at schema version 3"),
        "{}",
        stdout(&text)
    );
    // The URL's password is never printed.
    assert!(!stdout(&text).contains('?'));
}

#[test]
fn a_database_migrated_by_other_files_or_a_newer_build_is_refused() {
    let db = TestDatabase::new();
    db.migrate_json(&[]);
    db.sql("UPDATE schema_migrations SET sha256 = repeat('0', 64) WHERE version = 1");
    let out = db.run(&["migrate", "--check"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0001_graph")
            && stderr(&out).contains("changed after it was applied"),
        "{}",
        stderr(&out)
    );

    let newer = TestDatabase::new();
    newer.migrate_json(&[]);
    newer.sql("INSERT INTO schema_migrations (version, name, sha256) VALUES (99, 'later', 'x')");
    let out = newer.run(&["migrate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("written by a newer aibomdb"),
        "{}",
        stderr(&out)
    );
}

/// A database the first released schema made (migration 1 only) takes the
/// later files on open, each once, and keeps what it held.
#[test]
fn a_database_at_an_earlier_schema_takes_the_later_files() {
    use sha2::Digest;
    let db = TestDatabase::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../store-pg/migrations");
    let first = std::fs::read_to_string(root.join("0001_graph.sql")).unwrap();
    let sha: String = sha2::Sha256::digest(first.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    db.sql(&first);
    db.sql(
        "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL, \
            sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    db.sql(&format!(
        "INSERT INTO schema_migrations (version, name, sha256) VALUES (1, 'graph', '{sha}')"
    ));
    db.sql("INSERT INTO policies (name, policy) VALUES ('kept', '\\x00')");
    db.sql("INSERT INTO occurrences VALUES (7, 8, 9), (10, 11, 12)");
    let check = db.migrate_json(&["--check"]);
    assert_eq!(
        check["steps"],
        serde_json::json!(["0002_copy", "0003_occurrences_by_4"]),
        "{check}"
    );
    // Any command migrates on open.
    let out = db.run(&["stats"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(db.sql("SELECT count(*) FROM schema_migrations"), "3");
    assert_eq!(
        db.sql("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'advisories' AND column_name = 'seen_at'"),
        "YES"
    );
    assert_eq!(db.sql("SELECT name FROM policies"), "kept");
    // Who lists what moved to the four partitions whole.
    assert_eq!(
        db.sql("SELECT string_agg(format('%s/%s/%s', deployment_id, document_id, package_id), ' ' ORDER BY package_id) FROM occurrences"),
        "7/8/9 10/11/12"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_inherits JOIN pg_class c ON c.oid = inhparent WHERE c.relname = 'occurrences'"),
        "4"
    );
}

#[test]
fn two_processes_migrating_at_once_apply_each_file_once() {
    let db = TestDatabase::new();
    let bin = env!("CARGO_BIN_EXE_aibomdb");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(bin)
                .args(["--db", &db.url, "migrate", "--format", "json"])
                .env_remove("AIBOMDB_DB")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        applied += v["steps"].as_array().unwrap().len();
    }
    assert_eq!(applied, 3, "one process applied the files, the others none");
    assert_eq!(db.sql("SELECT count(*) FROM schema_migrations"), "3");
}

#[test]
fn notify_runs_and_bad_urls_exit_with_what_was_wrong() {
    let db = TestDatabase::new();
    db.migrate_json(&[]);
    let sbom = common::corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    let out = db.run(&["notify", "list", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "[]");
    let out = db.run(&["ingest", sbom.to_str().unwrap(), "--deployment", "python"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.sql("SELECT count(*) FROM documents"), "1");
    // A URL that does not parse, or a server that is not there: exit 2 and 3,
    // and never the password.
    let out = aibomdb(
        Path::new("postgresql://ci:s3cret@/x?host=/nonexistent-dir&port=1"),
        &["migrate"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!stderr(&out).contains("s3cret"), "{}", stderr(&out));
}

/// `compact` on PostgreSQL rewrites the tables without the rows a deletion
/// left dead and gives the space back; every answer stays as it was.
#[test]
fn compact_gives_back_what_a_deletion_left_and_changes_no_answer() {
    let db = TestDatabase::new();
    let pg = Path::new(&db.url);
    let boms = common::corpus().join("formats/cyclonedx/bom-examples");
    for deployment in ["kept", "dropped"] {
        let out = db.run(&["ingest", boms.to_str().unwrap(), "--deployment", deployment]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = db.run(&[
        "advisories",
        "load",
        common::corpus()
            .join("osv/pypa-advisory-database/vulns/requests")
            .to_str()
            .unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Stand-ins for what a long life leaves behind: a deleted deployment's
    // rows, and rows rewritten in place.
    db.sql("DELETE FROM occurrences WHERE deployment_id = (SELECT id FROM deployments WHERE name = 'dropped')");
    for _ in 0..10 {
        db.sql("UPDATE documents SET rows = rows || ''::bytea, record = record || ''::bytea");
    }
    let report = answer(pg, &["query", "deployment", "kept"]);
    let matches = answer(pg, &["match"]);
    let out = db.run(&["compact", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sizes: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        sizes["after"].as_u64().unwrap() < sizes["before"].as_u64().unwrap(),
        "{sizes}"
    );
    assert_eq!(answer(pg, &["query", "deployment", "kept"]), report);
    assert_eq!(answer(pg, &["match"]), matches);
}

/// What both back ends are asked: an answer as JSON, with the run's own
/// timestamps (ingest times, a deployment's creation, the file's size)
/// left out.
fn answer(db: &Path, args: &[&str]) -> (Option<i32>, Value) {
    answer_without(db, args, &[])
}

/// [`answer`], also without the keys `clock` names: times that come from
/// when the command ran rather than from the documents.
fn answer_without(db: &Path, args: &[&str], clock: &[&str]) -> (Option<i32>, Value) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    let out = aibomdb(db, &all);
    let mut value: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}{}", stdout(&out), stderr(&out)));
    fn strip(v: &mut Value, clock: &[&str]) {
        match v {
            Value::Object(map) => {
                for key in RUN_TIMES.iter().chain(clock) {
                    map.remove(*key);
                }
                map.values_mut().for_each(|v| strip(v, clock));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| strip(v, clock)),
            _ => {}
        }
    }
    strip(&mut value, clock);
    (out.status.code(), value)
}

/// Keys that hold when a command ran (an ingest, a load, a policy stored,
/// an export made) or the size of the store: they differ between any two
/// runs, whatever the back end.
const RUN_TIMES: [&str; 8] = [
    "ingested_at",
    "created_at",
    "file_bytes",
    "added_at",
    "seen_at",
    "timestamp",
    "serialNumber",
    "generated_at",
];

fn same(redb: &Path, pg: &Path, args: &[&str]) -> Value {
    same_without(redb, pg, args, &[])
}

fn same_without(redb: &Path, pg: &Path, args: &[&str], clock: &[&str]) -> Value {
    let (code, file) = answer_without(redb, args, clock);
    let (pg_code, postgres) = answer_without(pg, args, clock);
    assert_eq!(code, pg_code, "{args:?}: exit codes differ");
    assert_eq!(
        file, postgres,
        "{args:?}: redb and PostgreSQL answer differently"
    );
    file
}

/// The issue's first check, for the inventory half: the same documents into
/// a redb file and a PostgreSQL database give the same ingest report, and
/// then the same answer to every query shape, down to document ids, the
/// order of hits and every step of every path.
#[test]
fn the_corpus_answers_alike_on_redb_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let redb = dir.path().join("s.redb");
    let db = TestDatabase::new();
    let pg = Path::new(&db.url);
    let corpus = common::corpus();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let example_inputs: Vec<String> = [
        "a-finetune-uv",
        "image-service",
        "alpine-spdx-syft0.57.json",
        "trivy-0.54.1_container_cdx1.6.json",
        "uv-export_a-finetune_cdx1.5.json",
        "cyclonedx-py_requirements_a-finetune_cdx1.6.json",
        "simplehtr-ai-spdx3.0.1.json",
    ]
    .iter()
    .map(|f| examples.join(f).to_str().unwrap().to_string())
    .collect();
    let dirs: Vec<String> = [
        "dev",
        "formats/cyclonedx",
        "formats/spdx",
        "formats/huggingface",
        "formats/bsi",
    ]
    .iter()
    .map(|d| corpus.join(d).to_str().unwrap().to_string())
    .collect();
    // The examples, then each corpus folder (some hold documents that are
    // refused on purpose: both refuse them alike), then one of them again
    // (all unchanged) and a document that supersedes another.
    let mut groups: Vec<Vec<String>> = vec![example_inputs];
    groups.extend(dirs.iter().map(|d| vec![d.clone()]));
    groups.push(vec![dirs[0].clone()]);
    let mut deployment = vec!["--deployment".to_string(), "a-finetune".to_string()];
    deployment.push(
        corpus
            .join("dev/sboms/uv-export_a-finetune_cdx1.5.json")
            .to_str()
            .unwrap()
            .to_string(),
    );
    groups.push(deployment);
    for group in &groups {
        let mut args = vec!["ingest"];
        args.extend(group.iter().map(String::as_str));
        let file = aibomdb(&redb, &args);
        let postgres = aibomdb(pg, &args);
        assert_eq!(
            file.status.code(),
            postgres.status.code(),
            "{args:?}: {}",
            stderr(&postgres)
        );
        assert_eq!(stdout(&file), stdout(&postgres), "{args:?}");
        assert_eq!(stderr(&file), stderr(&postgres), "{args:?}");
    }
    let model = corpus.join("formats/huggingface/cognix-openmodel");
    let args = [
        "ingest-model",
        model.to_str().unwrap(),
        "--deployment",
        "chat",
        "--id",
        "cognix/openmodel",
    ];
    assert_eq!(answer(&redb, &args), answer(pg, &args));

    let stats = same(&redb, pg, &["stats"]);
    assert!(stats["documents"].as_u64().unwrap() > 100, "{stats}");
    same(&redb, pg, &["documents"]);
    let deployments: Vec<String> = same(&redb, pg, &["documents"])
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["deployment"].as_str().unwrap().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut purls = std::collections::BTreeSet::new();
    let mut names = std::collections::BTreeSet::new();
    for d in &deployments {
        let report = same(&redb, pg, &["query", "deployment", d]);
        for p in report["packages"].as_array().unwrap() {
            let purl = p["purl"].as_str().unwrap().to_string();
            if let Ok(parsed) = aibomdb_graph::Purl::parse(&purl) {
                names.insert(parsed.name.clone());
            }
            purls.insert(purl);
        }
    }
    assert!(purls.len() > 200, "{} purls", purls.len());
    let mut paths = 0;
    for purl in &purls {
        let hits = same(
            &redb,
            pg,
            &["query", "deployments", "--purl", purl, "--history"],
        );
        for hit in hits["hits"].as_array().unwrap() {
            paths += hit["path"].as_array().unwrap().len();
        }
    }
    assert!(paths > 1000, "{paths} path steps compared");
    // A path from one deployment, and names with and without a range.
    same(
        &redb,
        pg,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:pypi/markupsafe@3.0.4",
            "--in",
            "a-finetune",
        ],
    );
    for name in &names {
        same(&redb, pg, &["query", "packages", "--name", name]);
        same(&redb, pg, &["query", "deployments", "--name", name]);
    }
    same(
        &redb,
        pg,
        &[
            "query",
            "deployments",
            "--name",
            "transformers",
            "--version-range",
            ">=4,<6",
        ],
    );
    // The model graph.
    let models = same(&redb, pg, &["query", "models"]);
    assert!(!models.as_array().unwrap().is_empty());
    for m in models.as_array().unwrap() {
        let purl = m["purl"].as_str().unwrap();
        same(&redb, pg, &["query", "lineage", purl]);
        same(&redb, pg, &["query", "running", purl]);
    }
}

/// What PostgreSQL cannot hold (a NUL in a key, a key longer than an index
/// entry) is refused before anything is written, naming the field; redb
/// stores it. (That a group whose transaction fails leaves nothing is shown
/// by the crash tests below.)
#[test]
fn a_document_postgresql_cannot_hold_is_refused_whole() {
    let db = TestDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("nul.cdx.json");
    std::fs::write(
        &bad,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
            "metadata":{"component":{"type":"application","name":"app","version":"1"}},
            "components":[{"type":"library","name":"ok","version":"1","purl":"pkg:pypi/ok@1"},
                          {"type":"library","name":"bad","version":"1","purl":"pkg:pypi/bad@1\u0000x"}]}"#,
    )
    .unwrap();
    let out = db.run(&["ingest", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("NUL"), "{}", stderr(&out));
    for table in [
        "documents",
        "packages",
        "occurrences",
        "deployments",
        "facts",
    ] {
        assert_eq!(
            db.sql(&format!("SELECT count(*) FROM {table}")),
            "0",
            "{table}"
        );
    }
}

/// The control half on both back ends: advisories loaded and matched, VEX,
/// exposure timelines, the gate, exports and the CRA report, stored
/// policies, releases, observations and drift, and approvals give the same
/// answers from redb and PostgreSQL. (Deleting a deployment is in the
/// two-server test and in the e2e suites run on PostgreSQL.)
#[test]
fn advisories_gates_releases_and_exports_answer_alike_on_both_back_ends() {
    let dir = tempfile::tempdir().unwrap();
    let redb = dir.path().join("s.redb");
    let db = TestDatabase::new();
    let pg = Path::new(&db.url);
    let corpus = common::corpus();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let examples = root.join("examples");
    let policy = examples.join("policy.toml");
    let policy = policy.to_str().unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let dev = path(&corpus.join("dev"));
    let boms = path(&corpus.join("formats/cyclonedx/bom-examples"));
    let osv = path(&corpus.join("osv/pypa-advisory-database"));
    // The examples hold OSV records too: they load after the documents.
    same(&redb, pg, &["ingest", &path(&examples)]);
    same(&redb, pg, &["ingest", &dev, &boms]);
    same(&redb, pg, &["advisories", "load", &osv]);

    let matches = same(&redb, pg, &["match"]);
    let matched: std::collections::BTreeSet<String> = matches
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["advisory"].as_str().unwrap().to_string())
        .collect();
    assert!(!matched.is_empty(), "{matches}");
    for advisory in &matched {
        let affected = same(&redb, pg, &["query", "affected", "--advisory", advisory]);
        assert!(!affected.to_string().is_empty());
    }
    same(&redb, pg, &["match", "--fail-on", "high"]);
    same_without(
        &redb,
        pg,
        &["timeline", "--at", "2026-12-01"],
        &[
            "from",
            "until",
            "exposed_from",
            "exposed_from_time",
            "resolved_at",
            "resolved_at_time",
            "seconds_exposed",
        ],
    );
    let at = "2026-12-01T00:00:00Z";
    let gate = same(
        &redb,
        pg,
        &["gate", "--policy", policy, "--all", "--at", at],
    );
    assert!(gate["deployments"].as_array().unwrap().len() > 5, "{gate}");
    for format in ["cyclonedx-1.6", "spdx-2.3", "openvex", "cyclonedx-vex"] {
        same_plain(
            &redb,
            pg,
            &["export", "--deployment", "a-finetune", "--format", format],
        );
    }
    same(&redb, pg, &["cra-report", "--deployment", "a-finetune"]);

    same(&redb, pg, &["policy", "add", "release", policy]);
    same(&redb, pg, &["policy", "list"]);
    let release = [
        "release",
        "create",
        "--deployment",
        "a-finetune",
        "--name",
        "r1",
        "--at",
        at,
    ];
    same(&redb, pg, &release);
    // A release name is never used twice: refused alike, nothing written.
    let again = db.run(&release);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("never changed"),
        "{}",
        stderr(&again)
    );
    same(
        &redb,
        pg,
        &["release", "list", "--deployment", "a-finetune"],
    );
    same(&redb, pg, &["release", "show", "a-finetune", "r1"]);
    let digest = format!("sha256:{}", "0".repeat(64));
    same(
        &redb,
        pg,
        &[
            "observe",
            "--deployment",
            "a-finetune",
            "--image-digest",
            &digest,
            "--at",
            at,
        ],
    );
    same(&redb, pg, &["drift", "--deployment", "a-finetune"]);

    let model = corpus.join("formats/huggingface/cognix-openmodel");
    let args = [
        "ingest-model",
        model.to_str().unwrap(),
        "--deployment",
        "chat",
        "--id",
        "cognix/openmodel",
    ];
    same(&redb, pg, &args);
    let models = same(&redb, pg, &["query", "models"]);
    let cognix = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["purl"] == "pkg:huggingface/cognix/openmodel")
        .unwrap_or_else(|| panic!("{models}"));
    let artifact = cognix["info"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a["sha256"].as_str())
        .unwrap()
        .to_string();
    same(
        &redb,
        pg,
        &[
            "approve",
            "--model",
            "cognix/openmodel",
            "--artifact-sha256",
            &artifact,
            "--by",
            "lead",
        ],
    );
    same_without(&redb, pg, &["query", "models"], &["at"]);
    same(&redb, pg, &["stats"]);
}

/// Outputs that are not JSON answers (an SBOM, a VEX document): equal once
/// the run's own times and serial numbers are left out.
fn same_plain(redb: &Path, pg: &Path, args: &[&str]) {
    let strip = |out: &Output| -> Value {
        let mut v: Value = serde_json::from_str(&stdout(out))
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stderr(out)));
        fn walk(v: &mut Value) {
            match v {
                Value::Object(map) => {
                    for key in RUN_TIMES {
                        map.remove(key);
                    }
                    for key in ["@id", "created", "documentNamespace"] {
                        map.remove(key);
                    }
                    map.values_mut().for_each(walk);
                }
                Value::Array(items) => items.iter_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut v);
        v
    };
    let (file, postgres) = (aibomdb(redb, args), aibomdb(pg, args));
    assert_eq!(file.status.code(), postgres.status.code(), "{args:?}");
    assert_eq!(strip(&file), strip(&postgres), "{args:?}");
}
