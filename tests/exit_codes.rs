//! Exit codes end to end: 2 when the user's input or usage is wrong (a name,
//! a flag, a `--db` file that is no store of this build), 3 when the tool
//! broke (a damaged store), so CI scripts can tell them apart. Also group
//! commit: its document limit and the one-by-one retry that keeps a bad write
//! from costing the rest of its group.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{aibomdb, json, stderr, stdout};
use redb::{ReadableDatabase, ReadableTable};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

const TRIVY: &str = "trivy-0.54.1_container_cdx1.6.json";
const ALPINE: &str = "alpine-spdx-syft0.57.json";
const SPDX3: &str = "simplehtr-ai-spdx3.0.1.json";
const CDXPY: &str = "cyclonedx-py_requirements_a-finetune_cdx1.6.json";
const UVEXPORT: &str = "uv-export_a-finetune_cdx1.5.json";

fn ingest(db: &Path, files: &[&str], extra: &[&str]) {
    let mut args = vec!["ingest".to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(files.iter().map(|f| example(f).display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = aibomdb(db, &args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

/// Replaces one value of a `&str`- or `u64`-keyed table the way a bad disk
/// or a bug would: bytes no record decodes from.
fn damage(db: &Path, table: &str, key: Key) {
    let db = redb::Database::open(db).unwrap();
    let txn = db.begin_write().unwrap();
    match key {
        Key::Id(id) => {
            let mut t = txn
                .open_table(redb::TableDefinition::<u64, &[u8]>::new(table))
                .unwrap();
            assert!(t.get(id).unwrap().is_some(), "{table}/{id} exists");
            t.insert(id, &[0xff_u8; 7][..]).unwrap();
        }
        Key::Name(name) => {
            let mut t = txn
                .open_table(redb::TableDefinition::<&str, &[u8]>::new(table))
                .unwrap();
            assert!(t.get(name).unwrap().is_some(), "{table}/{name} exists");
            t.insert(name, &[0xff_u8; 7][..]).unwrap();
        }
    }
    txn.commit().unwrap();
}

enum Key<'a> {
    Id(u64),
    Name(&'a str),
}

#[test]
fn a_damaged_store_is_an_internal_failure() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    ingest(&db, &[TRIVY], &["--deployment", "image"]);
    damage(&db, "documents", Key::Id(1));
    for args in [
        &["documents"][..],
        &["documents", "--format", "json"],
        &["query", "deployment", "image"],
        &[
            "export",
            "--deployment",
            "image",
            "--format",
            "cyclonedx-1.6",
        ],
    ] {
        let out = aibomdb(&db, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains("store record documents/1 is unreadable"),
            "{args:?}: {err}"
        );
    }
    // The same store, asked about a name it does not have, is still the
    // user's mistake: the code depends on what failed, not on the store.
    let out = aibomdb(&db, &["query", "deployment", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_file_that_is_not_a_store_is_bad_input_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    // An SBOM given as --db by mistake (the arguments the wrong way round).
    let not_a_store = dir.path().join("sbom.json");
    std::fs::copy(example(TRIVY), &not_a_store).unwrap();
    let before = std::fs::read(&not_a_store).unwrap();
    for args in [
        &["stats"][..],
        &["ingest", example(ALPINE).to_str().unwrap()],
        &["compact"],
    ] {
        let out = aibomdb(&not_a_store, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("sbom.json is not an aibomdb store"),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::read(&not_a_store).unwrap(), before, "{args:?}");
    }
    // A directory, and a path whose folder does not exist: the user's --db.
    for (db, says) in [
        (
            dir.path().to_path_buf(),
            "is not an aibomdb store: it is a directory",
        ),
        (
            dir.path().join("no-such-folder/s.redb"),
            "is not an aibomdb store: its folder does not exist",
        ),
    ] {
        let out = aibomdb(&db, &["stats"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    assert!(!dir.path().join("no-such-folder").exists());
}

#[test]
fn a_store_of_another_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    for (found, says) in [
        (
            3,
            "written by an aibomdb older than layout 4, the oldest this build migrates; ingest into a new store",
        ),
        (6, "written by a newer aibomdb"),
    ] {
        let db = dir.path().join(format!("schema-{found}.redb"));
        ingest(&db, &[TRIVY], &[]);
        // What an older or newer build leaves in `meta` (this build reads 5
        // and migrates 4; tests/migration.rs covers that).
        {
            let redb_db = redb::Database::open(&db).unwrap();
            let txn = redb_db.begin_write().unwrap();
            txn.open_table(redb::TableDefinition::<&str, u64>::new("meta"))
                .unwrap()
                .insert("schema_version", found)
                .unwrap();
            txn.commit().unwrap();
        }
        for args in [
            &["stats"][..],
            &["ingest", example(ALPINE).to_str().unwrap()],
            &["match"],
        ] {
            let out = aibomdb(&db, args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                err.contains(&format!(
                    "has layout {found} and this build reads 5: it was {says}"
                )),
                "{args:?}: {err}"
            );
        }
        // Refused, not migrated or overwritten: the version is as it was.
        let redb_db = redb::Database::open(&db).unwrap();
        let read = redb_db.begin_read().unwrap();
        let meta = read
            .open_table(redb::TableDefinition::<&str, u64>::new("meta"))
            .unwrap();
        assert_eq!(meta.get("schema_version").unwrap().unwrap().value(), found);
    }
}

#[test]
fn a_store_a_server_holds_is_usage_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    ingest(&db, &[TRIVY], &[]);
    let server = common::Server::start(&db, &[]);
    let out = aibomdb(&db, &["ingest", example(ALPINE).to_str().unwrap()]);
    server.stop();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("already open in another process"), "{err}");
}

/// Every command that names an existing deployment refuses an unknown one
/// with exit 2 and its name, writes nothing, and prints no empty answer that
/// could pass for "nothing found" (a gate on a misspelt name must not pass).
#[test]
fn every_command_on_an_unknown_deployment_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    ingest(&db, &[TRIVY], &["--deployment", "image"]);
    let before = common::fingerprint(&db);
    let commands: [&[&str]; 9] = [
        &["documents", "--deployment", "imag"],
        &["match", "--deployment", "imag"],
        &["match", "--deployment", "imag", "--fail-on", "any"],
        &["query", "deployment", "imag"],
        &["query", "models", "--deployment", "imag", "--risky"],
        &["query", "deployments", "--name", "musl", "--in", "imag"],
        &["export", "--deployment", "imag", "--format", "openvex"],
        &["cra-report", "--deployment", "imag"],
        &["cra-report", "--deployment", "imag", "--format", "json"],
    ];
    for args in commands {
        let out = aibomdb(&db, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("no deployment named \"imag\""),
            "{args:?}: {err}"
        );
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    // The same commands on the real name answer (exit 0, or 1 for a gate).
    for args in commands {
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "imag" { "image" } else { a })
            .collect();
        let out = aibomdb(&db, &args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!stdout(&out).is_empty(), "{args:?}");
    }
    assert_eq!(common::fingerprint(&db), before);
}

fn ingest_logged(db: &Path, files: &[PathBuf], extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aibomdb"))
        .arg("--db")
        .arg(db)
        .arg("ingest")
        .args(extra)
        .args(files)
        .args(["--format", "json"])
        .env_remove("AIBOMDB_DB")
        .env("AIBOMDB_LOG", "aibomdb_ingest=debug")
        .output()
        .unwrap()
}

/// Sizes of the groups the writer committed, from its debug log.
fn groups(err: &str, what: &str) -> Vec<usize> {
    err.lines()
        .filter(|l| l.contains(what))
        .map(|l| {
            let n = l.split("documents=").nth(1).unwrap();
            n.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

#[test]
fn group_commit_holds_its_limit_and_retries_a_failed_group_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<PathBuf> = [TRIVY, ALPINE, SPDX3, CDXPY, UVEXPORT]
        .iter()
        .map(|f| example(f))
        .collect();

    // The limit: five documents, at most two per transaction; one each with 1.
    for (limit, most) in [("2", 2), ("1", 1)] {
        let db = dir.path().join(format!("limit-{limit}.redb"));
        let out = ingest_logged(
            &db,
            &all,
            &["--batch-documents", limit, "--batch-wait-ms", "5000"],
        );
        let sizes = groups(&stderr(&out), "group committed");
        assert_eq!(sizes.iter().sum::<usize>(), 5, "{}", stderr(&out));
        assert!(sizes.iter().all(|n| *n <= most), "{sizes:?}");
        assert_eq!(json(&out).as_array().unwrap().len(), 5);
    }
    // With room for all and a long wait, they commit together.
    let db = dir.path().join("together.redb");
    let out = ingest_logged(&db, &all, &["--batch-wait-ms", "60000"]);
    assert_eq!(
        groups(&stderr(&out), "group committed"),
        vec![5],
        "{}",
        stderr(&out)
    );

    // A failed write: trivy's deployment record is damaged, so a new trivy
    // document (the same SBOM re-serialised: new bytes, same slot) cannot be
    // written. In one group with two good documents, the group fails, each is
    // retried alone, the good ones land and the bad one is reported, exit 3.
    let db = dir.path().join("retry.redb");
    ingest(&db, &[TRIVY], &[]);
    damage(&db, "deployments", Key::Name("trivy-test-image"));
    let reformatted = dir.path().join("trivy-again.json");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example(TRIVY)).unwrap()).unwrap();
    std::fs::write(&reformatted, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = ingest_logged(
        &db,
        &[example(ALPINE), reformatted.clone(), example(SPDX3)],
        &["--batch-wait-ms", "60000"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(
        groups(&err, "group failed; retrying one by one"),
        vec![3],
        "{err}"
    );
    assert!(
        err.contains(&format!("error: {}", reformatted.display()))
            && err.contains("store record deployments/trivy-test-image is unreadable"),
        "{err}"
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let landed: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        landed,
        [
            example(ALPINE).display().to_string(),
            example(SPDX3).display().to_string()
        ]
    );
    let docs = aibomdb(
        &db,
        &[
            "documents",
            "--deployment",
            "alpine-latest",
            "--format",
            "json",
        ],
    );
    assert_eq!(json(&docs).as_array().unwrap().len(), 1);
}
