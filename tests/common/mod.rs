//! Shared helpers for the end-to-end tests.
#![allow(dead_code, unreachable_pub)]

pub mod api;
pub mod estate;
pub mod models;
pub mod osv_export;
pub mod releases;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every record of the PyPA advisory database in the corpus, as loaded.
pub fn pypa_records() -> Vec<aibomdb_osv::Advisory> {
    let pypa = aibomdb_osv::load_path(
        &corpus().join("osv/pypa-advisory-database"),
        &aibomdb_osv::LoadLimits::default(),
    )
    .unwrap();
    pypa.advisories.into_iter().map(|(_, a)| a).collect()
}

/// The shared corpus (`../shared/corpus` beside the repository), or
/// `$AIBOMDB_CORPUS`. A missing corpus fails the test: it is never skipped.
pub fn corpus() -> PathBuf {
    let dir = std::env::var_os("AIBOMDB_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    assert!(
        dir.join("formats").is_dir(),
        "test corpus not found at {} (set AIBOMDB_CORPUS)",
        dir.display()
    );
    dir
}

pub fn aibomdb(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aibomdb"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("AIBOMDB_DB")
        .output()
        .expect("run aibomdb")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The JSON a successful command printed (the test fails on a non-zero exit).
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// Logical content of a store: equal before and after means nothing was
/// written (comparable only with a fingerprint of the same back end).
pub fn fingerprint(db: &Path) -> u64 {
    open(db).content_fingerprint().unwrap()
}

/// The store a test names, on whichever back end: a redb file, or the
/// PostgreSQL database of a [`TestDb`].
pub fn open(db: &Path) -> aibomdb_store::Store {
    match db.to_str().filter(|d| d.starts_with("postgresql://")) {
        Some(url) => aibomdb_store::Store::from_backend(Box::new(
            aibomdb_store_pg::PgStore::open(url).unwrap(),
        )),
        None => aibomdb_store::Store::open(db).unwrap(),
    }
}

/// Every byte a store keeps, to show that something (a secret) is not among
/// them: the redb file; or a `pg_dump` of the database with every `bytea`
/// value decoded back to its bytes beside the dump's text.
pub fn stored_bytes(db: &Path) -> Vec<u8> {
    let Some(url) = db.to_str().filter(|d| d.starts_with("postgresql://")) else {
        return std::fs::read(db).unwrap();
    };
    let bin = std::env::var("AIBOMDB_TEST_PG_BIN").expect("run under scripts/with-postgres.sh");
    let out = Command::new(Path::new(&bin).join("pg_dump"))
        .args(["--no-owner", "-d", url])
        .output()
        .expect("run pg_dump");
    assert!(out.status.success(), "pg_dump: {}", stderr(&out));
    let mut bytes = out.stdout.clone();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for run in text.split("\\x").skip(1) {
        let hex: String = run.chars().take_while(char::is_ascii_hexdigit).collect();
        for pair in hex.as_bytes().chunks(2) {
            if let Ok(b) = u8::from_str_radix(std::str::from_utf8(pair).unwrap_or(""), 16) {
                bytes.push(b);
            }
        }
        bytes.push(0);
    }
    bytes
}

/// A test's store: `s.redb` in its directory, or, when the suite runs with
/// `AIBOMDB_TEST_BACKEND=postgres` (the README's test command runs the
/// end-to-end tests both ways), a database of its own on the cluster
/// `scripts/with-postgres.sh` started, dropped at the end. Used as a `&Path`
/// (`--db` takes either).
pub enum TestDb {
    File(PathBuf),
    Postgres(pg::Database),
}

pub fn db(dir: &tempfile::TempDir) -> TestDb {
    db_in(dir.path())
}

/// [`db`] for a directory given by its path.
pub fn db_in(dir: &Path) -> TestDb {
    match std::env::var("AIBOMDB_TEST_BACKEND").as_deref() {
        Ok("postgres") => TestDb::Postgres(pg::Database::new()),
        Ok("redb") | Err(_) => TestDb::File(dir.join("s.redb")),
        Ok(other) => panic!("AIBOMDB_TEST_BACKEND={other}: redb or postgres"),
    }
}

/// Whether this run's stores are PostgreSQL databases.
pub fn on_postgres() -> bool {
    std::env::var("AIBOMDB_TEST_BACKEND").as_deref() == Ok("postgres")
}

impl std::ops::Deref for TestDb {
    type Target = Path;

    fn deref(&self) -> &Path {
        match self {
            TestDb::File(path) => path,
            TestDb::Postgres(db) => Path::new(&db.url),
        }
    }
}

impl AsRef<Path> for TestDb {
    fn as_ref(&self) -> &Path {
        self
    }
}

/// Databases on the test cluster.
pub mod pg {
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh database, dropped at the end.
    pub struct Database {
        pub name: String,
        pub url: String,
    }

    pub fn admin_url() -> String {
        std::env::var("AIBOMDB_TEST_DB_URL").expect(
            "AIBOMDB_TEST_DB_URL is not set: run the tests under scripts/with-postgres.sh (the README's test command does)",
        )
    }

    pub fn psql(url: &str, sql: &str) -> String {
        let psql = std::env::var("AIBOMDB_TEST_PSQL").unwrap_or_else(|_| "psql".into());
        let out = Command::new(psql)
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", url, "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    impl Database {
        pub fn new() -> Database {
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
            Database { name, url }
        }

        pub fn sql(&self, sql: &str) -> String {
            psql(&self.url, sql)
        }

        /// `aibomdb --db URL ARGS…`.
        pub fn run(&self, args: &[&str]) -> std::process::Output {
            super::aibomdb(std::path::Path::new(&self.url), args)
        }

        /// `aibomdb migrate --format json EXTRA…`, which must succeed.
        pub fn migrate_json(&self, extra: &[&str]) -> serde_json::Value {
            let mut args = vec!["migrate", "--format", "json"];
            args.extend_from_slice(extra);
            super::json(&self.run(&args))
        }
    }

    impl Drop for Database {
        fn drop(&mut self) {
            psql(
                &admin_url(),
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            );
        }
    }
}

/// A running `aibomdb serve` on a free loopback port, killed on drop.
pub struct Server {
    child: std::process::Child,
    pub addr: String,
}

impl Server {
    pub fn start(db: &Path, extra: &[&str]) -> Server {
        Self::spawn(db, extra, &[], None)
    }

    /// As `start`, with these environment variables set (the token variables
    /// are otherwise removed).
    pub fn start_with_env(db: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::spawn(db, extra, env, None)
    }

    /// Started with `TMPDIR` set, so a test can see every file the server
    /// writes to temporary directories (uploads).
    pub fn start_with_tmpdir(db: &Path, extra: &[&str], tmpdir: Option<&Path>) -> Server {
        Self::spawn(db, extra, &[], tmpdir)
    }

    fn spawn(db: &Path, extra: &[&str], env: &[(&str, &str)], tmpdir: Option<&Path>) -> Server {
        use std::io::BufRead;
        let mut command = Command::new(env!("CARGO_BIN_EXE_aibomdb"));
        if let Some(t) = tmpdir {
            command.env("TMPDIR", t);
        }
        let mut child = command
            .arg("--db")
            .arg(db)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("AIBOMDB_DB")
            .env_remove("AIBOMDB_WRITE_TOKEN")
            .env_remove("AIBOMDB_READ_TOKEN")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start aibomdb serve");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// The server's process id (to read its memory use).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server (the store file is free again afterwards).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection; returns (status, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP header in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// POST /graphql; returns (HTTP status, response JSON).
pub fn graphql(
    addr: &str,
    token: Option<&str>,
    query: &str,
    variables: serde_json::Value,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"query": query, "variables": variables}).to_string();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let (status, body) = http(addr, "POST", "/graphql", &headers, body.as_bytes());
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
    (status, value)
}

/// Runs one of the independent validators in tests/helpers (Python tools
/// from PyPI, installed by scripts/test-deps.sh); returns its JSON verdict.
#[allow(dead_code)]
pub fn validator(helper: &str, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/helpers")
        .join(helper);
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "validator crashed (run scripts/test-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
