//! Requirements files as the tools write them, read by pip's rules:
//! fixtures made by pip-compile, `uv pip compile`, `uv export`, Poetry's
//! export plugin and `pipenv requirements` for one tiny project with every
//! line form (tests/fixtures/lockfiles/e-line-forms/make.sh). Each test
//! asserts the exact packages the file names.

mod common;

use std::path::{Path, PathBuf};

use aibomdb_ingest::{Limits, Prepared, prepare};
use common::{aibomdb, json, stdout};

fn forms() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/lockfiles/e-line-forms")
}

fn load(rel: &str) -> Prepared {
    prepare(&forms().join(rel), &Limits::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// (purl key, source as recorded, direct), sorted by key.
fn packages(p: &Prepared) -> Vec<(String, Option<String>, Option<bool>)> {
    let subject = p.facts.subject.as_ref().and_then(|s| s.package);
    let mut out: Vec<_> = p
        .facts
        .packages
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != subject)
        .map(|(_, f)| {
            (
                f.key.as_ref().unwrap().as_str().to_string(),
                f.source.clone(),
                f.direct,
            )
        })
        .collect();
    out.sort();
    out
}

fn keys(p: &Prepared) -> Vec<String> {
    packages(p).into_iter().map(|(k, _, _)| k).collect()
}

#[test]
fn pip_compile_and_uv_pip_compile_name_every_form() {
    // requirements.in: a pin, a local wheel, a local sdist, a URL to a
    // wheel, a git URL with #egg= and an editable directory.
    let expected = [
        "pkg:pypi/idna@3.10",
        "pkg:pypi/six@1.16.0",
        "pkg:pypi/tinygit",
        "pkg:pypi/tinylocal@0.3.0",
        "pkg:pypi/tinysdist@2.0",
        "pkg:pypi/tinywheel@1.0",
    ];
    for file in ["pip-compile.txt", "uv-pip-compile.txt"] {
        let p = load(file);
        assert_eq!(keys(&p), expected, "{file}");
        // Each is `# via -r requirements.in`: all direct.
        assert!(
            packages(&p).iter().all(|(_, _, d)| *d == Some(true)),
            "{file}"
        );
        let sources: Vec<Option<String>> = packages(&p).into_iter().map(|(_, s, _)| s).collect();
        assert_eq!(
            sources[1].as_deref(),
            Some(
                "https://files.mirror.example/packages/d9/5a/e7c31adbe875f2abbb91bd84cf2dc52d792b5a01506781dbcf25c91daf11/six-1.16.0-py2.py3-none-any.whl"
            ),
            "{file}"
        );
        assert_eq!(
            sources[3].as_deref(),
            Some("editable:./libs/tinylocal"),
            "{file}"
        );
    }
    // pip-compile writes the direct references as `name @ url` and keeps the
    // tag; uv resolves the tag to the commit and keeps local paths as given.
    let pip = packages(&load("pip-compile.txt"));
    assert_eq!(
        pip[2].1.as_deref(),
        Some("git+file:/tmp/w22-forms/gitsrc/tinygit@v1.0.0")
    );
    assert_eq!(
        pip[4].1.as_deref(),
        Some("path:/tmp/w22-forms/wheels/tinysdist-2.0.tar.gz")
    );
    let uv = packages(&load("uv-pip-compile.txt"));
    assert_eq!(
        uv[2].1.as_deref(),
        Some("git+file:///tmp/w22-forms/gitsrc/tinygit@d5509fa21e9c11dc6e65f25b13aaa6262490e058")
    );
    assert_eq!(
        uv[4].1.as_deref(),
        Some("path:./wheels/tinysdist-2.0.tar.gz")
    );
    assert_eq!(
        uv[5].1.as_deref(),
        Some("path:./wheels/tinywheel-1.0-py2.py3-none-any.whl")
    );
    // pip-compile wrote this machine's --find-links: said, not dropped.
    assert_eq!(
        load("pip-compile.txt").facts.warnings,
        [
            "line 7: --find-links /opt/wheels: packages may also come from there (not recorded per package)"
        ]
    );
    assert!(load("uv-pip-compile.txt").facts.warnings.is_empty());
}

#[test]
fn uv_export_editable_dot_is_the_subject() {
    for file in ["uv/requirements.txt", "uv/requirements-nohashes.txt"] {
        let p = load(file);
        let subject = p.facts.subject.as_ref().expect("subject");
        assert_eq!(
            (subject.name.as_str(), subject.version.as_deref()),
            ("formsapp", Some("0.1.0"))
        );
        assert_eq!(
            keys(&p),
            [
                "pkg:pypi/idna@3.10",
                "pkg:pypi/tinygit",
                "pkg:pypi/tinylocal@0.3.0"
            ],
            "{file}"
        );
        assert!(
            p.facts
                .packages
                .iter()
                .all(|f| f.name != "-" && f.name != ".")
        );
        assert!(
            p.facts.warnings.is_empty(),
            "{file}: {:?}",
            p.facts.warnings
        );
        // formsapp → each of its three dependencies.
        assert_eq!(p.facts.dependencies.len(), 3, "{file}");
    }
    let idna = load("uv/requirements.txt");
    let idna = idna
        .facts
        .packages
        .iter()
        .find(|f| f.name == "idna")
        .unwrap();
    assert_eq!(idna.hashes.len(), 2);
}

#[test]
fn poetry_export_editable_file_url_and_markers() {
    for file in [
        "poetry/requirements.txt",
        "poetry/requirements-nohashes.txt",
    ] {
        let p = load(file);
        // The editable is an absolute file URL (not read from here): named
        // after its directory, and the document says so.
        assert_eq!(
            keys(&p),
            [
                "pkg:pypi/idna@3.10",
                "pkg:pypi/tinygit",
                "pkg:pypi/tinylocal"
            ],
            "{file}"
        );
        assert_eq!(
            p.facts.warnings,
            ["line 1: tinylocal: no project file there to read; named after its directory"],
            "{file}"
        );
        let marker = |name: &str| {
            p.facts
                .packages
                .iter()
                .find(|f| f.name == name)
                .unwrap()
                .marker
                .clone()
        };
        for name in ["idna", "tinylocal", "tinygit"] {
            assert_eq!(
                marker(name).as_deref(),
                Some("python_full_version >= '3.11' and python_full_version < '4'"),
                "{file} {name}"
            );
        }
    }
}

#[test]
fn pipenv_requirements_editable_vcs_and_path() {
    for file in ["pipenv/requirements.txt", "pipenv/requirements-hashes.txt"] {
        let p = load(file);
        assert_eq!(
            packages(&p),
            [
                (
                    "pkg:pypi/idna@3.10".to_string(),
                    Some("https://pypi.mirror.example/simple".to_string()),
                    None
                ),
                (
                    "pkg:pypi/tinygit".to_string(),
                    Some("git+file:///tmp/w22-forms/gitsrc/tinygit@d5509fa21e9c11dc6e65f25b13aaa6262490e058".to_string()),
                    None
                ),
                (
                    "pkg:pypi/tinylocal@0.3.0".to_string(),
                    Some("editable:libs/tinylocal".to_string()),
                    None
                ),
            ],
            "{file}"
        );
        assert!(
            p.facts.warnings.is_empty(),
            "{file}: {:?}",
            p.facts.warnings
        );
    }
}

/// A line pip refuses is a warning on the document, shown by `ingest`, and
/// the rest of the file is ingested (exit 0). The bad lines are pip's own
/// test cases (tests/unit/test_req_file.py at pypa/pip
/// 6d309205789d368b2749d93fd6193d584811efd5: test_error_message,
/// test_parser_error, test_only_one_req_per_line), written at run time
/// around a real file.
#[test]
fn ingest_keeps_the_file_and_shows_each_refused_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = std::fs::read_to_string(forms().join("uv-pip-compile.txt")).unwrap();
    text.push_str("my-package=1.0\n--bogus\nreq1 req2\n");
    let file = dir.path().join("requirements.txt");
    std::fs::write(&file, &text).unwrap();
    std::fs::create_dir_all(dir.path().join("libs/tinylocal")).unwrap();
    std::fs::copy(
        forms().join("libs/tinylocal/pyproject.toml"),
        dir.path().join("libs/tinylocal/pyproject.toml"),
    )
    .unwrap();
    let db = dir.path().join("db.redb");
    let out = aibomdb(&db, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let printed = stdout(&out);
    for line in [15, 16, 17] {
        assert!(
            printed.contains(&format!("requirements.txt: line {line}: ")),
            "line {line} not reported:\n{printed}"
        );
    }
    let docs = json(&aibomdb(&db, &["documents", "--format", "json"]));
    assert_eq!(docs[0]["package_count"], 6, "{docs}");
    assert_eq!(docs[0]["warnings"].as_array().unwrap().len(), 3, "{docs}");
}

/// pip lock for a project with no dependencies writes PEP 751's inline-array
/// form with only the project in it: recognised as pylock.toml by content
/// (under any name), and the project entry is the subject, as uv.lock's root
/// entry is — one rule for every lock's own project entry.
#[test]
fn pip_lock_inline_array_and_its_own_project_entry() {
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("lock-of-solo.toml");
    std::fs::copy(forms().join("pip-lock-solo/pylock.toml"), &renamed).unwrap();
    for p in [
        load("pip-lock-solo/pylock.toml"),
        prepare(&renamed, &Limits::default()).unwrap(),
    ] {
        assert_eq!(p.format, aibomdb_ingest::Format::PyLock);
        assert!(keys(&p).is_empty(), "{:?}", keys(&p));
        let subject = p.facts.subject.as_ref().expect("subject");
        assert_eq!(subject.name, "solo");
    }
    // uv.lock: the project entry is the subject too (uv/uv.lock of formsapp).
    let uv = load("uv/uv.lock");
    assert_eq!(uv.facts.subject.as_ref().unwrap().name, "formsapp");
    assert_eq!(
        keys(&uv),
        [
            "pkg:pypi/idna@3.10",
            "pkg:pypi/tinygit@1.0.0",
            "pkg:pypi/tinylocal@0.3.0"
        ]
    );
}

/// A file named as a lock is read as that lock whatever its first lines
/// hold: a poetry.lock without Poetry's header and `[metadata]` is a
/// Poetry lock with a missing field, not "not a recognised document".
#[test]
fn a_lock_file_name_settles_its_format() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::read_to_string(forms().join("poetry/poetry.lock")).unwrap();
    let body: String = real
        .split("\n[metadata]")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = dir.path().join("poetry.lock");
    std::fs::write(&path, &body).unwrap();
    let err = prepare(&path, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            &err.kind,
            aibomdb_ingest::ErrorKind::Import {
                format: aibomdb_ingest::Format::PoetryLock,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("metadata"), "{err}");
    // The same bytes under another name are not taken for a lock.
    let other = dir.path().join("notes.lock");
    std::fs::write(&other, &body).unwrap();
    let err = prepare(&other, &Limits::default()).unwrap_err();
    assert!(err.is_unrecognised(), "{err}");
}
