//! The six lockfile formats of the shared corpus's `a-finetune` project.
//! Expected figures come from Python's `tomllib`/`json` and `re` on the files
//! themselves (commands in tests/COUNTS.md), never from aibomdb.

mod common;

use std::path::{Path, PathBuf};

use aibomdb_ingest::{Format, Limits, Prepared, prepare};

use common::{aibomdb, corpus, fingerprint, stderr};
use serde_json::Value;

fn lockfiles() -> PathBuf {
    corpus().join("dev/lockfiles/a-finetune")
}

fn load(rel: &str) -> Prepared {
    prepare(&lockfiles().join(rel), &Limits::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn package<'a>(p: &'a Prepared, key: &str) -> &'a aibomdb_graph::PackageFact {
    p.facts
        .packages
        .iter()
        .find(|f| f.key.as_ref().is_some_and(|k| k.as_str() == key))
        .unwrap_or_else(|| panic!("{key} not in {}", p.path.display()))
}

struct Case {
    file: &'static str,
    format: Format,
    /// Distinct (PEP 503 name, version) pairs, the project itself not counted.
    packages: usize,
    /// Entries as the file lists them.
    entries: usize,
    /// (purl key, a hash the file gives for it)
    hash: (&'static str, &'static str),
    hashes_of_it: Option<usize>,
}

#[test]
fn every_lockfile_ingests_with_counts_versions_and_hashes() {
    let cases = [
        Case {
            file: "uv/uv.lock",
            format: Format::UvLock,
            packages: 73,
            entries: 73,
            hash: (
                "pkg:pypi/torch@2.15.0",
                "e808b63d616a43b326e1a5677d45a2e5babe7a8ce27edb03ddb48e7dd9b6d663",
            ),
            hashes_of_it: Some(28),
        },
        Case {
            file: "poetry/poetry.lock",
            format: Format::PoetryLock,
            packages: 75,
            entries: 75,
            hash: (
                "pkg:pypi/transformers@5.23.0",
                "018e82fd07490ad5bb58414f65e31576033dc7f36bed10c574843f69b90991bf",
            ),
            hashes_of_it: None,
        },
        Case {
            file: "pdm/pdm.lock",
            format: Format::PdmLock,
            packages: 71,
            // cuda-toolkit is listed twice: plain and with its extras.
            entries: 72,
            hash: (
                "pkg:pypi/safetensors@0.8.0",
                "c554f85858e05226d3c2828e32395e677434685d6d94594a41643361c5e837f0",
            ),
            hashes_of_it: None,
        },
        Case {
            file: "uv/pylock.toml",
            format: Format::PyLock,
            packages: 73,
            entries: 73,
            hash: (
                "pkg:pypi/peft@0.21.2",
                "106ab6077ff72c54d21577f9af5970e34bac7582cb14209f7b2b511e322a4eae",
            ),
            hashes_of_it: None,
        },
        Case {
            file: "pdm/pylock.toml",
            format: Format::PyLock,
            packages: 71,
            entries: 71,
            hash: (
                "pkg:pypi/peft@0.21.2",
                "106ab6077ff72c54d21577f9af5970e34bac7582cb14209f7b2b511e322a4eae",
            ),
            hashes_of_it: None,
        },
        Case {
            file: "pip-lock/pylock.toml",
            format: Format::PyLock,
            packages: 69,
            entries: 69,
            hash: (
                "pkg:pypi/peft@0.21.2",
                "106ab6077ff72c54d21577f9af5970e34bac7582cb14209f7b2b511e322a4eae",
            ),
            // pip lock records one wheel per package.
            hashes_of_it: Some(1),
        },
        Case {
            file: "pipenv/Pipfile.lock",
            format: Format::PipfileLock,
            packages: 69,
            entries: 69,
            hash: (
                "pkg:pypi/torch@2.15.0",
                "02ac0b22211c1984e5dc002d2e57fdbc13d32116537ea6ae1a0c9d07cafce0c9",
            ),
            hashes_of_it: Some(28),
        },
        Case {
            file: "pip-tools/requirements.txt",
            format: Format::RequirementsTxt,
            packages: 68,
            entries: 68,
            hash: (
                "pkg:pypi/cuda-toolkit@13.2.2",
                "d12edc1aad1356236a2ee10c0d794b1aff5d3e79bfeca54867c3bb8e5afd87b0",
            ),
            hashes_of_it: None,
        },
        Case {
            file: "uv/requirements.txt",
            format: Format::RequirementsTxt,
            packages: 73,
            entries: 73,
            hash: (
                "pkg:pypi/torch@2.15.0",
                "e808b63d616a43b326e1a5677d45a2e5babe7a8ce27edb03ddb48e7dd9b6d663",
            ),
            hashes_of_it: Some(28),
        },
    ];
    for c in &cases {
        let p = load(c.file);
        assert_eq!(p.format, c.format, "{}", c.file);
        assert_eq!(p.facts.component_count(), c.packages, "{} packages", c.file);
        assert_eq!(p.facts.entries_read, c.entries, "{} entries", c.file);
        let f = package(&p, c.hash.0);
        assert!(
            f.hashes
                .iter()
                .any(|h| h.alg == "sha256" && h.value == c.hash.1),
            "{}: {} lacks {}",
            c.file,
            c.hash.0,
            c.hash.1
        );
        if let Some(n) = c.hashes_of_it {
            assert_eq!(f.hashes.len(), n, "{} hashes of {}", c.file, c.hash.0);
        }
        // Every lockfile here comes from the private mirror index: the source is a fact.
        assert!(
            f.source
                .as_deref()
                .is_none_or(|s| s.contains("mirror.example")),
            "{}: {:?}",
            c.file,
            f.source
        );
    }
}

#[test]
fn uv_lock_graph_direct_dependencies_and_two_numpys() {
    let p = load("uv/uv.lock");
    let subject = p.facts.subject.as_ref().unwrap();
    assert_eq!(
        (subject.name.as_str(), subject.version.as_deref()),
        ("a-finetune", Some("0.1.0"))
    );
    let direct: Vec<&str> = p
        .facts
        .packages
        .iter()
        .filter(|f| f.direct == Some(true))
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        direct,
        [
            "accelerate",
            "datasets",
            "peft",
            "safetensors",
            "sentencepiece",
            "torch",
            "transformers"
        ]
    );
    // numpy is locked twice, split by Python version; both are kept and the
    // edges say which one under which marker.
    let numpy: Vec<_> = p
        .facts
        .packages
        .iter()
        .filter(|f| f.name == "numpy")
        .collect();
    assert_eq!(numpy.len(), 2);
    let accelerate = p
        .facts
        .packages
        .iter()
        .position(|f| f.name == "accelerate")
        .unwrap();
    let markers: Vec<(String, Option<String>)> = p
        .facts
        .dependencies
        .iter()
        .filter(|d| d.from == accelerate && p.facts.packages[d.to].name == "numpy")
        .map(|d| {
            (
                p.facts.packages[d.to].version.clone().unwrap(),
                d.marker.clone(),
            )
        })
        .collect();
    assert_eq!(
        markers,
        [
            (
                "2.4.6".to_string(),
                Some("python_full_version < '3.12'".to_string())
            ),
            (
                "2.5.5".to_string(),
                Some("python_full_version >= '3.12'".to_string())
            )
        ]
    );
    assert_eq!(
        package(&p, "pkg:pypi/torch@2.15.0").qualifiers,
        [(
            "repository_url".to_string(),
            "https://pypi.mirror.example/simple".to_string()
        )]
    );
}

#[test]
fn pip_compile_via_annotations_are_edges_and_direct_marks() {
    let p = load("pip-tools/requirements.txt");
    assert!(p.facts.tools.iter().any(|t| t.name == "pip-compile"));
    // `# via -r requirements.in` marks the seven direct requirements.
    let direct = p
        .facts
        .packages
        .iter()
        .filter(|f| f.direct == Some(true))
        .count();
    assert_eq!(direct, 7);
    // `# via torch` under cuda-toolkit: an edge torch → cuda-toolkit.
    let torch = p
        .facts
        .packages
        .iter()
        .position(|f| f.name == "torch")
        .unwrap();
    let cuda = p
        .facts
        .packages
        .iter()
        .position(|f| f.name == "cuda-toolkit")
        .unwrap();
    assert!(
        p.facts
            .dependencies
            .iter()
            .any(|d| d.from == torch && d.to == cuda)
    );
    // The extras stay with the pin.
    assert!(p.facts.packages[cuda].groups[0].starts_with("extras: cublas,cudart"));
    // `--find-links /opt/wheels` is reported, not dropped.
    assert!(
        p.facts
            .warnings
            .iter()
            .any(|w| w.contains("--find-links /opt/wheels")),
        "{:?}",
        p.facts.warnings
    );
}

#[test]
fn pipfile_lock_reads_the_pipfile_beside_it() {
    let p = load("pipenv/Pipfile.lock");
    let direct: Vec<&str> = p
        .facts
        .packages
        .iter()
        .filter(|f| f.direct == Some(true))
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(direct.len(), 7, "{direct:?}");
    let torch = package(&p, "pkg:pypi/torch@2.15.0");
    assert_eq!(torch.groups, ["default"]);
    assert_eq!(
        torch.source.as_deref(),
        Some("https://pypi.mirror.example/simple")
    );
}

fn ingest_all(db: &Path) {
    let out = aibomdb(
        db,
        &[
            "ingest",
            lockfiles().to_str().unwrap(),
            "--deployment",
            "a-finetune",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn all_formats_agree_and_the_deployment_explains_their_differences() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    ingest_all(&db);
    let store = common::open(&db);
    let docs = store.documents().unwrap();
    assert_eq!(docs.len(), 9);
    assert!(
        docs.iter().all(|d| d.is_current()),
        "lockfiles from different tools are parallel evidence"
    );
    // Every (name, version) present in two documents is one package node.
    let mut ids: std::collections::BTreeMap<String, u64> = Default::default();
    for d in &docs {
        for (p, _) in store.document_packages(d.id).unwrap() {
            let previous = ids.insert(p.key.clone(), p.id);
            assert!(
                previous.is_none_or(|id| id == p.id),
                "{} has two ids",
                p.key
            );
        }
    }
    drop(store);

    let out = aibomdb(
        &db,
        &["query", "deployment", "a-finetune", "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["packages"].as_array().unwrap().len(), 76);
    let gaps = report["gaps"].as_array().unwrap();
    let gap_of = |path_end: &str| {
        let id = docs
            .iter()
            .find(|d| d.source_path.ends_with(path_end))
            .unwrap()
            .id;
        gaps.iter()
            .find(|g| g["document"] == id)
            .map(|g| {
                g["missing"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        (
                            m["purl"].as_str().unwrap().to_string(),
                            m["reason"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    // pip-compile drops setuptools as "unsafe".
    let pip_tools = gap_of("pip-tools/requirements.txt");
    let setuptools = pip_tools
        .iter()
        .find(|(p, _)| p.starts_with("pkg:pypi/setuptools@"))
        .unwrap();
    assert!(setuptools.1.contains("unsafe"), "{setuptools:?}");
    // Single-platform resolvers leave out what other tools lock behind a
    // Windows or emscripten marker.
    let pip_lock = gap_of("pip-lock/pylock.toml");
    let colorama = pip_lock
        .iter()
        .find(|(p, _)| p == "pkg:pypi/colorama@0.4.6")
        .unwrap();
    assert!(
        colorama.1.contains("Windows") || colorama.1.contains("win32"),
        "{colorama:?}"
    );
    // Every difference has a stated reason; none is left unexplained.
    for g in gaps {
        for m in g["missing"].as_array().unwrap() {
            let reason = m["reason"].as_str().unwrap();
            assert!(!reason.starts_with("not listed by this document"), "{m}");
        }
    }
    // The full differences per format, for the record (printed on failure).
    let uv = gap_of("uv/uv.lock");
    assert_eq!(uv.len(), 3, "{uv:?}");
}

#[test]
fn broken_lockfiles_name_file_and_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    ingest_all(&db);
    let before = fingerprint(&db);
    let src = lockfiles();
    let read = |rel: &str| std::fs::read_to_string(src.join(rel)).unwrap();
    // Each case: a real lockfile with one fault put in, the file name it must
    // keep (detection looks at names for requirements files), and what the
    // error must say.
    let uv = read("uv/uv.lock");
    let first_package_line = uv.lines().position(|l| l == "[[package]]").unwrap() + 1;
    // The accelerate entry's own `name` line (counted here, 1-based).
    let accelerate_line = uv
        .lines()
        .position(|l| l == "name = \"accelerate\"")
        .unwrap()
        + 1;
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "syntax/uv.lock",
            uv.replacen("\nname = \"accelerate\"\n", "\nname = \"accelerate\n", 1),
            vec!["uv.lock:".into(), format!("line {accelerate_line},")],
        ),
        (
            "duplicate/uv.lock",
            uv.replacen(
                "\nname = \"accelerate\"\n",
                "\nname = \"accelerate\"\nname = \"accelerate\"\n",
                1,
            ),
            vec![
                "duplicate key".into(),
                format!("line {},", accelerate_line + 1),
            ],
        ),
        (
            "unknown-version/uv.lock",
            uv.replacen("version = 1\n", "version = 3\n", 1),
            vec![
                "field `version`".into(),
                "unknown lock version \"3\"".into(),
            ],
        ),
        (
            "poetry-version/poetry.lock",
            read("poetry/poetry.lock").replacen(
                "lock-version = \"2.1\"",
                "lock-version = \"7.0\"",
                1,
            ),
            vec![
                "metadata.lock-version".into(),
                "unknown lock version".into(),
            ],
        ),
        (
            "wrong-type/pdm.lock",
            read("pdm/pdm.lock").replacen(
                "name = \"accelerate\"\nversion = \"1.15.0\"",
                "name = \"accelerate\"\nversion = 1.15",
                1,
            ),
            vec!["package[0].version".into(), "invalid type".into()],
        ),
        (
            "pipfile/Pipfile.lock",
            read("pipenv/Pipfile.lock").replacen("\"pipfile-spec\": 6", "\"pipfile-spec\": 99", 1),
            vec!["_meta.pipfile-spec".into(), "unknown lock version".into()],
        ),
    ];
    assert_eq!(first_package_line, 16);
    for (rel, text, needles) in cases {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        let out = aibomdb(
            &db,
            &[
                "ingest",
                path.to_str().unwrap(),
                "--deployment",
                "a-finetune",
            ],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{rel}: {err}");
        assert!(err.contains(&path.display().to_string()), "{rel}: {err}");
        for n in &needles {
            assert!(err.contains(n.as_str()), "{rel} lacks {n:?}: {err}");
        }
        assert_eq!(fingerprint(&db), before, "{rel} changed the store");
    }
    // A requirements line pip refuses does not refuse the file: the line is
    // a warning naming it, every other pin is ingested.
    let path = dir.path().join("bad-line/requirements.txt");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        read("pip-tools/requirements.txt").replacen(
            "datasets==5.2.0 \\",
            "datasets===>5.2.0 \\",
            1,
        ),
    )
    .unwrap();
    let out = aibomdb(&db, &["ingest", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["packages"], 67, "{rows}");
    let notes = rows[0]["notes"].to_string();
    assert!(
        notes.contains("line 67: not a requirement pip reads"),
        "{notes}"
    );
}

/// Fixtures this project made with the real tools (tests/fixtures/lockfiles/make.sh).
fn fixture(rel: &str) -> Prepared {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lockfiles")
        .join(rel);
    prepare(&path, &Limits::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn edge_into<'a>(p: &'a Prepared, to: &str) -> Vec<&'a aibomdb_graph::DependencyFact> {
    p.facts
        .dependencies
        .iter()
        .filter(|d| p.facts.packages[d.to].name == to)
        .collect()
}

#[test]
fn uv_git_path_editable_marker_extra_and_dev_group() {
    let p = fixture("b-rag-service/uv/uv.lock");
    // tomllib: 26 [[package]] entries, one of them the project (virtual ".").
    assert_eq!(p.facts.component_count(), 25);
    assert_eq!(p.facts.subject.as_ref().unwrap().name, "b-rag-service");
    let tinylib = package(&p, "pkg:pypi/tinylib@1.0.0");
    assert_eq!(
        tinylib.source.as_deref(),
        Some("git+file:///tmp/gitsrc/tinylib@4dc4b6e39f9d8df38f70d81a55482ead20b59b0a")
    );
    assert_eq!(tinylib.qualifiers[0].0, "vcs_url");
    let shared = package(&p, "pkg:pypi/shared-utils@0.2.0");
    assert_eq!(shared.source.as_deref(), Some("editable:libs/shared-utils"));
    assert!(shared.flags.iter().any(|f| f.starts_with("editable")));
    assert_eq!(shared.direct, Some(true));
    // The Windows-only requirement keeps its marker on the project's edge.
    let colorama = edge_into(&p, "colorama");
    assert!(
        colorama
            .iter()
            .any(|d| d.marker.as_deref() == Some("sys_platform == 'win32'")),
        "{colorama:?}"
    );
    // numpy comes in through the `ml` extra, pytest through the `dev` group.
    assert!(
        edge_into(&p, "numpy")
            .iter()
            .any(|d| d.via_extra.as_deref() == Some("ml"))
    );
    let pytest = edge_into(&p, "pytest");
    assert!(pytest.iter().any(
        |d| d.via_extra.as_deref() == Some("dev") && d.scope == Some(aibomdb_graph::Scope::Dev)
    ));
    // tomllib: 47 wheels and one sdist.
    assert_eq!(package(&p, "pkg:pypi/pyyaml@6.0.3").hashes.len(), 48);
}

#[test]
fn uv_export_formats_keep_editable_and_git_entries() {
    let r = fixture("b-rag-service/uv/requirements.txt");
    // 25 requirement lines, `-e ./libs/shared-utils` among them.
    assert_eq!(r.facts.component_count(), 25);
    let editable = r
        .facts
        .packages
        .iter()
        .find(|f| f.name == "shared-utils")
        .unwrap();
    // Name and version from the project file in that directory.
    assert_eq!(editable.version.as_deref(), Some("0.2.0"));
    assert_eq!(
        editable.requested.as_deref(),
        Some("editable ./libs/shared-utils")
    );
    let tinylib = r
        .facts
        .packages
        .iter()
        .find(|f| f.name == "tinylib")
        .unwrap();
    assert_eq!(
        tinylib.source.as_deref(),
        Some("git+file:///tmp/gitsrc/tinylib@4dc4b6e39f9d8df38f70d81a55482ead20b59b0a")
    );
    let l = fixture("b-rag-service/uv/pylock.toml");
    assert_eq!(l.facts.component_count(), 25);
    let tinylib = package(&l, "pkg:pypi/tinylib@1.0.0");
    assert_eq!(
        tinylib.source.as_deref(),
        Some("git+file:///tmp/gitsrc/tinylib@4dc4b6e39f9d8df38f70d81a55482ead20b59b0a")
    );
    // PEP 751 gives a directory package no version: kept unpinned, not invented.
    let shared = package(&l, "pkg:pypi/shared-utils");
    assert_eq!(shared.source.as_deref(), Some("editable:libs/shared-utils"));
    assert_eq!(shared.requested.as_deref(), Some("no version locked"));
}

#[test]
fn poetry_1_8_lock_format() {
    let p = fixture("c-eval-harness/poetry-1.8/poetry.lock");
    assert_eq!(p.facts.spec_version, "2.0");
    assert!(
        p.facts
            .tools
            .iter()
            .any(|t| t.name == "Poetry" && t.version.as_deref() == Some("1.8.5"))
    );
    assert_eq!(p.facts.component_count(), 15);
    assert_eq!(p.facts.subject.as_ref().unwrap().name, "c-eval-harness");
    // pyproject's `pywin32 = { markers = "sys_platform == 'win32'" }` is on the edge.
    let pywin = edge_into(&p, "pywin32");
    assert_eq!(pywin.len(), 1);
    assert_eq!(pywin[0].marker.as_deref(), Some("sys_platform == 'win32'"));
    // 1.x `dev-dependencies`: pytest is a dev requirement of the project.
    assert!(
        edge_into(&p, "pytest")
            .iter()
            .any(|d| d.scope == Some(aibomdb_graph::Scope::Dev))
    );
    // Poetry 1.8 writes the legacy source per package.
    assert_eq!(
        package(&p, "pkg:pypi/pywin32@312").source.as_deref(),
        Some("https://pypi.mirror.example/simple")
    );
}

#[test]
fn requirements_include_chain() {
    // requirements.txt → -r requirements/prod.txt → -r base.txt (pip-compile output, 9 pins).
    let p = fixture("c-eval-harness/pip-tools/requirements.txt");
    assert_eq!(p.facts.component_count(), 9);
    assert!(
        p.facts
            .packages
            .iter()
            .any(|f| f.name == "requests" && f.direct == Some(true))
    );
    let dev = fixture("c-eval-harness/pip-tools/requirements/dev.txt");
    assert_eq!(dev.facts.component_count(), 13);
}

/// `-c` constraint includes are followed relative to the including file (a
/// nested include's `-c` from its own folder), read for reference and add no
/// packages; one that cannot be found is a warning on the document. The user
/// writes these files by hand around pip-compile's output, as make.sh does
/// for the `-r` chain; they are written here at run time.
#[test]
fn constraint_includes_are_followed_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lockfiles/c-eval-harness/pip-tools/requirements");
    let compiled = dir.path().join("requirements");
    std::fs::create_dir(&compiled).unwrap();
    for f in ["base.txt", "dev.txt"] {
        std::fs::copy(src.join(f), compiled.join(f)).unwrap();
    }
    let deploy = dir.path().join("deploy");
    std::fs::create_dir_all(deploy.join("nested")).unwrap();
    std::fs::write(
        deploy.join("requirements.txt"),
        "-c ../requirements/base.txt\n-r nested/app.txt\n-c missing-constraints.txt\nrequests==2.34.2\n",
    )
    .unwrap();
    // From nested/, `../../requirements` is the compiled folder and
    // `../requirements` is not (it would be, read from deploy/).
    std::fs::write(
        deploy.join("nested/app.txt"),
        "-c ../../requirements/dev.txt\n-c ../requirements/base.txt\nrich==15.0.0\n",
    )
    .unwrap();
    let p = prepare(&deploy.join("requirements.txt"), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    // base.txt pins 9 packages and dev.txt 13: none of them is added.
    let mut names: Vec<&str> = p.facts.packages.iter().map(|f| f.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["requests", "rich"]);
    assert_eq!(
        p.facts.warnings,
        [
            "line 1: constraints file ../requirements/base.txt read for reference, adds no packages",
            "nested/app.txt line 1: constraints file ../requirements/dev.txt read for reference, adds no packages",
            "nested/app.txt line 2: -c ../requirements/base.txt: file not found; its requirements are missing",
            "line 3: -c missing-constraints.txt: file not found; its requirements are missing",
        ]
    );
}
