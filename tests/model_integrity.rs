//! Model integrity through the CLI: model-signing bundles and certificate
//! chains checked offline, pickles that would run code, a real TorchScript
//! archive, and approvals bound to file digests (fixtures made with
//! huggingface_hub, safetensors, Python's pickle and model-signing:
//! tests/fixtures/models/make.sh, and the corpus's model-signing examples).

mod common;

use std::path::{Path, PathBuf};

use common::models::{artifact, fixture, ingest_model};
use common::{aibomdb, corpus, fingerprint, json, stderr};
use serde_json::Value;

/// Copies a corpus model-signing example (read-only there) into `dir`.
fn signing_example(dir: &Path, name: &str, copy: &str) -> PathBuf {
    let src = corpus().join("formats/model-signing").join(name);
    let dst = dir.join(copy);
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        std::fs::write(dst.join(e.file_name()), std::fs::read(e.path()).unwrap()).unwrap();
    }
    dst
}

fn signing_key() -> String {
    corpus()
        .join("formats/model-signing/keys/signing-key-pub.pem")
        .to_str()
        .unwrap()
        .to_string()
}

fn signing_of(db: &Path, dir: &Path, key: bool) -> (Value, Vec<String>) {
    let pem = signing_key();
    let with_key = ["--signing-key", pem.as_str()];
    signing_with(db, dir, if key { &with_key } else { &[] })
}

fn signing_with(db: &Path, dir: &Path, extra: &[&str]) -> (Value, Vec<String>) {
    let mut args = vec![dir.to_str().unwrap(), "--deployment", "signed"];
    args.extend_from_slice(extra);
    let out = ingest_model(db, &args);
    let m = &out["model"];
    (
        m["info"]["signing"].clone(),
        m["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect(),
    )
}

#[test]
fn model_signing_bundles_are_checked_offline() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    // Key-signed (P-384): verified, both files covered, `ignore-me` ignored.
    let key_dir = signing_example(dir.path(), "v1.1.0-elliptic-key", "key");
    let (s, findings) = signing_of(&db, &key_dir, true);
    assert_eq!(s["status"], "verified");
    assert_eq!(s["method"], "key");
    assert_eq!(s["covered"], serde_json::json!(["signme-1", "signme-2"]));
    assert!(
        s["ignored"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "ignore-me")
    );
    assert_eq!(findings, Vec::<String>::new());
    // Without the key nothing is claimed.
    let (s, _) = signing_of(&db, &key_dir, false);
    assert_eq!(s["status"], "unverified (no key given)");
    // A file changed after signing, and one added.
    std::fs::write(key_dir.join("signme-1"), b"changed").unwrap();
    std::fs::write(key_dir.join("extra.safetensors"), b"not signed").unwrap();
    let (s, findings) = signing_of(&db, &key_dir, true);
    assert_eq!(s["status"], "verified");
    assert_eq!(s["differ"], serde_json::json!(["signme-1"]));
    assert_eq!(s["unsigned"], serde_json::json!(["extra.safetensors"]));
    assert!(
        findings
            .iter()
            .any(|f| f == "signme-1: differs from its signed digest")
    );
    // A bundle whose signed statement was altered: the signature fails.
    let tampered = signing_example(dir.path(), "v1.1.0-elliptic-key", "tampered");
    let sig_path = tampered.join("model.sig");
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(&sig_path).unwrap()).unwrap();
    let payload = bundle["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap()
        .to_string();
    // Swap two base64 characters of the payload (still valid base64).
    let mut chars: Vec<char> = payload.chars().collect();
    chars.swap(40, 41);
    bundle["dsseEnvelope"]["payload"] = Value::String(chars.into_iter().collect());
    std::fs::write(&sig_path, bundle.to_string()).unwrap();
    let (s, findings) = signing_of(&db, &tampered, true);
    assert_ne!(s["status"], "verified", "{s}");
    assert!(
        findings.iter().any(|f| f.starts_with("model.sig")),
        "{findings:?}"
    );
    // A signed file deleted: reported missing, and the model is flagged.
    let gone = signing_example(dir.path(), "v1.1.0-elliptic-key", "deleted");
    std::fs::remove_file(gone.join("signme-2")).unwrap();
    let (s, findings) = signing_of(&db, &gone, true);
    assert_eq!(s["status"], "verified");
    assert_eq!(s["missing"], serde_json::json!(["signme-2"]));
    assert_eq!(s["covered"], serde_json::json!(["signme-1"]));
    assert!(
        findings
            .iter()
            .any(|f| f == "signme-2: signed but not present")
    );
    // A key that is not a public key at all is not a pass either.
    let cert_as_key = corpus().join("formats/model-signing/keys/ca-cert.pem");
    let (s, _) = signing_with(
        &db,
        &key_dir,
        &["--signing-key", cert_as_key.to_str().unwrap()],
    );
    assert!(
        s["status"].as_str().unwrap().starts_with("unreadable"),
        "{s}"
    );
}

/// Certificate bundles (v1.1 and v0.2): the leaf (P-384) chains through the
/// bundle's intermediate to the root CA given (RSA-3072, sha256WithRSA
/// links), then signs the DSSE envelope. Keyless Sigstore: read, never
/// "verified", the claimed signer recorded.
/// 2026-01-01 and 2040-01-01, seconds since the Unix epoch.
const JAN_2026: &str = "1767225600";
const JAN_2040: &str = "2208988800";

#[test]
fn certificate_chains_are_checked_and_keyless_signers_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let keys = corpus().join("formats/model-signing/keys");
    let root = keys.join("ca-cert.pem");
    let leaf = keys.join("signing-key-cert.pem");
    for name in ["v1.1.0-certificate", "v0.2.0-certificate"] {
        let d = signing_example(dir.path(), name, name);
        // A fixed time, as the unit test does: the certificates are valid
        // 2025–2035, and a test must not start failing in 2035.
        let chain = ["--signing-cert-chain", root.to_str().unwrap()];
        let at = |t: &'static str| [chain[0], chain[1], "--verify-at", t];
        let (s, findings) = signing_with(&db, &d, &at(JAN_2026));
        assert_eq!(s["method"], "certificate", "{name}");
        assert_eq!(s["status"], "verified", "{name}: {s}");
        assert_eq!(
            s["chain"],
            serde_json::json!(["CN=intermediate-ca", "CN=intermediate-ca", "CN=root-ca"]),
            "{name}"
        );
        assert_eq!(s["covered"], serde_json::json!(["signme-1", "signme-2"]));
        assert!(findings.is_empty(), "{name}: {findings:?}");
        // No trust anchor: nothing claimed.
        let (s, _) = signing_with(&db, &d, &[]);
        assert_eq!(s["status"], "unverified (no trust anchor given)", "{name}");
        // The wrong anchor (the leaf itself, not a CA that issued the chain).
        let (s, findings) =
            signing_with(&db, &d, &["--signing-cert-chain", leaf.to_str().unwrap()]);
        assert_eq!(s["status"], "certificate chain invalid", "{name}: {s}");
        assert!(
            s["detail"]
                .as_str()
                .unwrap()
                .contains("no trusted certificate issued"),
            "{s}"
        );
        assert!(
            findings
                .iter()
                .any(|f| f.contains("certificate chain invalid"))
        );
        // The same chain in 2040, when it has expired.
        let (s, _) = signing_with(&db, &d, &at(JAN_2040));
        assert_eq!(s["status"], "certificate chain invalid", "{name}: {s}");
        // A file changed after signing, with a good chain: the file differs.
        std::fs::write(d.join("signme-2"), b"changed").unwrap();
        let (s, _) = signing_with(&db, &d, &at(JAN_2026));
        assert_eq!(s["status"], "verified");
        assert_eq!(s["differ"], serde_json::json!(["signme-2"]));
    }
    let d = signing_example(dir.path(), "v1.1.0-sigstore", "keyless");
    let (s, findings) = signing_with(&db, &d, &["--signing-cert-chain", root.to_str().unwrap()]);
    assert_eq!(s["method"], "keyless");
    assert_eq!(s["status"], "unverified (needs transparency log)");
    assert_eq!(s["covered"], serde_json::json!(["signme-1", "signme-2"]));
    assert!(s["signer"].as_str().is_some_and(|x| !x.is_empty()), "{s}");
    assert!(
        s["issuer"]
            .as_str()
            .is_some_and(|x| x.starts_with("https://")),
        "{s}"
    );
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .starts_with("the signature matches"),
        "{s}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f.contains("needs transparency log"))
    );
}

/// Copies a fixture model directory so that a test can change its files.
fn copy_fixture(name: &str, dst: &Path) -> PathBuf {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    dst.to_path_buf()
}

fn models_gate(db: &Path, flag: &str) -> (Option<i32>, Value) {
    let out = aibomdb(db, &["query", "models", flag, "--format", "json"]);
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

/// Pickles written by Python's own pickle module (make.sh), never loaded:
/// each dangerous one is flagged with the import named, the benign zip under
/// an unusual folder name passes, cut or garbage streams are errors, and a
/// real TorchScript archive (silero-vad 6.2.3 from PyPI) scans clean.
#[test]
fn pickle_zoo_and_a_real_torchscript_archive() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let zoo = ingest_model(
        &db,
        &[
            fixture("pickle-zoo").to_str().unwrap(),
            "--deployment",
            "zoo",
        ],
    );
    let m = &zoo["model"];
    let pickle = |p: &str| artifact(m, p)["pickle"].clone();
    assert_eq!(
        pickle("eval.pkl")["dangerous_imports"],
        serde_json::json!(["builtins.eval"])
    );
    assert_eq!(
        pickle("popen.pt")["dangerous_imports"],
        serde_json::json!(["subprocess.Popen"])
    );
    let benign = artifact(m, "benign.pth");
    assert_eq!(benign["format"], "torch-zip");
    assert_eq!(
        benign["pickle"]["imports"],
        serde_json::json!(["collections.OrderedDict"])
    );
    assert_eq!(benign["pickle"]["dangerous_imports"], serde_json::json!([]));
    assert_eq!(benign["pickle"]["error"], Value::Null);
    for bad in ["truncated.ckpt", "garbage.pkl"] {
        assert!(pickle(bad)["error"].is_string(), "{bad}: {}", pickle(bad));
    }
    let kinds: Vec<(String, String)> = m["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for expected in [
        ("pickle-dangerous", "eval.pkl"),
        ("pickle-dangerous", "popen.pt"),
        ("pickle-error", "truncated.ckpt"),
        ("pickle-error", "garbage.pkl"),
    ] {
        assert!(
            kinds.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {kinds:?}"
        );
    }
    assert!(
        !kinds
            .iter()
            .any(|(k, p)| k.starts_with("pickle") && p == "benign.pth"),
        "{kinds:?}"
    );

    let ts = ingest_model(
        &db,
        &[
            fixture("torchscript-silero").to_str().unwrap(),
            "--deployment",
            "vad",
        ],
    );
    let jit = artifact(&ts["model"], "silero_vad.jit");
    assert_eq!(jit["format"], "torchscript");
    let imports = jit["pickle"]["imports"].as_array().unwrap();
    // data.pkl and constants.pkl: TorchScript classes and tensor rebuilds.
    assert_eq!(jit["pickle"]["streams"], 2);
    assert!(
        imports
            .iter()
            .any(|i| i == "torch._utils._rebuild_tensor_v2")
    );
    assert!(
        imports
            .iter()
            .any(|i| i == "__torch__.vad.model.vad_annotator.VADRNNJITMerge")
    );
    assert_eq!(jit["pickle"]["dangerous_imports"], serde_json::json!([]));
    assert_eq!(jit["pickle"]["unknown_imports"], serde_json::json!([]));

    // The gate selects the zoo, not the TorchScript model.
    let (code, found) = models_gate(&db, "--pickle-dangerous");
    assert_eq!(code, Some(1));
    let deployments: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["deployment"].as_str().unwrap())
        .collect();
    assert_eq!(deployments, ["zoo"]);
}

/// Approvals are bound to the bytes approved: changing the weights after an
/// approval makes the model visibly unapproved again.
#[test]
fn approvals_are_bound_to_file_digests() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let model_dir = copy_fixture("finetune-safetensors", &dir.path().join("bert-imdb"));
    let args = [
        model_dir.to_str().unwrap(),
        "--deployment",
        "classifier",
        "--id",
        "aibomdb-test/bert-imdb",
    ];
    let m = ingest_model(&db, &args)["model"].clone();
    assert_eq!(m["approval"]["state"], "unapproved");
    let sha = artifact(&m, "model.safetensors")["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    // SHA256SUMS, written by sha256sum when the fixture was made.
    let sums = std::fs::read_to_string(model_dir.join("SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("{sha}  model.safetensors")),
        "{sums}"
    );
    let (code, _) = models_gate(&db, "--unapproved");
    assert_eq!(code, Some(1));

    // Approving bytes the model does not have is refused.
    let wrong = aibomdb(
        &db,
        &[
            "approve",
            "--model",
            "aibomdb-test/bert-imdb",
            "--artifact-sha256",
            &"0".repeat(64),
            "--by",
            "alice",
        ],
    );
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("no file of"), "{}", stderr(&wrong));
    let fingerprint_before = fingerprint(&db);
    let unknown = aibomdb(
        &db,
        &[
            "approve",
            "--model",
            "nobody/nothing",
            "--artifact-sha256",
            &sha,
            "--by",
            "alice",
        ],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(fingerprint(&db), fingerprint_before);

    let ok = aibomdb(
        &db,
        &[
            "approve",
            "--model",
            "aibomdb-test/bert-imdb",
            "--artifact-sha256",
            &sha.to_ascii_uppercase(),
            "--by",
            "alice",
            "--note",
            "reviewed eval report",
            "--format",
            "json",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(
        json(&ok)["approved"],
        serde_json::json!(["pkg:huggingface/aibomdb-test/bert-imdb"])
    );
    let (code, found) = models_gate(&db, "--unapproved");
    assert_eq!(code, Some(0), "{found}");
    let all = json(&aibomdb(&db, &["query", "models", "--format", "json"]));
    let approval = &all[0]["approval"];
    assert_eq!(approval["state"], "approved");
    assert_eq!(approval["approvals"][0]["by"], "alice");
    assert_eq!(approval["approvals"][0]["path"], "model.safetensors");
    assert_eq!(approval["approvals"][0]["note"], "reviewed eval report");

    // The weights change; the new directory supersedes the old one.
    let mut bytes = std::fs::read(model_dir.join("model.safetensors")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(model_dir.join("model.safetensors"), bytes).unwrap();
    let m = ingest_model(&db, &args)["model"].clone();
    assert_eq!(m["approval"]["state"], "unapproved");
    assert_eq!(
        m["approval"]["unapproved"],
        serde_json::json!(["model.safetensors"])
    );
    let drift = m["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "unapproved")
        .expect("approval drift is a finding");
    assert!(
        drift["message"]
            .as_str()
            .unwrap()
            .contains(&format!("is not the approved {sha} (approved by alice)")),
        "{drift}"
    );
    let (code, _) = models_gate(&db, "--unapproved");
    assert_eq!(code, Some(1));
    // And it no longer matches the published SHA256SUMS either.
    let (code, found) = models_gate(&db, "--hash-mismatch");
    assert_eq!(code, Some(1));
    assert_eq!(found[0]["deployment"], "classifier");
    // Unsigned (no model.sig): the --unsigned gate trips too.
    let (code, _) = models_gate(&db, "--unsigned");
    assert_eq!(code, Some(1));
}
