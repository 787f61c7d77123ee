//! Crash consistency: `aibomdb ingest` of GUAC's 94 real SBOMs is killed with
//! SIGKILL at random points (after a random number of reported commits plus
//! a random delay, so kills land inside transactions too), 20 times by
//! default (`AIBOMDB_CRASH_ITERATIONS` for longer runs). After each kill the
//! store must open, every document the child reported committed must be
//! there whole, and no document may be partial: its package and edge rows
//! must match the counts its record states.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use aibomdb_store::Store;
use common::corpus;

/// xorshift64*: a fixed seed makes every run kill at the same points.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// (document id, packages, edges) as the child reported them.
type Reported = (u64, u64, u64);

#[test]
fn sigkill_during_ingest_leaves_only_whole_documents() {
    let iterations: usize = std::env::var("AIBOMDB_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let inputs = corpus().join("external/guac-data");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    let mut rng = Rng(0x00C0_FFEE_2026);
    let mut reported: Vec<Reported> = Vec::new();
    let mut interrupted = 0;
    for i in 0..iterations {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aibomdb"))
            .arg("--db")
            .arg(&db)
            .args(["ingest", "--stream", "--deployment", &format!("crash-{i}")])
            .arg(&inputs)
            .env_remove("AIBOMDB_DB")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn aibomdb");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let wait_for = rng.below(8);
        let mut lines = Vec::new();
        while (lines.len() as u64) < wait_for {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(150_000)));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        if !finished && lines.len() < 94 {
            interrupted += 1;
        }
        for l in &lines {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            if v["status"] == "ingested" {
                reported.push((
                    v["document"].as_u64().unwrap(),
                    v["packages"].as_u64().unwrap(),
                    v["edges"].as_u64().unwrap(),
                ));
            }
        }
        check(&db, &reported);
    }
    assert!(
        interrupted * 2 >= iterations,
        "only {interrupted} of {iterations} runs were cut short"
    );
    assert!(
        !reported.is_empty(),
        "no run committed anything before its kill"
    );
}

fn check(db: &std::path::Path, reported: &[Reported]) {
    let store = Store::open(db).expect("the store opens after a kill");
    let documents = store.documents().unwrap();
    for &(id, packages, edges) in reported {
        let doc = documents
            .iter()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("document {id} was reported committed but is missing"));
        assert_eq!(doc.package_count, packages, "document {id}");
        assert_eq!(doc.edge_count, edges, "document {id}");
    }
    for doc in &documents {
        let rows = store.document_packages(doc.id).unwrap().len() as u64;
        let subject = u64::from(doc.subject_package.is_some());
        assert_eq!(
            rows,
            doc.package_count + subject,
            "document {} is partial",
            doc.id
        );
        assert_eq!(
            store.document_edges(doc.id).unwrap().len() as u64,
            doc.edge_count,
            "document {} has partial edges",
            doc.id
        );
        assert!(
            store
                .deployment_documents(&doc.deployment)
                .unwrap()
                .contains(&doc.id),
            "document {} is not filed under its deployment",
            doc.id
        );
    }
}
