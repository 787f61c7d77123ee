//! Shared helpers for the end-to-end tests.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// Logical content of a store: equal before and after means nothing was written.
pub fn fingerprint(db: &Path) -> u64 {
    aibomdb_store::Store::open(db)
        .unwrap()
        .content_fingerprint()
        .unwrap()
}
