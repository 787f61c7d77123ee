//! Who may do what on the real `aibomdb serve`: the read token on every read
//! route, the write token on every mutation, tokens from flags, environment
//! variables and files, the `Host` check, the content type, the pages'
//! security headers, and a delete that leaves other deployments whole.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, fingerprint, graphql, http};
use serde_json::{Value, json};

const WRITER: &str = "access-write-token-0123456789";
const READER: &str = "access-read-token-0123456789";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A store with the shipped examples and the fine-tuned model fixture.
fn populated(temp: &tempfile::TempDir) -> common::TestDb {
    let db = common::db(temp);
    let out = common::aibomdb(&db, &["ingest", root().join("examples").to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let model = root().join("tests/fixtures/models/finetune-safetensors");
    let out = common::aibomdb(
        &db,
        &[
            "ingest-model",
            model.to_str().unwrap(),
            "--deployment",
            "classifier",
            "--id",
            "aibomdb-test/bert-imdb",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    db
}

const DOWNLOADS: [&str; 3] = [
    "/deployments/a-finetune/sbom.cdx.json",
    "/deployments/a-finetune/export/spdx-2.3",
    "/deployments/a-finetune/cra-report.html",
];

/// The six mutations with arguments that write when the write token is given.
fn mutations(a: &str) -> Vec<(&'static str, String, Value)> {
    use base64::Engine;
    let config =
        std::fs::read(root().join("tests/fixtures/models/finetune-safetensors/README.md")).unwrap();
    let record =
        read(&common::corpus().join("osv/pypa-advisory-database/vulns/pip/PYSEC-2023-228.yaml"));
    let (_, m) = graphql(
        a,
        Some(READER),
        r#"{model(purl:"pkg:huggingface/aibomdb-test/bert-imdb"){artifacts{path sha256}}}"#,
        json!({}),
    );
    let sha = m["data"]["model"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == "model.safetensors")
        .unwrap()["sha256"]
        .clone();
    vec![
        (
            "ingestDocument",
            "mutation($c:String!){ingestDocument(deployment:\"new\",fileName:\"alpine.spdx.json\",content:$c){status}}".into(),
            json!({"c": read(&root().join("examples/alpine-spdx-syft0.57.json"))}),
        ),
        (
            "ingestModel",
            "mutation($f:[ModelFileInput!]!){ingestModel(deployment:\"m\",name:\"bert\",files:$f){status}}".into(),
            json!({"f": [{"path": "README.md", "contentBase64": base64::engine::general_purpose::STANDARD.encode(config)}]}),
        ),
        (
            "loadAdvisories",
            "mutation($c:String!){loadAdvisories(content:$c,fileName:\"PYSEC-2023-228.yaml\"){added}}".into(),
            json!({"c": record}),
        ),
        (
            "setVex",
            r#"mutation{setVex(deployment:"a-finetune",advisory:"CVE-2023-5752",purl:"pkg:pypi/transformers@5.23.0",status:UNDER_INVESTIGATION){status}}"#.into(),
            json!({}),
        ),
        (
            "approveModel",
            "mutation($s:String!){approveModel(model:\"aibomdb-test/bert-imdb\",artifactSha256:$s,by:\"test\")}".into(),
            json!({"s": sha}),
        ),
        (
            "deleteDeployment",
            r#"mutation{deleteDeployment(name:"a-finetune")}"#.into(),
            json!({}),
        ),
    ]
}

#[test]
fn tokens_guard_every_read_route_and_every_mutation() {
    let dir = tempfile::tempdir().unwrap();
    let db = populated(&dir);
    let before = fingerprint(&db);
    let tokens = ["--write-token", WRITER, "--read-token", READER];
    let server = Server::start(&db, &tokens);
    let a = &server.addr;
    let wrong = "Bearer wrong-token-wrong-token-0";
    let reader = format!("bearer {READER}"); // the scheme in any case (RFC 7235)
    let writer = format!("BEARER {WRITER}");
    for path in DOWNLOADS {
        for auth in [None, Some(wrong)] {
            let headers: Vec<(&str, &str)> = auth.iter().map(|v| ("Authorization", *v)).collect();
            let (status, body) = http(a, "GET", path, &headers, b"");
            assert_eq!(
                status,
                401,
                "{path} {auth:?}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        for auth in [&reader, &writer] {
            let (status, _) = http(a, "GET", path, &[("Authorization", auth)], b"");
            assert_eq!(status, 200, "{path} {auth}");
        }
    }
    let (status, _) = http(
        a,
        "POST",
        "/graphql",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &reader),
        ],
        br#"{"query":"{deployments}"}"#,
    );
    assert_eq!(status, 200);

    let all = mutations(a);
    assert_eq!(all.len(), 6);
    for (name, query, variables) in &all {
        for token in [None, Some(READER), Some("wrong-token-wrong-token-0")] {
            let (status, v) = graphql(a, token, query, variables.clone());
            assert_eq!(status, 401, "{name} with {token:?}: {v}");
            assert_eq!(
                v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                "{name}: {v}"
            );
        }
    }
    server.stop();
    assert_eq!(
        fingerprint(&db),
        before,
        "a refused write changed the store"
    );

    // The same requests with the write token do write: the refusals above
    // were the token's doing, not bad arguments.
    let server = Server::start(&db, &tokens);
    for (name, query, variables) in mutations(&server.addr) {
        let (status, v) = graphql(&server.addr, Some(WRITER), &query, variables);
        assert_eq!(status, 200, "{name}: {v}");
        assert!(v.get("errors").is_none(), "{name}: {v}");
    }
    server.stop();
    assert_ne!(fingerprint(&db), before);
}

/// Runs `aibomdb serve` that is expected to refuse to start: its exit code
/// and stderr. Killed (and the test failed) if it serves instead.
fn refused_start(db: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aibomdb"))
        .arg("--db")
        .arg(db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("AIBOMDB_WRITE_TOKEN")
        .env_remove("AIBOMDB_READ_TOKEN")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code(), err);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("aibomdb serve {args:?} {env:?} started instead of refusing");
}

#[test]
fn tokens_from_flags_env_and_files_and_short_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = populated(&dir);
    let write_file = dir.path().join("write.token");
    let read_file = dir.path().join("read.token");
    std::fs::write(&write_file, format!("{WRITER}\n")).unwrap();
    std::fs::write(&read_file, format!("{READER}\n")).unwrap();
    let delete = r#"mutation{deleteDeployment(name:"nothing-here")}"#;

    // The write token from the environment, and from a file.
    for (args, env) in [
        (vec![], vec![("AIBOMDB_WRITE_TOKEN", WRITER)]),
        (
            vec!["--write-token-file", write_file.to_str().unwrap()],
            vec![],
        ),
    ] {
        let server = Server::start_with_env(&db, &args, &env);
        let (status, v) = graphql(&server.addr, Some(WRITER), delete, json!({}));
        assert_eq!(status, 200, "{args:?} {env:?}: {v}");
        assert_eq!(v["data"]["deleteDeployment"], false, "{v}");
        let (status, _) = graphql(&server.addr, None, delete, json!({}));
        assert_eq!(status, 401, "{args:?} {env:?}");
    }
    // The read token from the environment, and from a file.
    for (args, env) in [
        (vec![], vec![("AIBOMDB_READ_TOKEN", READER)]),
        (
            vec!["--read-token-file", read_file.to_str().unwrap()],
            vec![],
        ),
    ] {
        let server = Server::start_with_env(&db, &args, &env);
        let (status, _) = graphql(&server.addr, None, "{deployments}", json!({}));
        assert_eq!(status, 401, "{args:?} {env:?}");
        let (status, _) = graphql(&server.addr, Some(READER), "{deployments}", json!({}));
        assert_eq!(status, 200, "{args:?} {env:?}");
    }

    // Under 16 characters, from anywhere, is bad input (exit 2).
    let short_file = dir.path().join("short.token");
    std::fs::write(&short_file, "fifteen-chars-x\n").unwrap();
    let short = short_file.to_str().unwrap();
    for (args, env, which) in [
        (vec!["--write-token", "fifteen-chars-x"], vec![], "write"),
        (
            vec![],
            vec![("AIBOMDB_WRITE_TOKEN", "fifteen-chars-x")],
            "write",
        ),
        (vec!["--write-token-file", short], vec![], "write"),
        (vec!["--read-token", "fifteen-chars-x"], vec![], "read"),
        (
            vec![],
            vec![("AIBOMDB_READ_TOKEN", "fifteen-chars-x")],
            "read",
        ),
        (vec!["--read-token-file", short], vec![], "read"),
    ] {
        let (code, err) = refused_start(&db, &args, &env);
        assert_eq!(code, Some(2), "{args:?} {env:?}: {err}");
        assert!(
            err.contains(&format!("the {which} token must be at least 16 characters")),
            "{args:?} {env:?}: {err}"
        );
    }
}

/// One request with a free-form head; returns (status, head, body).
fn raw(addr: &str, head: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}

fn get(addr: &str, host: &str, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n"),
        b"",
    )
}

#[test]
fn host_content_type_and_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let db = populated(&dir);
    let server = Server::start(&db, &["--allow-host", "aibom.example"]);
    let a = &server.addr;
    let port = a.rsplit(':').next().unwrap();

    // DNS rebinding: a name that resolves here but is not ours is refused.
    for host in [format!("rebind.example:{port}"), "127.0.0.1".to_string()] {
        let (status, _, body) = get(a, &host, "/graphql", "");
        assert_eq!(status, 421, "{host}: {}", String::from_utf8_lossy(&body));
        let (status, _, _) = raw(
            a,
            &format!(
                "POST /graphql HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n"
            ),
            br#"{"query":"{deployments}"}"#,
        );
        assert_eq!(status, 421, "{host}");
    }
    for host in [
        a.to_string(),
        format!("localhost:{port}"),
        format!("AIBOM.example:{port}"),
    ] {
        assert_eq!(get(a, &host, "/healthz", "").0, 200, "{host}");
    }

    // Only JSON bodies are GraphQL requests (a form post is not).
    for (content_type, expected) in [
        (Some("text/plain"), 415),
        (Some("application/x-www-form-urlencoded"), 415),
        (None, 415),
        (Some("application/json; charset=utf-8"), 200),
    ] {
        let headers: Vec<(&str, &str)> =
            content_type.iter().map(|c| ("Content-Type", *c)).collect();
        let (status, body) = http(
            a,
            "POST",
            "/graphql",
            &headers,
            br#"{"query":"{deployments}"}"#,
        );
        assert_eq!(
            status,
            expected,
            "{content_type:?}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    // The pages: no framing, no sniffing, scripts only from this origin.
    for path in ["/", "/graphql"] {
        let (status, head, _) = get(a, a, path, "");
        assert_eq!(status, 200, "{path}");
        assert!(head.contains("x-frame-options: deny"), "{path}: {head}");
        assert!(
            head.contains("x-content-type-options: nosniff"),
            "{path}: {head}"
        );
        assert!(
            head.contains("content-security-policy: default-src 'self'; script-src 'self';"),
            "{path}: {head}"
        );
        assert!(head.contains("frame-ancestors 'none'"), "{path}: {head}");
    }
    let (status, head, _) = get(a, a, "/deployments/a-finetune/cra-report.html", "");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-security-policy: default-src 'none'; style-src 'unsafe-inline';"),
        "{head}"
    );
    assert!(
        head.contains("x-frame-options: deny") && head.contains("x-content-type-options: nosniff"),
        "{head}"
    );

    // GraphiQL comes from the binary: the page names no other origin, and
    // the vendored files are served (gzipped to browsers, plain otherwise).
    let (_, _, page) = get(a, a, "/graphql", "");
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("/graphiql/graphiql.min.js"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    let (status, head, gz) = get(
        a,
        a,
        "/graphiql/graphiql.min.js",
        "Accept-Encoding: gzip, br\r\n",
    );
    assert_eq!(status, 200);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(gz.starts_with(&[0x1f, 0x8b]));
    let (status, head, plain) = get(a, a, "/graphiql/graphiql.min.js", "");
    assert_eq!(status, 200);
    assert!(!head.contains("content-encoding"), "{head}");
    assert!(
        plain.len() > 3 * gz.len(),
        "{} vs {}",
        plain.len(),
        gz.len()
    );
    assert_eq!(get(a, a, "/graphiql/nothing.js", "").0, 404);
}

/// Deleting one deployment removes only what it alone held: a package and a
/// document shape it shares with another deployment stay whole there.
#[test]
fn delete_deployment_keeps_what_others_share() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let server = Server::start(&db, &["--write-token", WRITER]);
    let a = &server.addr;
    let alpine = read(&root().join("examples/alpine-spdx-syft0.57.json"));
    for d in ["first", "second"] {
        let (status, v) = graphql(
            a,
            Some(WRITER),
            "mutation($d:String!,$c:String!){ingestDocument(deployment:$d,fileName:\"alpine.spdx.json\",content:$c){status packages}}",
            json!({"d": d, "c": alpine}),
        );
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["data"]["ingestDocument"]["status"], "ingested", "{v}");
    }
    let ask = |q: &str| {
        let (status, v) = graphql(a, None, q, json!({}));
        assert_eq!(status, 200, "{v}");
        assert!(v.get("errors").is_none(), "{q}: {v}");
        v["data"].clone()
    };
    let second = r#"{deployment(name:"second"){packages(first:100){totalCount edges{node{purl listedBy}}}}}"#;
    let before = ask(second);
    assert_eq!(
        before["deployment"]["packages"]["totalCount"], 14,
        "{before}"
    );
    let (_, v) = graphql(
        a,
        Some(WRITER),
        r#"mutation{deleteDeployment(name:"first")}"#,
        json!({}),
    );
    assert_eq!(v["data"]["deleteDeployment"], true, "{v}");

    assert_eq!(ask("{deployments}")["deployments"], json!(["second"]));
    assert_eq!(ask(second), before, "the other deployment changed");
    let musl = ask(r#"{packages(name:"musl"){totalCount edges{node{purl deployments}}}}"#);
    assert_eq!(musl["packages"]["totalCount"], 1, "{musl}");
    assert_eq!(
        musl["packages"]["edges"][0]["node"]["deployments"],
        json!(["second"])
    );
    let hits =
        ask(r#"{deploymentsUsing(name:"musl"){totalCount edges{node{deployment path{id}}}}}"#);
    assert_eq!(hits["deploymentsUsing"]["totalCount"], 1, "{hits}");
    assert_eq!(
        hits["deploymentsUsing"]["edges"][0]["node"]["deployment"],
        "second"
    );
    let (status, bom) = http(a, "GET", "/deployments/second/sbom.cdx.json", &[], b"");
    assert_eq!(status, 200);
    let bom: Value = serde_json::from_slice(&bom).unwrap();
    let purls: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls.iter().any(|p| p.starts_with("pkg:apk/alpine/musl@")),
        "{purls:?}"
    );
}
