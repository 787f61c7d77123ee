//! Models over the GraphQL API end to end: model documents and their
//! findings, lineage, datasets and approvals, and model directories
//! uploaded, on the real `aibomdb serve` on a free loopback port.

mod common;

use std::path::Path;

use common::api::{TOKEN, ok};
use common::{Server, corpus, graphql};
use serde_json::json;

#[test]
fn models_and_their_findings_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models");
    for (deployment, src, extra) in [
        (
            "classifier",
            "finetune-safetensors",
            Some("aibomdb-test/bert-imdb"),
        ),
        ("trainer", "checkpoint-pickle", None),
    ] {
        let path = fixtures.join(src);
        let mut args = vec![
            "ingest-model",
            path.to_str().unwrap(),
            "--deployment",
            deployment,
        ];
        if let Some(id) = extra {
            args.extend(["--id", id]);
        }
        let out = common::aibomdb(&db, &args);
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let server = Server::start(&db, &[]);
    let a = &server.addr;
    let d = ok(
        a,
        r#"{deployment(name:"classifier"){models{purl kind derivedFrom{relation purl} trainedOn artifacts{path integrity tensors}}}}"#,
        json!({}),
    );
    let m = &d["deployment"]["models"][0];
    assert_eq!(m["purl"], "pkg:huggingface/aibomdb-test/bert-imdb");
    assert_eq!(m["kind"], "fine-tune");
    assert_eq!(
        m["derivedFrom"][0]["purl"],
        "pkg:huggingface/google-bert/bert-base-uncased"
    );
    assert_eq!(
        m["trainedOn"][0],
        "pkg:generic/huggingface-datasets/stanfordnlp/imdb"
    );
    let risky = ok(
        a,
        r#"{models(risky:true){deployment artifacts{path pickle{dangerousImports}} findings{kind path message}}}"#,
        json!({}),
    );
    let deployments: Vec<&str> = risky["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["deployment"].as_str().unwrap())
        .collect();
    // Both are unsigned; only the trainer's checkpoint runs code on load.
    assert_eq!(deployments, ["classifier", "trainer"]);
    let trainer = &risky["models"][1];
    assert!(
        trainer["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "pickle-dangerous"
                && f["message"].as_str().unwrap().contains("posix.system"))
    );
    // The other direction: a base model's adapters. The corpus's LLaMA-Factory
    // checkpoint is a LoRA adapter on Llama 3.2 3B Instruct.
    drop(server);
    let out = common::aibomdb(
        &db,
        &[
            "ingest-model",
            corpus()
                .join("formats/huggingface/llamafactory-pr7074-checkpoint-900")
                .to_str()
                .unwrap(),
            "--deployment",
            "support-bot",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let server = Server::start(&db, &[]);
    let a = &server.addr;
    let m = ok(
        a,
        r#"{model(purl:"pkg:generic/llamafactory-pr7074-checkpoint-900"){kind adapterOf peftType}}"#,
        json!({}),
    );
    assert_eq!(m["model"]["kind"], "adapter");
    assert_eq!(
        m["model"]["adapterOf"],
        json!(["pkg:huggingface/meta-llama/Llama-3.2-3B-Instruct"])
    );
    let llama = ok(
        a,
        r#"{model(purl:"pkg:huggingface/meta-llama/Llama-3.2-3B-Instruct"){adapters{purl deployment}}}"#,
        json!({}),
    );
    assert_eq!(
        llama["model"]["adapters"],
        json!([{"purl": "pkg:generic/llamafactory-pr7074-checkpoint-900", "deployment": "support-bot"}])
    );
    let bert = ok(
        a,
        r#"{model(id:"aibomdb-test/bert-imdb"){purl adapters{purl}}}"#,
        json!({}),
    );
    assert_eq!(
        bert["model"]["purl"],
        "pkg:huggingface/aibomdb-test/bert-imdb"
    );
    assert_eq!(bert["model"]["adapters"], json!([]));
    let none = ok(a, r#"{model(id:"no/such"){purl}}"#, json!({}));
    assert!(none["model"].is_null());
    let unknown = ok(
        a,
        r#"{model(purl:"pkg:huggingface/no/such"){purl}}"#,
        json!({}),
    );
    assert!(unknown["model"].is_null());
    // Blast radius through lineage: who runs something derived from BERT?
    let hits = ok(
        a,
        r#"{deploymentsUsing(purl:"pkg:huggingface/google-bert/bert-base-uncased"){edges{node{deployment path{via id}}}}}"#,
        json!({}),
    );
    let node = &hits["deploymentsUsing"]["edges"][0]["node"];
    assert_eq!(node["deployment"], "classifier");
    assert_eq!(
        node["path"].as_array().unwrap().last().unwrap()["via"],
        "derived_from:finetune"
    );
}

/// Lineage, deployments running a base, datasets and approvals over HTTP.
#[test]
fn lineage_running_datasets_and_approvals_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models");
    let out = common::aibomdb(
        &db,
        &[
            "ingest-model",
            fixtures.join("finetune-safetensors").to_str().unwrap(),
            "--deployment",
            "classifier",
            "--id",
            "aibomdb-test/bert-imdb",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let server = Server::start(&db, &["--write-token", TOKEN]);
    let a = &server.addr;
    let g = ok(
        a,
        r#"{lineage(model:"google-bert/bert-base-uncased", direction:DOWN){roots nodes{purl level node} links{from to relation documents}}}"#,
        json!({}),
    );
    let g = &g["lineage"];
    assert_eq!(
        g["roots"],
        json!(["pkg:huggingface/google-bert/bert-base-uncased"])
    );
    assert_eq!(
        g["links"][0]["from"],
        "pkg:huggingface/aibomdb-test/bert-imdb"
    );
    assert_eq!(g["links"][0]["relation"], "derived_from:finetune");
    let running = ok(
        a,
        r#"{deploymentsRunning(model:"google-bert/bert-base-uncased"){model lineage hit{deployment}}}"#,
        json!({}),
    );
    assert_eq!(
        running["deploymentsRunning"],
        json!([{
            "model": "pkg:huggingface/aibomdb-test/bert-imdb",
            "lineage": ["pkg:huggingface/aibomdb-test/bert-imdb", "(finetune)", "pkg:huggingface/google-bert/bert-base-uncased"],
            "hit": {"deployment": "classifier"}
        }])
    );
    let datasets = ok(a, r#"{datasets{purl name trained evaluated}}"#, json!({}));
    assert_eq!(
        datasets["datasets"],
        json!([{
            "purl": "pkg:generic/huggingface-datasets/stanfordnlp/imdb",
            "name": "stanfordnlp/imdb",
            "trained": ["pkg:huggingface/aibomdb-test/bert-imdb"],
            "evaluated": []
        }])
    );

    // Approving needs the write token; the approval shows on the model.
    let q =
        r#"{models(unapproved:true){purl approval{state unapproved approvals{by sha256 path}}}}"#;
    let before = ok(a, q, json!({}));
    let sha = {
        let m = ok(
            a,
            r#"{model(purl:"pkg:huggingface/aibomdb-test/bert-imdb"){artifacts{path sha256}}}"#,
            json!({}),
        );
        m["model"]["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["path"] == "model.safetensors")
            .unwrap()["sha256"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(before["models"][0]["approval"]["state"], "unapproved");
    let mutation = "mutation($s:String!){approveModel(model:\"aibomdb-test/bert-imdb\", artifactSha256:$s, by:\"bob\", note:\"ok\")}";
    let (status, refused) = graphql(a, None, mutation, json!({"s": sha}));
    assert_eq!(status, 401, "{refused}");
    let (status, v) = graphql(a, Some(TOKEN), mutation, json!({"s": sha}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["data"]["approveModel"],
        json!(["pkg:huggingface/aibomdb-test/bert-imdb"])
    );
    // The response cache must not serve the old answer after the write.
    assert_eq!(ok(a, q, json!({}))["models"], json!([]));
    let all = ok(
        a,
        r#"{models{approval{state approvals{by path}}}}"#,
        json!({}),
    );
    assert_eq!(
        all["models"][0]["approval"],
        json!({"state": "approved", "approvals": [{"by": "bob", "path": "model.safetensors"}]})
    );
    let (_, bad) = graphql(a, Some(TOKEN), mutation, json!({"s": "ab".repeat(32)}));
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no file of"),
        "{bad}"
    );
}

/// A model directory uploaded file by file over GraphQL is read as
/// `ingest-model` reads it; a path that leaves the directory is refused and
/// nothing is written.
#[test]
fn model_directory_upload_over_http() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    // Uploads are written to a private directory under TMPDIR: an escape
    // from it would land in TMPDIR or above, which this test owns.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let server = Server::start_with_tmpdir(&db, &["--write-token", TOKEN], Some(&tmp));
    let a = &server.addr;
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models/checkpoint-pickle");
    let mut files = Vec::new();
    for name in [
        "SHA256SUMS",
        "optimizer.pt",
        "pytorch_model.bin",
        "training_args.bin",
    ] {
        let bytes = std::fs::read(src.join(name)).unwrap();
        files.push(json!({"path": name, "contentBase64": base64::engine::general_purpose::STANDARD.encode(bytes)}));
    }
    let m = "mutation($f:[ModelFileInput!]!){ingestModel(deployment:\"trainer\", name:\"checkpoint\", files:$f){status format packages}}";
    let (status, v) = graphql(a, Some(TOKEN), m, json!({"f": files}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["ingestModel"]["status"], "ingested", "{v}");
    let found = ok(
        a,
        r#"{models(pickleDangerous:true){purl deployment findings{kind path}}}"#,
        json!({}),
    );
    let model = &found["models"][0];
    assert_eq!(model["purl"], "pkg:generic/checkpoint");
    assert!(
        model["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "pickle-dangerous" && f["path"] == "pytorch_model.bin"),
        "{model}"
    );
    let documents = r#"{deployment(name:"trainer"){documents(history:true){id}}}"#;
    let before = ok(a, documents, json!({}));
    // An absolute path into a directory the test owns (never /etc/passwd:
    // were the check broken, the test must not overwrite system files).
    let absolute = dir.path().join("absolute.txt");
    for evil in [
        "../escape.txt",
        absolute.to_str().unwrap(),
        "a/../../b",
        "C:\\x",
        "../../escape-above.txt",
    ] {
        let files = json!([{"path": evil, "contentBase64": "eA=="}]);
        let (_, v) = graphql(a, Some(TOKEN), m, json!({"f": files}));
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("stay inside"),
            "{evil}: {v}"
        );
    }
    assert_eq!(ok(a, documents, json!({})), before);
    // Nothing was written outside the upload directories, and those are gone.
    let mut left: Vec<String> = walk_names(dir.path());
    left.retain(|p| !p.starts_with("s.redb"));
    assert_eq!(left, ["tmp"], "files written by the uploads");
}

/// Every path under `dir`, relative, sorted.
fn walk_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}
