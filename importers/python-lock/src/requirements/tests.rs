//! The requirements reader on whole files (pip's own cases where noted).

use super::*;

struct Files(Vec<(&'static str, &'static str)>);

impl Siblings for Files {
    fn read(&self, relative: &str) -> Option<Vec<u8>> {
        self.0
            .iter()
            .find(|(p, _)| *p == relative)
            .map(|(_, t)| t.as_bytes().to_vec())
    }
}

#[test]
fn continuation_hashes_extras_and_markers() {
    let text = "uvicorn[standard]==0.54.0 \\\n    --hash=sha256:AA \\\n    --hash=sha256:bb\n    # via app\nanyio==4.16.0 ; sys_platform != 'emscripten'\n    # via\n    #   uvicorn\n";
    let facts = import(text, &Files(vec![])).unwrap();
    let uv = &facts.packages[0];
    assert_eq!(uv.key.as_ref().unwrap().as_str(), "pkg:pypi/uvicorn@0.54.0");
    assert_eq!(uv.hashes.len(), 2);
    assert_eq!(uv.groups, ["extras: standard"]);
    assert_eq!(uv.direct, Some(true));
    let anyio = &facts.packages[1];
    assert_eq!(
        anyio.marker.as_deref(),
        Some("sys_platform != 'emscripten'")
    );
    assert_eq!(anyio.direct, Some(false));
    assert_eq!(facts.subject.as_ref().unwrap().name, "app");
    assert_eq!(facts.dependencies.len(), 2);
}

#[test]
fn includes_are_relative_to_the_including_file() {
    let files = Files(vec![
        ("sub/base.txt", "-r more/extra.txt\nrequests==2.31.0\n"),
        ("sub/more/extra.txt", "idna==3.7\n"),
    ]);
    let facts = import("-r sub/base.txt\nflask==3.0.0\n", &files).unwrap();
    let keys: Vec<&str> = facts
        .packages
        .iter()
        .map(|p| p.key.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "pkg:pypi/idna@3.7",
            "pkg:pypi/requests@2.31.0",
            "pkg:pypi/flask@3.0.0"
        ]
    );
}

#[test]
fn include_cycles_are_named_and_the_rest_kept() {
    // pip's test_recursive_requirements_file shape (tests/unit/
    // test_req_file.py, commit 6d309205789d368b2749d93fd6193d584811efd5):
    // each file includes the next, the last the first.
    let files = Files(vec![
        ("0.txt", "-r 1.txt\nsix==1.16.0\n"),
        ("1.txt", "-r 2.txt\n"),
        ("2.txt", "-r ./sub/../0.txt\nidna==3.10\n"),
    ]);
    let facts = import("-r 0.txt\nrequests==2.32.3\n", &files).unwrap();
    let names: Vec<&str> = facts.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["idna", "six", "requests"]);
    assert_eq!(
        facts.warnings,
        [
            "2.txt line 1: -r ./sub/../0.txt: 0.txt includes itself (0.txt → 1.txt → 2.txt → 0.txt); not read again"
        ]
    );
    // The same file included twice, not recursively, is read twice (pip
    // issue 13046, test_repeated_requirement_files).
    let files = Files(vec![("a.txt", "requests\n"), ("b.txt", "-r a.txt\n")]);
    let facts = import("-r a.txt\n-r b.txt\n", &files).unwrap();
    assert!(facts.warnings.is_empty(), "{:?}", facts.warnings);
    assert_eq!(facts.entries_read, 2);
}

#[test]
fn a_cycle_back_to_the_top_file_is_named_by_its_name() {
    struct Own(Files);
    impl Siblings for Own {
        fn read(&self, r: &str) -> Option<Vec<u8>> {
            self.0.read(r)
        }
        fn own_name(&self) -> Option<String> {
            Some("requirements.txt".into())
        }
    }
    let files = Own(Files(vec![("b.txt", "-r requirements.txt\nidna==3.10\n")]));
    let facts = import("six==1.16.0\n-r b.txt\n", &files).unwrap();
    assert_eq!(facts.packages.len(), 2);
    assert_eq!(
        facts.warnings,
        [
            "b.txt line 1: -r requirements.txt: requirements.txt includes itself (requirements.txt → b.txt → requirements.txt); not read again"
        ]
    );
}

#[test]
fn unpinned_and_editable_are_recorded() {
    let facts = import("torch>=2.4\n-e ./libs/mylib\n", &Files(vec![])).unwrap();
    assert_eq!(
        facts.warnings,
        ["line 2: mylib: no project file there to read; named after its directory"]
    );
    assert_eq!(facts.packages[0].requested.as_deref(), Some(">=2.4"));
    assert_eq!(
        facts.packages[0].key.as_ref().unwrap().as_str(),
        "pkg:pypi/torch"
    );
    assert_eq!(facts.packages[1].name, "mylib");
    assert_eq!(
        facts.packages[1].source.as_deref(),
        Some("editable:./libs/mylib")
    );
}

#[test]
fn a_bad_line_is_a_warning_and_the_rest_is_kept() {
    let facts = import(
        "requests==2.31.0\nthis is not pep 508 ==\nmy-package=1.0\n--bogus\npkg==1.0.0 --hash=somehash\nidna==3.7\n",
        &Files(vec![]),
    )
    .unwrap();
    let keys: Vec<&str> = facts
        .packages
        .iter()
        .map(|p| p.key.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(keys, ["pkg:pypi/requests@2.31.0", "pkg:pypi/idna@3.7"]);
    let lines: Vec<&str> = facts
        .warnings
        .iter()
        .map(|w| w.split(':').next().unwrap())
        .collect();
    // pip's own refusals (test_req_file.py, commit 6d30920…): a bad
    // specifier (test_error_message), an unknown option
    // (test_parser_error), a hash without its algorithm
    // (test_parser_offending_line).
    assert_eq!(
        lines,
        ["line 2", "line 3", "line 4", "line 5"],
        "{:?}",
        facts.warnings
    );
    assert!(facts.warnings[2].contains("no such option: --bogus"));
}

#[test]
fn nothing_readable_refuses_the_document_at_its_first_bad_line() {
    let err = import(
        "# header\nthis is not pep 508 ==\n--bogus\n",
        &Files(vec![]),
    )
    .unwrap_err();
    let ImportError::Syntax { line, message, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*line, 2);
    assert!(
        message.starts_with("not a requirement pip reads"),
        "{message}"
    );
}

#[test]
fn variables_expand_from_the_environment_given_and_unset_ones_are_named() {
    struct Env;
    impl Siblings for Env {
        fn read(&self, _: &str) -> Option<Vec<u8>> {
            None
        }
        fn var(&self, name: &str) -> Option<String> {
            (name == "TOKEN").then(|| "s3cret".into())
        }
    }
    let text =
        "tinygit @ git+https://${TOKEN}@git.example/o/tinygit@v1\n${INDEX_PKG}==1.0\nsix==1.16.0\n";
    let facts = import(text, &Env).unwrap();
    let git = &facts.packages[0];
    assert_eq!(git.name, "tinygit");
    // Expanded, and the credential it became is not recorded.
    assert_eq!(
        git.source.as_deref(),
        Some("git+https://****@git.example/o/tinygit@v1")
    );
    assert_eq!(facts.packages.len(), 2);
    assert_eq!(
        facts.warnings[0],
        "line 2: ${INDEX_PKG} is not set here: left as written, as pip leaves it"
    );
    assert!(
        facts.warnings[1].starts_with("line 2: not a requirement pip reads"),
        "{:?}",
        facts.warnings
    );
}

#[test]
fn per_requirement_options_as_pip() {
    // test_options_on_a_requirement_line and test_hash_options (pip
    // tests/unit/test_req_file.py, commit 6d30920…).
    let text = concat!(
        "SomeProject==1.0 --config-settings=\"yo3=yo4\" --config-settings \"yo1=yo2\"\n",
        "Other==2.0 -C yo=1 --global-option=--no-user-cfg\n",
        "Third==3.0 --hash=sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 ",
        "--hash=sha384:59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f ",
        "--hash=sha256:486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7\n",
    );
    let facts = import(text, &Files(vec![])).unwrap();
    assert!(facts.warnings.is_empty(), "{:?}", facts.warnings);
    assert_eq!(facts.packages.len(), 3);
    assert_eq!(facts.packages[2].hashes.len(), 3);
}

#[test]
fn editable_dot_is_the_project_never_a_package() {
    let files = Files(vec![(
        "pyproject.toml",
        "[project]\nname = \"formsapp\"\nversion = \"0.1.0\"\ndependencies = [\"idna\"]\n",
    )]);
    let facts = import("-e .\nidna==3.10\n", &files).unwrap();
    let keys: Vec<&str> = facts
        .packages
        .iter()
        .map(|p| p.key.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(keys, ["pkg:pypi/idna@3.10", "pkg:generic/formsapp@0.1.0"]);
    assert_eq!(facts.subject.as_ref().unwrap().name, "formsapp");
    assert_eq!(facts.packages[0].direct, Some(true));
    // Without a project file: still no package, and a warning says so.
    let facts = import("-e .\n", &Files(vec![])).unwrap();
    assert!(facts.packages.is_empty());
    assert!(
        facts.warnings[0].contains("is the project itself"),
        "{:?}",
        facts.warnings
    );
}

#[test]
fn recognised_by_name_and_content() {
    assert!(looks_like_requirements(
        "requirements.txt",
        "# c\nrequests==1\n"
    ));
    assert!(!looks_like_requirements("requirements.in", "requests\n"));
    assert!(!looks_like_requirements(
        "notes.txt",
        "Hello there, world\n"
    ));
    assert!(!looks_like_requirements("LICENSE", "MIT\n"));
}
