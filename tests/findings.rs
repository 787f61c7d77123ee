//! Every model finding kind (crates/query/src/models.rs: `Finding.kind`)
//! asserted by kind and path, not by message text: each scenario's findings
//! are compared whole, so a finding of the wrong kind, a missing one or an
//! extra one fails, and together the scenarios produce every kind.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{aibomdb, corpus, json};
use serde_json::Value;

const KINDS: [&str; 11] = [
    "hash-mismatch",
    "no-reference",
    "not-present",
    "pickle-dangerous",
    "pickle-unknown",
    "pickle-error",
    "file-problem",
    "unsigned",
    "signature",
    "signature-mismatch",
    "unapproved",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/models")
        .join(name)
}

fn copy_dir(src: &Path, dst: &Path) -> PathBuf {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    dst.to_path_buf()
}

/// (kind, path) of every finding of the model `ingest-model` reports.
fn findings(db: &Path, dir: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["ingest-model", dir.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let out = json(&aibomdb(db, &args));
    kinds(&out["model"])
}

fn kinds(model: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = model["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The findings must be exactly `want`; their kinds are recorded as seen.
fn check(
    seen: &mut BTreeSet<String>,
    got: Vec<(String, String)>,
    want: &[(&str, &str)],
    what: &str,
) {
    assert_eq!(got, pairs(want), "{what}");
    seen.extend(got.into_iter().map(|(k, _)| k));
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list
        .iter()
        .map(|(k, p)| (k.to_string(), p.to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_finding_kind_by_kind_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let mut seen = BTreeSet::new();

    // Pickles (make.sh, Python's pickle module), plus one importing a class
    // outside the allow-list, written here: protocol 2, GLOBAL
    // `mylib.tokenizers Vocab`, EMPTY_TUPLE, NEWOBJ, STOP.
    let zoo = copy_dir(&fixture("pickle-zoo"), &dir.path().join("zoo"));
    std::fs::write(
        zoo.join("vocab.pkl"),
        b"\x80\x02cmylib.tokenizers\nVocab\n)\x81.",
    )
    .unwrap();
    check(
        &mut seen,
        findings(&db, &zoo, &["--deployment", "zoo"]),
        &[
            ("pickle-dangerous", "eval.pkl"),
            ("pickle-dangerous", "popen.pt"),
            ("pickle-error", "garbage.pkl"),
            ("pickle-error", "truncated.ckpt"),
            ("pickle-unknown", "vocab.pkl"),
            // No SHA256SUMS, no LFS pointers: nothing to check any file against.
            ("no-reference", "benign.pth"),
            ("no-reference", "eval.pkl"),
            ("no-reference", "garbage.pkl"),
            ("no-reference", "popen.pt"),
            ("no-reference", "truncated.ckpt"),
            ("no-reference", "vocab.pkl"),
            ("unsigned", "-"),
        ],
        "pickle zoo",
    );

    // The checkpoint fixture: SHA256SUMS names a digest optimizer.pt does
    // not have (make.sh), training_args.bin is not listed, and both pickles
    // that import code are flagged.
    check(
        &mut seen,
        findings(
            &db,
            &fixture("checkpoint-pickle"),
            &["--deployment", "trainer"],
        ),
        &[
            ("hash-mismatch", "optimizer.pt"),
            ("no-reference", "training_args.bin"),
            ("pickle-dangerous", "pytorch_model.bin"),
            ("pickle-dangerous", "training_args.bin"),
            ("unsigned", "-"),
        ],
        "checkpoint",
    );

    // A Hub adapter repository holds only LFS pointers for its weights.
    let adapter = corpus().join("formats/huggingface/cognix-openmodel");
    let got = findings(
        &db,
        &adapter,
        &["--deployment", "chat", "--id", "cognix/openmodel"],
    );
    assert!(
        got.contains(&("not-present".into(), "adapter_model.safetensors".into())),
        "{got:?}"
    );
    assert!(
        got.iter()
            .all(|(k, _)| k == "not-present" || k == "no-reference"),
        "{got:?}"
    );
    seen.extend(got.into_iter().map(|(k, _)| k));

    // A safetensors file cut short: its header promises more than the file
    // holds. Without SHA256SUMS there is no reference either.
    let cut = copy_dir(&fixture("finetune-safetensors"), &dir.path().join("cut"));
    std::fs::remove_file(cut.join("SHA256SUMS")).unwrap();
    let weights = std::fs::read(cut.join("model.safetensors")).unwrap();
    std::fs::write(
        cut.join("model.safetensors"),
        &weights[..weights.len() - 64],
    )
    .unwrap();
    check(
        &mut seen,
        findings(&db, &cut, &["--deployment", "cut"]),
        &[
            ("file-problem", "model.safetensors"),
            ("no-reference", "model.safetensors"),
            ("unsigned", "-"),
        ],
        "cut safetensors",
    );

    // model-signing (the corpus's key-signed example, checked with its key):
    // a signed file changed, one deleted, one added unsigned.
    let key = corpus().join("formats/model-signing/keys/signing-key-pub.pem");
    let with_key = [
        "--deployment",
        "signed",
        "--signing-key",
        key.to_str().unwrap(),
    ];
    let signed = copy_dir(
        &corpus().join("formats/model-signing/v1.1.0-elliptic-key"),
        &dir.path().join("signed"),
    );
    std::fs::write(signed.join("signme-1"), b"changed").unwrap();
    std::fs::remove_file(signed.join("signme-2")).unwrap();
    std::fs::write(signed.join("notes.txt"), b"not signed").unwrap();
    check(
        &mut seen,
        findings(&db, &signed, &with_key),
        &[
            ("signature-mismatch", "signme-1"),
            ("signature-mismatch", "signme-2"),
            ("unsigned", "notes.txt"),
        ],
        "signed, verified",
    );
    // A bundle whose signed statement was altered (two base64 characters of
    // the payload swapped): the signature does not verify.
    let tampered = copy_dir(
        &corpus().join("formats/model-signing/v1.1.0-elliptic-key"),
        &dir.path().join("tampered"),
    );
    let sig = tampered.join("model.sig");
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(&sig).unwrap()).unwrap();
    let mut payload: Vec<char> = bundle["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap()
        .chars()
        .collect();
    payload.swap(40, 41);
    bundle["dsseEnvelope"]["payload"] = Value::String(payload.into_iter().collect());
    std::fs::write(&sig, bundle.to_string()).unwrap();
    let got = findings(&db, &tampered, &with_key);
    assert!(
        got.contains(&("signature".into(), "model.sig".into())),
        "{got:?}"
    );
    seen.extend(got.into_iter().map(|(k, _)| k));

    // Approval drift: approved bytes replaced by others of the same size.
    let approved = copy_dir(
        &fixture("finetune-safetensors"),
        &dir.path().join("approved"),
    );
    let out = json(&aibomdb(
        &db,
        &[
            "ingest-model",
            approved.to_str().unwrap(),
            "--deployment",
            "approved",
            "--id",
            "aibomdb-test/approved",
            "--format",
            "json",
        ],
    ));
    assert_eq!(kinds(&out["model"]), pairs(&[("unsigned", "-")]));
    let sha = out["model"]["info"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "model.safetensors")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let ok = aibomdb(
        &db,
        &[
            "approve",
            "--model",
            "aibomdb-test/approved",
            "--artifact-sha256",
            &sha,
            "--by",
            "alice",
        ],
    );
    assert!(ok.status.success(), "{}", common::stderr(&ok));
    let mut bytes = std::fs::read(approved.join("model.safetensors")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(approved.join("model.safetensors"), &bytes).unwrap();
    check(
        &mut seen,
        findings(
            &db,
            &approved,
            &["--deployment", "approved", "--id", "aibomdb-test/approved"],
        ),
        &[
            ("hash-mismatch", "model.safetensors"),
            ("unapproved", "model.safetensors"),
            ("unsigned", "-"),
        ],
        "approval drift",
    );

    assert_eq!(
        seen,
        KINDS.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>()
    );
}
