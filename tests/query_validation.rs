//! Questions are validated like documents: a version range that no ordering
//! it is applied to can read is a usage error (CLI exit 2, a GraphQL error
//! naming the argument), never an empty answer; a purl without a version
//! means every version, and the answer says so; whatever an answer leaves out
//! is named in the answer itself (`notes`), not only on stderr.

mod common;

use aibomdb_query::{QueryError, Target};
use common::{Server, aibomdb, corpus, graphql, json, stderr, stdout};
use proptest::prelude::*;
use serde_json::{Value, json};

const UV: &str = "dev/sboms/uv-export_a-finetune_cdx1.5.json";
const CDXPY: &str = "dev/sboms/cyclonedx-py_requirements_a-finetune_cdx1.6.json";

/// Two deployments holding transformers 5.23.0; the uv export's own project is
/// `pkg:generic/a-finetune@0.1.0` (a purl type without a version ordering).
fn store(temp: &tempfile::TempDir) -> common::TestDb {
    let db = common::db(temp);
    for (file, deployment) in [(UV, "finetune-uv"), (CDXPY, "finetune-pip")] {
        let out = aibomdb(
            &db,
            &[
                "ingest",
                corpus().join(file).to_str().unwrap(),
                "--deployment",
                deployment,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    db
}

#[test]
fn malformed_range_is_a_usage_error_in_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    for (what, extra) in [
        (
            "packages",
            &["--name", "transformers", "--version-range", "<<4"][..],
        ),
        (
            "deployments",
            &["--name", "transformers", "--version-range", "<<4"],
        ),
        (
            "deployments",
            &["--name", "transformers", "--version-range", ">=4,<<5"],
        ),
        // Nothing by that name: the range is still checked.
        (
            "packages",
            &["--name", "no-such-package", "--version-range", "<<4"],
        ),
        // `~=` is PEP 440 only: refused when the question is about npm.
        (
            "packages",
            &[
                "--name",
                "transformers",
                "--ecosystem",
                "npm",
                "--version-range",
                "~=4.3",
            ],
        ),
    ] {
        for format in ["table", "json"] {
            let mut args = vec!["query", what];
            args.extend(extra);
            args.extend(["--format", format]);
            let out = aibomdb(&db, &args);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
            let err = stderr(&out);
            assert!(
                err.contains("--version-range") && err.contains("cannot be read"),
                "{args:?}: {err}"
            );
        }
    }
    // A well-formed range still answers.
    let ok = json(&aibomdb(
        &db,
        &[
            "query",
            "packages",
            "--name",
            "transformers",
            "--version-range",
            "<6",
            "--format",
            "json",
        ],
    ));
    assert_eq!(ok["packages"].as_array().unwrap().len(), 1, "{ok}");
    assert_eq!(ok["notes"], json!([]), "{ok}");
}

#[test]
fn versionless_purl_means_every_version_in_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let ask = |purl: &str| {
        json(&aibomdb(
            &db,
            &["query", "deployments", "--purl", purl, "--format", "json"],
        ))
    };
    let every = ask("pkg:pypi/transformers");
    let exact = ask("pkg:pypi/transformers@5.23.0");
    assert_eq!(every["hits"], exact["hits"]);
    assert_eq!(every["total"], 2, "{every}");
    assert_eq!(exact["notes"], json!([]));
    let note = every["notes"][0].as_str().unwrap();
    assert!(
        note.contains("has no version")
            && note.contains("every version")
            && note.contains("5.23.0"),
        "{note}"
    );
    // The table says it too, below the answer.
    let out = aibomdb(
        &db,
        &["query", "deployments", "--purl", "pkg:pypi/transformers"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("note: pkg:pypi/transformers has no version"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("finetune-uv"), "{}", stdout(&out));
}

#[test]
fn what_a_range_left_out_is_in_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    // `pkg:generic` has no ordering: the package is left out, and said so.
    let answer = json(&aibomdb(
        &db,
        &[
            "query",
            "packages",
            "--name",
            "a-finetune",
            "--version-range",
            "<1",
            "--format",
            "json",
        ],
    ));
    assert_eq!(answer["packages"], json!([]), "{answer}");
    let notes: Vec<&str> = answer["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 1, "{answer}");
    assert!(
        notes[0].contains("1 generic package(s) left out")
            && notes[0].contains("no version ordering"),
        "{notes:?}"
    );
    let hits = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--name",
            "a-finetune",
            "--version-range",
            "<1",
            "--format",
            "json",
        ],
    ));
    assert_eq!(hits["notes"], answer["notes"], "{hits}");
}

#[test]
fn graphql_validates_questions_and_carries_notes() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let server = Server::start(&db, &[]);
    for query in [
        r#"{deploymentsUsing(name: "transformers", versionRange: "<<4.38"){totalCount}}"#,
        r#"{packages(name: "transformers", versionRange: "<<4.38"){totalCount}}"#,
        r#"{packages(name: "no-such-package", versionRange: ">=1,<<2"){totalCount}}"#,
    ] {
        let (status, v) = graphql(&server.addr, None, query, json!({}));
        assert_eq!(status, 200, "{v}");
        let e = &v["errors"][0];
        assert_eq!(e["extensions"]["code"], "BAD_INPUT", "{v}");
        assert_eq!(e["extensions"]["argument"], "versionRange", "{v}");
        assert!(
            e["locations"][0]["line"].is_u64() && e["path"].is_array(),
            "{v}"
        );
        assert!(e["message"].as_str().unwrap().contains("<<"), "{v}");
        assert_eq!(v["data"], Value::Null, "{v}");
    }
    let (status, v) = graphql(
        &server.addr,
        None,
        r#"{every: deploymentsUsing(purl: "pkg:pypi/transformers"){totalCount notes}
            exact: deploymentsUsing(purl: "pkg:pypi/transformers@5.23.0"){totalCount notes}
            generic: packages(name: "a-finetune", versionRange: "<1"){totalCount notes unordered}}"#,
        json!({}),
    );
    assert_eq!(status, 200, "{v}");
    assert!(v.get("errors").is_none(), "{v}");
    let d = &v["data"];
    assert_eq!(d["every"]["totalCount"], 2, "{v}");
    assert_eq!(d["exact"]["totalCount"], 2, "{v}");
    assert_eq!(d["exact"]["notes"], json!([]), "{v}");
    assert!(
        d["every"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("every version is counted (5.23.0)"),
        "{v}"
    );
    assert_eq!(d["generic"]["totalCount"], 0, "{v}");
    assert!(
        d["generic"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("left out"),
        "{v}"
    );
    assert_eq!(
        d["generic"]["unordered"].as_array().unwrap().len(),
        1,
        "{v}"
    );
}

/// Ranges no version scheme can read: a doubled or reversed operator, an
/// operator without a version, or a character no version has.
fn invalid_range() -> impl Strategy<Value = String> {
    let version = "[0-9]{1,3}(\\.[0-9]{1,3}){0,2}";
    let op = prop::sample::select(vec!["", "<", ">", "<=", ">=", "==", "!="]);
    let bad_op = prop::sample::select(vec![
        "<<", ">>", "=<", "=>", "<>", "><", "!<", "=!", "<==", "!!",
    ]);
    let junk = prop::sample::select(vec![
        "@", "(", ")", "#", "$", "%", "&", "/", "\\", "|", "x y", "x\ty", "?", "[", "'",
    ]);
    let one_bad = prop_oneof![
        (bad_op.clone(), version).prop_map(|(o, v)| format!("{o}{v}")),
        op.clone()
            .prop_filter("operator", |o| !o.is_empty())
            .prop_map(|o| o.to_string()),
        (op.clone(), version, junk.clone()).prop_map(|(o, v, j)| format!("{o}{v}{j}")),
        (op.clone(), junk, version).prop_map(|(o, j, v)| format!("{o}{j}{v}")),
    ];
    // Among well-formed comparators, anywhere in the list.
    (
        prop::collection::vec((op, version).prop_map(|(o, v)| format!("{o}{v}")), 0..3),
        one_bad,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut parts, bad, at)| {
            let i = at.index(parts.len() + 1);
            parts.insert(i, bad);
            parts.join(",")
        })
}

#[test]
fn no_invalid_range_yields_an_empty_success() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let store = common::open(&db);
    proptest!(ProptestConfig::with_cases(512), |(text in invalid_range())| {
        // Syntax the parser already refuses is refused: fine. Otherwise every
        // question with that range must be refused as a bad range.
        let Ok(range) = text.parse() else { return Ok(()) };
        for (name, ecosystem) in [("transformers", None), ("a-finetune", None), ("no-such-package", None), ("transformers", Some("npm"))] {
            let packages = aibomdb_query::packages(&store, name, ecosystem, Some(&range));
            prop_assert!(matches!(packages, Err(QueryError::BadRange(_))), "{text:?} on {name}: {packages:?}");
            let target = Target::Name { ecosystem: ecosystem.map(str::to_string), name: name.into(), range: Some(range.clone()) };
            let hits = aibomdb_query::deployments_using(&store, &target, false);
            prop_assert!(matches!(hits, Err(QueryError::BadRange(_))), "{text:?} on {name}: {hits:?}");
        }
    });
}
