//! What reaches the terminal: names and fields from documents never carry
//! terminal escapes through (a deployment named `ESC ]0;…` must not retitle
//! the terminal or colour what follows), and a reader that goes away
//! (`aibomdb export … | head`) ends no command with a panic, nor changes its
//! exit code: a gate still says whether it tripped.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{aibomdb, json, stderr, stdout};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

const TRIVY: &str = "trivy-0.54.1_container_cdx1.6.json";
/// OSC 0 (set the window title, ended by BEL), then SGR red, then a CSI
/// cursor-up, an 8-bit CSI and a right-to-left override.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[31mred\u{1b}[1A\u{9b}2J\u{202e}gnp";

fn assert_inert(what: &str, text: &str) {
    for c in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!text.contains(c), "{what} passes {c:?} through: {text:?}");
    }
}

#[test]
fn hostile_names_reach_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let out = aibomdb(
        &db,
        &[
            "ingest",
            "--deployment",
            HOSTILE,
            example(TRIVY).to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_inert("ingest", &stdout(&out));
    let shown = "\\u001b]0;pwned\\u0007\\u001b[31mred\\u001b[1A\\u009b2J\\u202egnp";
    for args in [
        &["documents"][..],
        &["query", "deployments", "--name", "musl"],
        &["query", "packages", "--name", "musl"],
        &["cra-report", "--deployment", HOSTILE],
        &["cra-report", "--deployment", HOSTILE, "--format", "html"],
        &["match", "--deployment", HOSTILE],
    ] {
        let out = aibomdb(&db, args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            stderr(&out)
        );
        let (text, err) = (stdout(&out), stderr(&out));
        assert_inert(&format!("{args:?}"), &text);
        assert_inert(&format!("{args:?} (stderr)"), &err);
        // Shown, not dropped: the name can still be read and searched for.
        if !args.contains(&"match") && !args.contains(&"html") {
            assert!(text.contains(shown), "{args:?}: {text}");
        }
    }
    // JSON keeps the exact name (serde_json escapes it as \u001b).
    let docs = json(&aibomdb(&db, &["documents", "--format", "json"]));
    assert_eq!(docs[0]["deployment"], HOSTILE);

    // Errors that echo what the user or a file gave: an unknown name, and a
    // broken document whose file name and content carry escapes.
    let out = aibomdb(&db, &["query", "deployment", &format!("{HOSTILE}x")]);
    assert_eq!(out.status.code(), Some(2));
    assert_inert("unknown deployment error", &stderr(&out));
    let bad = dir.path().join(format!("{HOSTILE}.json"));
    std::fs::write(
        &bad,
        format!(r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{{"type":"{HOSTILE}","name":1}}]}}"#),
    )
    .unwrap();
    let out = aibomdb(&db, &["ingest", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_inert("ingest error", &err);
    assert!(err.contains("\\u001b]0;pwned"), "{err}");
}

/// Runs a command whose stdout reader has gone before it writes anything.
fn with_stdout_closed(db: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aibomdb"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("AIBOMDB_DB")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_no_command_with_a_panic_or_another_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let osv = common::corpus().join("osv/pypa-advisory-database/vulns/pip/PYSEC-2023-228.yaml");
    let python = common::corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    for args in [
        &[
            "ingest",
            "--deployment",
            "image",
            example(TRIVY).to_str().unwrap(),
        ][..],
        &["ingest", "--deployment", "python", python.to_str().unwrap()],
        &["advisories", "load", osv.to_str().unwrap()],
    ] {
        let out = aibomdb(&db, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let trivy = example(TRIVY);
    let commands: &[&[&str]] = &[
        &["stats"],
        &["documents"],
        &["documents", "--format", "json"],
        &["query", "packages", "--name", "musl"],
        &["query", "deployments", "--name", "musl"],
        &["query", "deployment", "image"],
        &["query", "deployment", "image", "--format", "json"],
        &["query", "affected", "--advisory", "CVE-2023-5752"],
        &["query", "models"],
        &["match"],
        &["match", "--format", "sarif"],
        // Gates: tripped (pip's CVSS 3.3 is low) and passed.
        &["match", "--fail-on", "low"],
        &["match", "--fail-on", "medium"],
        &[
            "export",
            "--deployment",
            "image",
            "--format",
            "cyclonedx-1.6",
        ],
        &["export", "--deployment", "image", "--format", "spdx-2.3"],
        &["export", "--deployment", "python", "--format", "openvex"],
        &["cra-report", "--deployment", "image"],
        &["cra-report", "--deployment", "image", "--format", "html"],
        &["schema"],
        &[
            "ingest",
            "--stream",
            "--deployment",
            "again",
            trivy.to_str().unwrap(),
        ],
    ];
    for args in commands {
        let read = aibomdb(&db, args);
        assert!(!stdout(&read).is_empty(), "{args:?} prints something");
        let (code, err) = with_stdout_closed(&db, args);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(code, read.status.code(), "{args:?}: {err}");
    }
    assert_eq!(
        with_stdout_closed(&db, &["match", "--fail-on", "low"]).0,
        Some(1)
    );
    assert_eq!(
        with_stdout_closed(&db, &["match", "--fail-on", "medium"]).0,
        Some(0)
    );
    // The streamed ingest still wrote its document.
    let docs = json(&aibomdb(
        &db,
        &["documents", "--deployment", "again", "--format", "json"],
    ));
    assert_eq!(docs.as_array().unwrap().len(), 1);
}
