//! The model scanner on hostile layouts and inputs (issue #23): Hugging Face
//! cache snapshots (every file a symbolic link into `blobs/`), links that
//! leave the directory, dotfiles, and pickles crafted to exhaust memory. The
//! cache layout is built at run time from the fixture files that make.sh
//! wrote, exactly as huggingface_hub lays it out.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Server, aibomdb, graphql, json, stderr, stdout};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/models")
        .join(name)
}

fn ingest_model(db: &Path, dir: &Path) -> Value {
    json(&aibomdb(
        db,
        &[
            "ingest-model",
            dir.to_str().unwrap(),
            "--deployment",
            "m",
            "--format",
            "json",
        ],
    ))
}

fn artifact<'a>(model: &'a Value, path: &str) -> &'a Value {
    model["info"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("no artifact {path} in {model}"))
}

fn paths(model: &Value) -> Vec<String> {
    model["info"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap().to_string())
        .collect()
}

fn gate(db: &Path, flag: &str) -> Option<i32> {
    aibomdb(db, &["query", "models", flag, "--format", "json"])
        .status
        .code()
}

fn has_finding(model: &Value, kind: &str, path: &str) -> bool {
    model["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == kind && f["path"] == path)
}

/// The one document of the store, as `documents` prints it.
fn document(db: &Path) -> Value {
    let docs = json(&aibomdb(db, &["documents", "--format", "json"]));
    assert_eq!(docs.as_array().unwrap().len(), 1, "{docs}");
    docs[0].clone()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// huggingface_hub's ETag for a file kept in Git (not LFS): the Git blob id.
fn git_blob_id(path: &Path) -> String {
    let out = Command::new("git")
        .args(["hash-object", "--no-filters"])
        .arg(path)
        .output()
        .expect("git hash-object");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// Lays out one repository of the Hub cache as huggingface_hub's
/// `file_download.py` does: `models--org--name/blobs/<etag>` (the SHA-256 for
/// LFS files, the Git blob id otherwise), `refs/main` holding the commit, and
/// `snapshots/<commit>/<file>` a relative symbolic link to the blob
/// (`os.path.relpath`, so `../../blobs/…`, one `../` more per folder).
/// Returns the snapshot directory.
fn hub_repo(cache: &Path, repo: &str, commit: &str, files: &[(&str, PathBuf, bool)]) -> PathBuf {
    let root = cache.join(format!("models--{}", repo.replace('/', "--")));
    let snapshot = root.join("snapshots").join(commit);
    std::fs::create_dir_all(root.join("blobs")).unwrap();
    std::fs::create_dir_all(root.join("refs")).unwrap();
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::write(root.join("refs/main"), commit).unwrap();
    for (name, source, lfs) in files {
        let bytes = std::fs::read(source).unwrap();
        let etag = if *lfs {
            sha256_hex(&bytes)
        } else {
            git_blob_id(source)
        };
        std::fs::write(root.join("blobs").join(&etag), &bytes).unwrap();
        let link = snapshot.join(name);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        let depth = name.matches('/').count() + 2;
        let target = format!("{}blobs/{etag}", "../".repeat(depth));
        std::os::unix::fs::symlink(&target, &link).unwrap();
    }
    snapshot
}

const COMMIT: &str = "9f1e2d3c4b5a69788776655443322110ffeeddcc";

/// A snapshot whose `pytorch_model.bin` links to a checkpoint that calls
/// `os.system` when loaded: every link is followed and the file hashed under
/// its own name, the pickle flagged, through `ingest-model`, plain `ingest`
/// of the snapshot and of the whole cache; a link into another repository of
/// the cache leaves the snapshot's root and is refused, never read.
#[test]
fn hub_cache_snapshot_is_read_through_its_links() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hub");
    let ckpt = fixture("checkpoint-pickle");
    let snapshot = hub_repo(
        &cache,
        "aibomdb-test/checkpoint",
        COMMIT,
        &[
            ("pytorch_model.bin", ckpt.join("pytorch_model.bin"), true),
            ("optimizer.pt", ckpt.join("optimizer.pt"), true),
            ("SHA256SUMS", ckpt.join("SHA256SUMS"), false),
            (
                "nested/training_args.bin",
                ckpt.join("training_args.bin"),
                true,
            ),
        ],
    );
    // Another repository of the same cache, and a link to its blob.
    let other = hub_repo(
        &cache,
        "elsewhere/other",
        "0000000000000000000000000000000000000001",
        &[("model.pkl", fixture("pickle-zoo/eval.pkl"), true)],
    );
    let other_blob = std::fs::canonicalize(other.join("model.pkl")).unwrap();
    let name = other_blob.file_name().unwrap().to_str().unwrap();
    std::os::unix::fs::symlink(
        format!("../../../models--elsewhere--other/blobs/{name}"),
        snapshot.join("rogue.bin"),
    )
    .unwrap();

    let db = dir.path().join("a.redb");
    let out = ingest_model(&db, &snapshot);
    let m = &out["model"];
    // The layout names the model and its revision.
    assert_eq!(
        m["purl"],
        format!("pkg:huggingface/aibomdb-test/checkpoint@{COMMIT}")
    );
    assert_eq!(
        paths(m),
        [
            "SHA256SUMS",
            "nested/training_args.bin",
            "optimizer.pt",
            "pytorch_model.bin",
            "rogue.bin"
        ]
    );
    let weights = artifact(m, "pytorch_model.bin");
    assert_eq!(weights["format"], "torch-zip");
    assert_eq!(
        weights["sha256"],
        sha256_hex(&std::fs::read(ckpt.join("pytorch_model.bin")).unwrap())
    );
    // SHA256SUMS, itself a link, is read: the digest it publishes checks.
    assert_eq!(weights["integrity"], "verified");
    assert_eq!(artifact(m, "optimizer.pt")["integrity"], "mismatch");
    assert_eq!(
        weights["pickle"]["dangerous_imports"],
        serde_json::json!(["posix.system"])
    );
    assert_eq!(
        artifact(m, "nested/training_args.bin")["pickle"]["dangerous_imports"],
        serde_json::json!(["posix.system"])
    );
    let rogue = artifact(m, "rogue.bin");
    assert_eq!(rogue["sha256"], Value::Null);
    assert_eq!(rogue["pickle"], Value::Null);
    let problem = rogue["problems"][0].as_str().unwrap();
    assert!(
        problem.contains("leaves") && problem.contains("models--aibomdb-test--checkpoint"),
        "{problem}"
    );
    assert!(has_finding(m, "pickle-dangerous", "pytorch_model.bin"));
    assert!(has_finding(m, "file-problem", "rogue.bin"));
    // The document says which files were links.
    let warnings = document(&db)["warnings"].to_string();
    assert!(
        warnings.contains("pytorch_model.bin: a symbolic link to ../../blobs/")
            && warnings.contains("nested/training_args.bin: a symbolic link to ../../../blobs/"),
        "{warnings}"
    );
    assert_eq!(gate(&db, "--pickle-dangerous"), Some(1));

    // Plain `ingest` of the snapshot, and of the whole cache: each snapshot
    // is found as a model directory and flagged the same way.
    for (name, path, snapshots) in [("b.redb", &snapshot, 1), ("c.redb", &cache, 2)] {
        let db = dir.path().join(name);
        let out = aibomdb(&db, &["ingest", path.to_str().unwrap(), "--format", "json"]);
        let rows = json(&out);
        let models: Vec<&Value> = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["format"] == "model directory")
            .collect();
        assert_eq!(models.len(), snapshots, "{path:?}: {rows}");
        assert!(models.iter().all(|m| m["status"] == "ingested"), "{rows}");
        assert_eq!(gate(&db, "--pickle-dangerous"), Some(1), "{path:?}");
    }
}

/// Links out of a plain model directory, and broken ones, are refused and
/// reported, never opened: a config reached that way is not read, a weight
/// file is a finding without a digest.
#[test]
fn links_leaving_the_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    let model = dir.path().join("model");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&model).unwrap();
    std::fs::copy(
        fixture("checkpoint-pickle/training_args.bin"),
        outside.join("payload.bin"),
    )
    .unwrap();
    std::fs::copy(
        common::corpus().join("formats/huggingface/cognix-openmodel/config.json"),
        outside.join("config.json"),
    )
    .unwrap();
    std::fs::copy(
        fixture("finetune-safetensors/model.safetensors"),
        model.join("model.safetensors"),
    )
    .unwrap();
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(target, model.join(name)).unwrap();
    };
    link("../outside/payload.bin", "pytorch_model.bin");
    link("../outside/config.json", "config.json");
    link("no-such-blob", "broken.bin");
    // Inside the directory: followed.
    link("model.safetensors", "alias.safetensors");

    let db = common::db(&dir);
    let m = ingest_model(&db, &model)["model"].clone();
    for (path, says) in [
        ("pytorch_model.bin", "leaves"),
        ("config.json", "leaves"),
        ("broken.bin", "cannot be followed"),
    ] {
        let a = artifact(&m, path);
        assert_eq!(a["sha256"], Value::Null, "{path}");
        assert_eq!(a["pickle"], Value::Null, "{path}");
        let problem = a["problems"][0].as_str().unwrap();
        assert!(problem.contains(says), "{path}: {problem}");
        assert!(has_finding(&m, "file-problem", path), "{path}");
    }
    // The linked config was not read.
    assert!(
        !m["info"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "config.json"),
        "{m}"
    );
    assert_eq!(m["info"]["architectures"], serde_json::json!([]));
    assert_eq!(
        artifact(&m, "alias.safetensors")["sha256"],
        artifact(&m, "model.safetensors")["sha256"]
    );
    assert_eq!(gate(&db, "--pickle-dangerous"), Some(0));
    assert_eq!(gate(&db, "--risky"), Some(1));
}

/// Dotfiles and dot-folders are listed and scanned like any file; `.git` is
/// named as not read, with the reason.
#[test]
fn dotfiles_are_scanned_and_git_is_said_to_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(model.join(".cache/run")).unwrap();
    std::fs::create_dir_all(model.join(".git/objects")).unwrap();
    std::fs::copy(
        fixture("finetune-safetensors/model.safetensors"),
        model.join("model.safetensors"),
    )
    .unwrap();
    std::fs::copy(fixture("pickle-zoo/eval.pkl"), model.join(".hidden.pkl")).unwrap();
    std::fs::copy(
        fixture("pickle-zoo/popen.pt"),
        model.join(".cache/run/state.pt"),
    )
    .unwrap();
    std::fs::copy(
        fixture("checkpoint-pickle/training_args.bin"),
        model.join(".git/objects/blob.bin"),
    )
    .unwrap();

    let db = common::db(&dir);
    let m = ingest_model(&db, &model)["model"].clone();
    assert_eq!(
        paths(&m),
        [".cache/run/state.pt", ".hidden.pkl", "model.safetensors"]
    );
    assert_eq!(
        artifact(&m, ".hidden.pkl")["pickle"]["dangerous_imports"],
        serde_json::json!(["builtins.eval"])
    );
    assert_eq!(
        artifact(&m, ".cache/run/state.pt")["pickle"]["dangerous_imports"],
        serde_json::json!(["subprocess.Popen"])
    );
    let skipped = &document(&db)["skipped"];
    assert_eq!(skipped[0]["reference"], ".git/", "{skipped}");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("Git"));
    // The deployment view says it too.
    let view = json(&aibomdb(
        &db,
        &["query", "deployment", "m", "--format", "json"],
    ));
    assert!(
        view.to_string().contains("\"reference\":\".git/\""),
        "{view}"
    );
    assert_eq!(gate(&db, "--pickle-dangerous"), Some(1));
}

/// Address space allowed to a child `aibomdb` (threads' stacks and malloc
/// arenas count too): twice what these inputs need (peak RSS 20–95 MiB in a
/// debug build; each runs under 256 MiB of address space), far below the
/// gigabytes a copy per MEMOIZE took.
const CHILD_ADDRESS_SPACE_KIB: u64 = 512 * 1024;

/// `aibomdb` with its address space limited (RLIMIT_AS, set by the shell's
/// `ulimit -v` before exec): an allocation past it fails, and Rust aborts.
fn aibomdb_limited(db: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {CHILD_ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_aibomdb"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("AIBOMDB_DB")
        .output()
        .expect("run aibomdb")
}

fn ingest_limited(db: &Path, dir: &Path) -> Value {
    let out = aibomdb_limited(
        db,
        &[
            "ingest-model",
            dir.to_str().unwrap(),
            "--deployment",
            "m",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "exit {:?} (signal {:?}): {}",
        out.status.code(),
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A 1 KiB string memoised a million times (each MEMOIZE used to copy it),
/// then `os.system` fetched from the memo: the bytes of `data.pkl`.
fn memoize_bomb() -> Vec<u8> {
    let mut p = b"\x80\x04".to_vec();
    p.extend_from_slice(b"\x8c\x02os\x94\x8c\x06system\x94"); // memo 0, 1
    p.push(b'X');
    p.extend_from_slice(&1024u32.to_le_bytes());
    p.extend_from_slice(&[b'A'; 1024]);
    p.extend(std::iter::repeat_n(0x94u8, 1_000_000));
    p.extend_from_slice(b"h\x00h\x01\x93."); // BINGET 0, BINGET 1, STACK_GLOBAL, STOP
    p
}

/// A PyTorch zip checkpoint (`archive/data.pkl`, deflated) of the MEMOIZE
/// bomb: about 1.2 KB.
fn memoize_bomb_zip() -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    z.start_file("archive/data.pkl", deflate).unwrap();
    z.write_all(&memoize_bomb()).unwrap();
    let bytes = z.finish().unwrap().into_inner();
    assert!(bytes.len() < 1400, "{} bytes", bytes.len());
    bytes
}

/// A torch zip of about 1.2 KB whose `data.pkl` inflates to a MEMOIZE chain
/// (it used to abort `ingest-model` on an allocation failure): scanned within
/// the memory bound, and the import behind the chain still found.
#[test]
fn memoize_bomb_in_a_tiny_torch_zip_runs_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    let zip_path = model.join("pytorch_model.bin");
    std::fs::write(&zip_path, memoize_bomb_zip()).unwrap();

    let db = common::db(&dir);
    let m = ingest_limited(&db, &model)["model"].clone();
    let weights = artifact(&m, "pytorch_model.bin");
    assert_eq!(weights["format"], "torch-zip");
    assert_eq!(
        weights["pickle"]["dangerous_imports"],
        serde_json::json!(["os.system"])
    );
    assert_eq!(weights["pickle"]["error"], Value::Null);
    assert!(has_finding(&m, "pickle-dangerous", "pytorch_model.bin"));
}

/// A 1 MiB string followed by 1,600 MEMOIZE (1.6 GB when each copied it),
/// then a GLOBAL `os.system`: bounded, and flagged.
#[test]
fn memoize_chain_of_a_large_string_runs_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    let mut p = b"\x80\x04X".to_vec();
    p.extend_from_slice(&(1u32 << 20).to_le_bytes());
    p.extend(std::iter::repeat_n(b'B', 1 << 20));
    p.extend(std::iter::repeat_n(0x94u8, 1600));
    p.extend_from_slice(b"cos\nsystem\n.");
    std::fs::write(model.join("model.pkl"), &p).unwrap();

    let db = common::db(&dir);
    let m = ingest_limited(&db, &model)["model"].clone();
    assert_eq!(
        artifact(&m, "model.pkl")["pickle"]["dangerous_imports"],
        serde_json::json!(["os.system"])
    );
    assert!(has_finding(&m, "pickle-dangerous", "model.pkl"));
}

/// A process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The same tiny zip uploaded through GraphQL `ingestModel` (it used to take
/// the server down): the server answers with the finding, its peak memory
/// stays small, and it keeps serving.
#[test]
fn memoize_bomb_over_graphql_leaves_the_server_up() {
    use base64::Engine;
    const TOKEN: &str = "test-write-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let server = Server::start(&db, &["--write-token", TOKEN]);
    let content = base64::engine::general_purpose::STANDARD.encode(memoize_bomb_zip());
    let m = "mutation($f:[ModelFileInput!]!){ingestModel(deployment:\"m\", name:\"bomb\", files:$f){status}}";
    let (status, v) = graphql(
        &server.addr,
        Some(TOKEN),
        m,
        serde_json::json!({"f": [{"path": "pytorch_model.bin", "contentBase64": content}]}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["ingestModel"]["status"], "ingested", "{v}");
    let (status, v) = graphql(
        &server.addr,
        None,
        "{models(pickleDangerous:true){purl findings{kind path message}}}",
        serde_json::json!({}),
    );
    assert_eq!(status, 200, "{v}");
    let findings = v["data"]["models"][0]["findings"].to_string();
    assert!(findings.contains("os.system"), "{v}");
    // A copy per MEMOIZE reached 1.1 GB; the server's whole peak is about
    // 100 MiB in a debug build (redb's cache fills only as pages are read).
    let peak = peak_rss_kib(server.pid());
    assert!(peak < 384 * 1024, "server peak RSS {peak} KiB");
}

/// Copies the files of fixture folder `name` into `to`.
fn copy_fixture(name: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Plain `ingest` of a folder of loose checkpoints (issue 17): each folder
/// of pickles and torch files is read as a model, the pickles scanned
/// without `ingest-model`; the run ends with a summary on stderr naming what
/// it did not read, and a path that yields nothing is exit 2.
#[test]
fn plain_ingest_reads_loose_checkpoints_and_says_what_it_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("checkpoints");
    copy_fixture("checkpoint-pickle", &root.join("run-a"));
    copy_fixture("pickle-zoo", &root.join("zoo"));
    // Passed over, and said so: a binary that is no document, a hidden file.
    std::fs::write(root.join("blob.dat"), b"\x00\x01\x02binary").unwrap();
    std::fs::write(root.join(".DS_Store"), b"\x00\x00\x00\x01Bud1").unwrap();
    let db = common::db(&dir);
    let out = aibomdb(&db, &["ingest", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("ingest: 2 documents ingested, 0 unchanged, 0 failed; 2 files skipped"),
        "{err}"
    );
    assert!(
        err.contains("skipped 1: not a recognised document: binary content (")
            && err.contains("blob.dat"),
        "{err}"
    );
    assert!(
        err.contains("skipped 1: hidden (name starts with a dot) (") && err.contains(".DS_Store"),
        "{err}"
    );
    let models = json(&aibomdb(&db, &["query", "models", "--format", "json"]));
    let dangerous: std::collections::BTreeSet<String> = models
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["findings"].as_array().unwrap().iter())
        .filter(|f| f["kind"] == "pickle-dangerous")
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        dangerous,
        [
            "eval.pkl",
            "popen.pt",
            "pytorch_model.bin",
            "training_args.bin"
        ]
        .map(String::from)
        .into(),
        "{models}"
    );
    // The benign checkpoints were read and scanned, and judged benign.
    for m in models.as_array().unwrap() {
        for benign in ["optimizer.pt", "benign.pth"] {
            if let Some(a) = m["info"]["artifacts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["path"] == benign)
            {
                assert_eq!(
                    a["pickle"]["dangerous_imports"],
                    serde_json::json!([]),
                    "{a}"
                );
                assert!(a["pickle"]["streams"].as_u64().unwrap() >= 1, "{a}");
            }
        }
    }
    assert_eq!(gate(&db, "--pickle-dangerous"), Some(1));

    // A folder with nothing this tool reads yields nothing: exit 2, said.
    let empty = dir.path().join("notes");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("blob.dat"), b"\x00\x01\x02").unwrap();
    let out = aibomdb(&db, &["ingest", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("yielded no document"),
        "{}",
        stderr(&out)
    );
}
