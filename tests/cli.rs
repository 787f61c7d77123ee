//! The `aibomdb` binary end to end: identity across tools, bad input leaving
//! the store untouched, restart, re-ingest and supersession.

mod common;

use std::path::Path;

use common::{aibomdb, corpus, fingerprint, json, stderr, stdout};
use serde_json::Value;

const UV: &str = "dev/sboms/uv-export_a-finetune_cdx1.5.json";
const CDXPY: &str = "dev/sboms/cyclonedx-py_requirements_a-finetune_cdx1.6.json";

fn ingest(db: &Path, file: &Path, deployment: &str) {
    let out = aibomdb(
        db,
        &["ingest", file.to_str().unwrap(), "--deployment", deployment],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn one_package_node_for_two_tools_and_both_deployments_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let c = corpus();
    ingest(&db, &c.join(UV), "finetune-uv");
    ingest(&db, &c.join(CDXPY), "finetune-pip");

    let hits = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:pypi/transformers@5.23.0",
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    let deployments: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["deployment"].as_str().unwrap())
        .collect();
    assert_eq!(deployments, ["finetune-pip", "finetune-uv"]);
    // uv states the dependency graph: transformers is a direct dependency of
    // the project, and the path runs through the project's own node.
    let uv_hit = &hits[1];
    assert_eq!(uv_hit["direct"], Value::Bool(true));
    let path: Vec<&str> = uv_hit["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(path[0], "finetune-uv");
    assert_eq!(
        &path[2..],
        [
            "pkg:generic/a-finetune@0.1.0",
            "pkg:pypi/transformers@5.23.0"
        ]
    );
    // cyclonedx-py (from requirements.txt) has no graph: direct is unknown, not guessed.
    assert_eq!(hits[0]["direct"], Value::Null);

    // One node: the package table holds transformers once, listed by two documents.
    let pk = json(&aibomdb(
        &db,
        &[
            "query",
            "packages",
            "--name",
            "Transformers",
            "--format",
            "json",
        ],
    ));
    let packages = pk["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1);
    assert_eq!(
        packages[0]["package"]["key"],
        "pkg:pypi/transformers@5.23.0"
    );
    assert_eq!(packages[0]["documents"], 2);

    // Version ranges use PEP 440 for PyPI.
    let none = json(&aibomdb(
        &db,
        &[
            "query",
            "packages",
            "--name",
            "transformers",
            "--version-range",
            "<4.38",
            "--format",
            "json",
        ],
    ));
    assert_eq!(none["packages"].as_array().unwrap().len(), 0);
    let some = json(&aibomdb(
        &db,
        &[
            "query",
            "packages",
            "--name",
            "transformers",
            "--version-range",
            ">=5,<6",
            "--format",
            "json",
        ],
    ));
    assert_eq!(some["packages"].as_array().unwrap().len(), 1);
    let table = aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:pypi/transformers@5.23.0",
        ],
    );
    assert!(stdout(&table).contains("finetune-uv"), "{}", stdout(&table));
}

#[test]
fn transitive_paths_come_from_the_document_graph() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    ingest(&db, &corpus().join(UV), "finetune-uv");
    // markupsafe is not a direct dependency of a-finetune: jinja2 pulls it in.
    let hits = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:pypi/MarkupSafe@3.0.4",
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["direct"], Value::Bool(false));
    let path: Vec<&str> = hits[0]["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(path.len() >= 5, "{path:?}");
    assert_eq!(path.last(), Some(&"pkg:pypi/markupsafe@3.0.4"));
    assert!(path.contains(&"pkg:pypi/jinja2@3.1.6"), "{path:?}");
}

#[test]
fn path_from_one_deployment_and_compaction_keep_answers() {
    let dir = tempfile::tempdir().unwrap();
    // redb here: `compact` gives a redb file's free pages back (on
    // PostgreSQL it is VACUUM FULL: tests/postgres.rs).
    let db = dir.path().join("s.redb");
    ingest(&db, &corpus().join(UV), "finetune-uv");
    ingest(&db, &corpus().join(CDXPY), "finetune-cdxpy");
    let ask = |deployment: Option<&str>| {
        let mut args = vec![
            "query",
            "deployments",
            "--purl",
            "pkg:pypi/MarkupSafe@3.0.4",
            "--format",
            "json",
        ];
        if let Some(d) = deployment {
            args.extend(["--in", d]);
        }
        json(&aibomdb(&db, &args))["hits"].clone()
    };
    let all = ask(None);
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    // One deployment: only its hit, with the same path the estate-wide
    // answer gives for it.
    let one = ask(Some("finetune-uv"));
    let one = one.as_array().unwrap();
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(one[0]["deployment"], "finetune-uv");
    let same = all
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["deployment"] == "finetune-uv")
        .unwrap();
    assert_eq!(one[0]["path"], same["path"]);
    // A deployment that does not exist is named, not answered with no hits.
    let out = aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:pypi/MarkupSafe@3.0.4",
            "--in",
            "no-such-deployment",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no deployment named \"no-such-deployment\""));

    // Compaction gives pages back and changes no answer.
    let before = fingerprint(&db);
    let out = aibomdb(&db, &["compact", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sizes = json(&out);
    assert!(sizes["after"].as_u64().unwrap() <= sizes["before"].as_u64().unwrap());
    assert_eq!(fingerprint(&db), before);
    assert_eq!(ask(None), all);
    let missing = aibomdb(&dir.path().join("none.redb"), &["compact"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn bad_input_names_file_and_field_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let c = corpus();
    ingest(&db, &c.join(UV), "finetune-uv");
    let before = fingerprint(&db);
    let real = std::fs::read(c.join(CDXPY)).unwrap();

    // Real SBOMs cut in half: uv writes `bomFormat` first, cyclonedx-py last
    // (so the cut loses the field that names the format).
    let uv_bytes = std::fs::read(c.join(UV)).unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &uv_bytes[..uv_bytes.len() / 2]).unwrap();
    let truncated_sorted = dir.path().join("truncated-sorted.json");
    std::fs::write(&truncated_sorted, &real[..real.len() / 2]).unwrap();
    // The fault is at the cut: the last line of what is left.
    let cut_line = format!(
        "line {}",
        real[..real.len() / 2]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    );
    // A real SBOM with one field of the wrong type.
    let mut doc: Value = serde_json::from_slice(&real).unwrap();
    doc["components"][3]["hashes"] = Value::String("sha256".into());
    let wrong_type = dir.path().join("wrong-type.json");
    std::fs::write(&wrong_type, serde_json::to_vec(&doc).unwrap()).unwrap();
    // 100 MB of nesting inside a field the importer does not read, and inside one it does.
    let mut deep = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","x":"#.to_vec();
    deep.resize(deep.len() + 100 * 1024 * 1024, b'[');
    let deep_unknown = dir.path().join("deep-unknown.json");
    std::fs::write(&deep_unknown, &deep).unwrap();
    let mut deep = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":"#.to_vec();
    deep.resize(deep.len() + 1024 * 1024, b'[');
    let deep_known = dir.path().join("deep-known.json");
    std::fs::write(&deep_known, &deep).unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, b"").unwrap();
    // A binary file: the test binary itself.
    let binary = std::env::current_exe().unwrap();
    // JSON that is no SBOM: a real purl type definition.
    let not_sbom = c.join("formats/purl/pypi-definition.json");

    let cases: [(&Path, &[&str]); 8] = [
        (
            &truncated,
            &["CycloneDX JSON", "EOF while parsing", "line "],
        ),
        (
            &truncated_sorted,
            &["malformed JSON", "EOF while parsing", &cut_line],
        ),
        (
            &wrong_type,
            &["field `components[3].hashes`", "invalid type: string"],
        ),
        // Refused by the depth check before any parser recurses.
        (
            &deep_unknown,
            &["nested deeper than 128 levels", "line 1, column"],
        ),
        (
            &deep_known,
            &["nested deeper than 128 levels", "line 1, column"],
        ),
        (&empty, &["file is empty"]),
        (&binary, &["binary content"]),
        (&not_sbom, &["not a recognised document", "bomFormat"]),
    ];
    for (file, needles) in cases {
        let out = aibomdb(
            &db,
            &["ingest", file.to_str().unwrap(), "--deployment", "bad"],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", file.display());
        assert!(err.contains(&file.display().to_string()), "{err}");
        for n in needles {
            assert!(err.contains(n), "{} lacks {n:?}: {err}", file.display());
        }
        assert_eq!(
            fingerprint(&db),
            before,
            "{} changed the store",
            file.display()
        );
    }
    // A good and a bad file together: the good one lands whole, the bad one not at all, exit 2.
    let out = aibomdb(
        &db,
        &[
            "ingest",
            c.join(CDXPY).to_str().unwrap(),
            truncated.to_str().unwrap(),
            "--deployment",
            "mixed",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let docs = json(&aibomdb(
        &db,
        &["documents", "--deployment", "mixed", "--format", "json"],
    ));
    assert_eq!(docs.as_array().unwrap().len(), 1);
    assert_eq!(docs[0]["package_count"], 68);

    // Usage errors are exit 2 as well.
    let out = aibomdb(&db, &["query", "deployments", "--purl", "not-a-purl"]);
    assert_eq!(out.status.code(), Some(2));
    let out = aibomdb(
        &db,
        &["query", "packages", "--name", "x", "--version-range", "<"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = aibomdb(&db, &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn data_survives_restart_and_reingest_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let c = corpus();
    ingest(&db, &c.join(UV), "app");
    let query = [
        "query",
        "deployments",
        "--purl",
        "pkg:pypi/torch@2.15.0",
        "--format",
        "json",
    ];
    let first = json(&aibomdb(&db, &query))["hits"].clone();
    let stats_first = json(&aibomdb(&db, &["stats", "--format", "json"]));
    assert_eq!(first.as_array().unwrap().len(), 1);

    // Each CLI call is a fresh process: this is a restart.
    let again = json(&aibomdb(&db, &query))["hits"].clone();
    assert_eq!(first, again);

    // Identical bytes: unchanged, nothing written.
    let before = fingerprint(&db);
    let out = json(&aibomdb(
        &db,
        &[
            "ingest",
            c.join(UV).to_str().unwrap(),
            "--deployment",
            "app",
            "--format",
            "json",
        ],
    ));
    assert_eq!(out[0]["status"], "unchanged");
    assert_eq!(fingerprint(&db), before);
    assert_eq!(
        json(&aibomdb(&db, &["stats", "--format", "json"]))["documents"],
        stats_first["documents"]
    );
}

#[test]
fn a_new_document_supersedes_and_history_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let c = corpus();
    // Two releases of one image, scanned by the same syft: the later replaces
    // the earlier (syft 0.57 names them `…/kube-apiserver-v1.24.1`, `-v1.25.2`).
    let spdx = c.join("external/guac-data/docs/spdx");
    let old = spdx.join("syft-spdx-k8s.gcr.io-kube-apiserver.v1.24.1.json");
    let new = spdx.join("syft-spdx-k8s.gcr.io-kube-apiserver.v1.25.2.json");
    ingest(&db, &old, "apiserver");
    ingest(&db, &new, "apiserver");
    let docs = json(&aibomdb(
        &db,
        &["documents", "--deployment", "apiserver", "--format", "json"],
    ));
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["superseded_by"], docs[1]["id"]);
    assert_eq!(docs[1]["supersedes"], docs[0]["id"]);
    assert_eq!(docs[1]["superseded_by"], Value::Null);

    // A package only the old release had leaves the current answer and stays in history.
    let old_only = "pkg:deb/debian/base-files@11.1+deb11u3?arch=amd64&distro=debian-11";
    let now = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            old_only,
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    assert_eq!(now.as_array().unwrap().len(), 0, "{now}");
    let all = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            old_only,
            "--history",
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all[0]["current"], false);
    let stats = json(&aibomdb(&db, &["stats", "--format", "json"]));
    assert_eq!(stats["documents"], 2);
    assert_eq!(stats["current_documents"], 1);

    // Documents of the same subject by different tools are parallel evidence:
    // uv's and cyclonedx-py's SBOMs of a-finetune are both current.
    ingest(&db, &c.join(CDXPY), "app");
    ingest(&db, &c.join(UV), "app");
    let docs = json(&aibomdb(
        &db,
        &["documents", "--deployment", "app", "--format", "json"],
    ));
    assert!(
        docs.as_array()
            .unwrap()
            .iter()
            .all(|d| d["superseded_by"].is_null())
    );
    let both = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:pypi/transformers@5.23.0",
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    assert_eq!(both.as_array().unwrap().len(), 2);
}

#[test]
fn store_chosen_by_env_and_missing_paths_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("env.redb");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aibomdb"))
        .args(["ingest", corpus().join(UV).to_str().unwrap()])
        .env("AIBOMDB_DB", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(db.exists());
    // Default deployment is the document's subject.
    let docs = json(&aibomdb(&db, &["documents", "--format", "json"]));
    assert_eq!(docs[0]["deployment"], "a-finetune");

    let out = aibomdb(&db, &["ingest", "/nonexistent/sbom.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/sbom.json"));
}

/// Every input bound is configurable with a safe default, and a document or
/// archive over it is refused by name, writing nothing.
#[test]
fn input_limits_are_configurable_and_refuse_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let sbom = corpus().join(CDXPY);
    let run_ok = |args: &[&str]| {
        let out = aibomdb(&db, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    run_ok(&["stats"]);
    let before = fingerprint(&db);
    for (flag, value, needle) in [
        ("--max-json-depth", "3", "nested deeper than 3 levels"),
        ("--max-document-bytes", "1000", "over the limit of 1000"),
    ] {
        let out = aibomdb(
            &db,
            &[
                "ingest",
                flag,
                value,
                sbom.to_str().unwrap(),
                "--deployment",
                "limits",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = stderr(&out);
        assert!(err.contains(needle) && err.contains(CDXPY), "{flag}: {err}");
        assert_eq!(fingerprint(&db), before, "{flag} wrote");
    }
    // The defaults admit the real document.
    run_ok(&["ingest", sbom.to_str().unwrap(), "--deployment", "limits"]);

    // OSV archives: the corpus records zipped with Python's zipfile (as
    // osv.dev's all.zip is), then loaded under tight bounds.
    let records = corpus().join("osv/examples");
    let zip = dir.path().join("all.zip");
    let made = std::process::Command::new("python3")
        .args([
            "-c",
            "import pathlib,sys,zipfile\n\
             with zipfile.ZipFile(sys.argv[2],'w',zipfile.ZIP_DEFLATED) as z:\n\
             \x20   [z.write(p, p.name) for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.json'))]\n\
             \x20   z.writestr('bomb.json', b' ' * (8 << 20))",
        ])
        .arg(&records)
        .arg(&zip)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let before = fingerprint(&db);
    let out = aibomdb(
        &db,
        &[
            "advisories",
            "load",
            zip.to_str().unwrap(),
            "--max-zip-entries",
            "3",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("over the limit of 3"),
        "{}",
        stderr(&out)
    );
    let out = aibomdb(
        &db,
        &[
            "advisories",
            "load",
            zip.to_str().unwrap(),
            "--max-zip-bytes",
            "100000",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("decompressed size over the limit"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fingerprint(&db), before, "a refused archive wrote");
    // The 8 MiB entry of spaces is refused as one record (over 1 MiB), by name
    // and with exit 2; the other records load.
    let out = aibomdb(
        &db,
        &[
            "advisories",
            "load",
            zip.to_str().unwrap(),
            "--max-record-bytes",
            "1048576",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bomb.json: over the record limit of 1048576 bytes"),
        "{}",
        stderr(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["summary"]["added"].as_u64().unwrap() > 0, "{v}");
}

/// `aibomdb ingest` brings the heads snapshot up to date only when it
/// stored a document: a run that fails writes nothing, even where the
/// snapshot is stale (after a write through the library, as uploads do).
#[test]
fn a_failed_ingest_does_not_write_the_heads_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let c = corpus();
    ingest(&db, &c.join(UV), "finetune-uv");
    {
        let store = common::open(&db);
        let prepared =
            aibomdb_ingest::prepare(&c.join(CDXPY), &aibomdb_ingest::Limits::default()).unwrap();
        aibomdb_ingest::commit(&store, prepared, Some("uploaded")).unwrap();
    }
    let before = fingerprint(&db);
    let real = std::fs::read(c.join(CDXPY)).unwrap();
    let cut = dir.path().join("cut.cdx.json");
    std::fs::write(&cut, &real[..real.len() / 2]).unwrap();
    let out = aibomdb(&db, &["ingest", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(fingerprint(&db), before, "a failed ingest wrote");
    // One that stores a document writes the snapshot too.
    ingest(&db, &c.join(CDXPY), "another");
    assert_ne!(fingerprint(&db), before);
}
