//! The PostgreSQL back end on a real server (issue #20): the one started by
//! `scripts/with-postgres.sh`, which the README's test command runs the
//! tests under (`AIBOMDB_TEST_DB_URL`). Each test makes a database of its
//! own. So far the back end has its schema migrations; every other command
//! refuses a `postgres://` store and touches nothing.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{aibomdb, stderr, stdout};
use serde_json::Value;

/// A fresh database on the test cluster, dropped at the end.
struct TestDatabase {
    name: String,
    url: String,
}

fn admin_url() -> String {
    std::env::var("AIBOMDB_TEST_DB_URL").expect(
        "AIBOMDB_TEST_DB_URL is not set: run the tests under scripts/with-postgres.sh (the README's test command does)",
    )
}

fn psql(url: &str, sql: &str) -> String {
    let psql = std::env::var("AIBOMDB_TEST_PSQL").unwrap_or_else(|_| "psql".into());
    let out = Command::new(psql)
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", url, "-c", sql])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql {sql}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

impl TestDatabase {
    fn new() -> TestDatabase {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = admin_url();
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let url = admin.replacen("/postgres?", &format!("/{name}?"), 1);
        assert_ne!(url, admin, "the test URL names the postgres database");
        TestDatabase { name, url }
    }

    fn sql(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }

    fn run(&self, args: &[&str]) -> Output {
        aibomdb(Path::new(&self.url), args)
    }

    fn migrate_json(&self, extra: &[&str]) -> Value {
        let mut args = vec!["migrate", "--format", "json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        psql(
            &admin_url(),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

const TABLES: &str = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";

#[test]
fn migrate_applies_the_schema_once_and_check_writes_nothing() {
    let db = TestDatabase::new();
    let check = db.migrate_json(&["--check"]);
    assert_eq!(check["current"], false);
    assert_eq!(check["migrated"], false);
    assert_eq!(check["steps"], serde_json::json!(["0001_graph"]));
    assert_eq!(db.sql(TABLES), "0", "--check created a table");

    let first = db.migrate_json(&[]);
    assert_eq!(first["migrated"], true, "{first}");
    assert_eq!(first["from"], 0);
    assert_eq!(first["to"], 1);
    assert_eq!(first["steps"], serde_json::json!(["0001_graph"]));
    // The graph's tables, partitions of the two large ones among them.
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_partitioned_table"),
        "2",
        "occurrences and edges are partitioned"
    );
    assert_eq!(
        db.sql(
            "SELECT count(*) FROM pg_inherits JOIN pg_class c ON c.oid = inhparent WHERE c.relname = 'occurrences'"
        ),
        "16"
    );
    assert_eq!(
        db.sql("SELECT version || ' ' || name FROM schema_migrations"),
        "1 graph"
    );
    let tables = db.sql(TABLES);

    let again = db.migrate_json(&[]);
    assert_eq!(again["current"], true, "{again}");
    assert_eq!(again["steps"], serde_json::json!([]));
    assert_eq!(db.sql(TABLES), tables);
    let text = db.run(&["migrate"]);
    assert!(
        stdout(&text).contains("already at schema version 1"),
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
    assert_eq!(applied, 1, "one process applied the file, the others none");
    assert_eq!(db.sql("SELECT count(*) FROM schema_migrations"), "1");
}

#[test]
fn other_commands_refuse_a_postgres_store_and_touch_nothing() {
    let db = TestDatabase::new();
    db.migrate_json(&[]);
    let sbom = common::corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    for args in [
        vec!["ingest", sbom.to_str().unwrap(), "--deployment", "python"],
        vec!["stats"],
        vec!["query", "affected", "--advisory", "CVE-2023-32681"],
    ] {
        let out = db.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!(
                "aibomdb {}: not supported on PostgreSQL yet",
                args[0]
            )) && stderr(&out).contains("issue #20"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(db.sql("SELECT count(*) FROM documents"), "0");
    // A URL that does not parse, or a server that is not there: exit 2 and 3,
    // and never the password.
    let out = aibomdb(
        Path::new("postgresql://ci:s3cret@/x?host=/nonexistent-dir&port=1"),
        &["migrate"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!stderr(&out).contains("s3cret"), "{}", stderr(&out));
}
