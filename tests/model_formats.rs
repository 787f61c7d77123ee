//! GGUF, ONNX, Keras 3 and NumPy weight files (issue 17, part 3), made by
//! the real tools in `tests/fixtures/models/make_formats.sh`, read by plain
//! `aibomdb ingest` of a folder: GGUF metadata becomes the same lineage
//! edges a model card's `base_model` does, a Keras `Lambda` layer and a
//! NumPy object array that pickles `os.system` are dangerous findings, a
//! custom layer and a custom ONNX operator domain are for review, and each
//! file's header facts show in `query models` and GraphQL.

mod common;

use std::path::{Path, PathBuf};

use common::{Server, aibomdb, graphql, json, stderr, stdout};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/models")
        .join(name)
}

fn copy_fixture(name: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn model<'a>(models: &'a Value, name: &str) -> &'a Value {
    models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no model {name} in {models}"))
}

/// (kind, path) of every finding about a file's content.
fn findings(m: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = m["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let k = f["kind"].as_str().unwrap();
            k.starts_with("pickle-") || k == "file-problem" || k == "secret"
        })
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn metadata(m: &Value, file: &str, key: &str) -> Vec<String> {
    m["file_metadata"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["file"] == file && x["key"] == key)
        .map(|x| x["value"].as_str().unwrap().to_string())
        .collect()
}

/// The training token make_formats.sh left in the GGUF metadata, read from
/// the file's bytes (`hf_` and 34 letters).
fn planted_token() -> String {
    let bytes = std::fs::read(fixture("gguf-quantized/tinyllama-q8_0.gguf")).unwrap();
    let at = bytes.windows(3).position(|w| w == b"hf_").unwrap();
    String::from_utf8(bytes[at..at + 37].to_vec()).unwrap()
}

#[test]
fn plain_ingest_reads_gguf_onnx_keras_and_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("weights");
    for name in [
        "gguf-quantized",
        "onnx-custom-op",
        "keras-lambda",
        "numpy-arrays",
    ] {
        copy_fixture(name, &root.join(name));
    }
    let db = common::db(&dir);
    let out = aibomdb(&db, &["ingest", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("ingest: 4 documents ingested, 0 unchanged, 0 failed; 0 files skipped"),
        "{err}"
    );
    let listed = aibomdb(&db, &["query", "models", "--format", "json"]);
    let models = json(&listed);

    // GGUF: lineage, licence, architecture, quantisation, tensors, secrets.
    let g = model(&models, "gguf-quantized");
    assert_eq!(g["info"]["model_type"], "llama", "{g}");
    assert_eq!(g["info"]["quantization"], "gguf Q8_0");
    assert_eq!(g["info"]["license"], "apache-2.0");
    assert_eq!(g["info"]["kind"], "quantized");
    assert_eq!(
        g["derived_from"],
        serde_json::json!([{"relation": "quantized",
            "purl": "pkg:huggingface/TinyLlama/TinyLlama-1.1B-Chat-v1.0"}])
    );
    let file = "tinyllama-q8_0.gguf";
    assert_eq!(metadata(g, file, "general.name"), ["TinyLlama Chat Q8_0"]);
    assert_eq!(metadata(g, file, "general.version"), ["v1.0"]);
    assert_eq!(metadata(g, file, "general.file_type"), ["7 (Q8_0)"]);
    assert_eq!(
        metadata(g, file, "general.base_model.0.organization"),
        ["TinyLlama"]
    );
    let a = &g["info"]["artifacts"][0];
    assert_eq!((&a["format"], &a["tensors"]), (&"gguf".into(), &2.into()));
    let secrets = g["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 1, "{g}");
    assert_eq!(secrets[0]["rule"], "huggingface-access-token");
    assert_eq!(secrets[0]["within"], "gguf metadata training.hub_token");
    let token = planted_token();
    assert!(!stdout(&listed).contains(&token));
    assert!(
        !common::stored_bytes(&db)
            .windows(token.len())
            .any(|w| w == token.as_bytes())
    );
    assert_eq!(findings(g), [("secret".into(), file.into())]);

    // ONNX: the custom-domain operator is for review; opsets and producer recorded.
    let o = model(&models, "onnx-custom-op");
    assert_eq!(
        findings(o),
        [("pickle-unknown".to_string(), "custom-op.onnx".to_string())],
        "{o}"
    );
    // An ONNX file says nothing of lineage: not a "base" model.
    assert_eq!(o["info"]["kind"], Value::Null, "{o}");
    assert_eq!(
        o["info"]["sources"],
        serde_json::json!(["custom-op.onnx", "standard.onnx"])
    );
    let message = o["findings"].to_string();
    assert!(
        message.contains("com.example.ops.FastGeluPlus"),
        "{message}"
    );
    assert_eq!(
        metadata(o, "custom-op.onnx", "opset_import"),
        ["ai.onnx 17", "ai.onnx.ml 3", "com.example.ops 1"]
    );
    assert_eq!(
        metadata(o, "standard.onnx", "producer_name"),
        ["onnx.helper"]
    );

    // Keras: Lambda runs on load; a custom layer is for review; plain is clean.
    let k = model(&models, "keras-lambda");
    assert_eq!(
        findings(k),
        [
            ("pickle-dangerous".to_string(), "lambda.keras".to_string()),
            (
                "pickle-unknown".to_string(),
                "custom-layer.keras".to_string()
            )
        ],
        "{k}"
    );
    assert!(
        k["findings"]
            .to_string()
            .contains("Keras config deserialises keras.layers.Lambda")
    );
    assert_eq!(metadata(k, "plain.keras", "keras_version"), ["3.15.1"]);
    assert_eq!(
        metadata(k, "lambda.keras", "layers"),
        ["InputLayer, Dense, Lambda, Dense"]
    );

    // NumPy: object arrays pickle os.system; plain arrays are not pickles.
    let n = model(&models, "numpy-arrays");
    assert_eq!(
        findings(n),
        [
            ("pickle-dangerous".to_string(), "object.npy".to_string()),
            ("pickle-dangerous".to_string(), "object.npz".to_string())
        ],
        "{n}"
    );
    for plain in ["plain.npy", "plain.npz"] {
        let a = n["info"]["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["path"] == plain)
            .unwrap();
        assert_eq!(a["pickle"], Value::Null, "{a}");
    }

    let code = aibomdb(&db, &["query", "models", "--pickle-dangerous"])
        .status
        .code();
    assert_eq!(code, Some(1));

    // The same through GraphQL.
    let server = Server::start(&db, &[]);
    let (status, v) = graphql(
        &server.addr,
        None,
        "{models{name derivedFrom{relation purl} fileMetadata{file key value} findings{kind path}}}",
        serde_json::json!({}),
    );
    assert_eq!(status, 200, "{v}");
    let text = v.to_string();
    assert!(
        text.contains("\"key\":\"general.base_model.0.repo_url\""),
        "{text}"
    );
    assert!(text.contains("\"value\":\"com.example.ops 1\""), "{text}");
    assert!(
        text.contains("{\"kind\":\"pickle-dangerous\",\"path\":\"lambda.keras\"}"),
        "{text}"
    );
    assert!(!text.contains(&token));
}

/// Bounds, through the whole importer: a GGUF that claims 2^40 key/value
/// pairs, a `.keras` zip bomb and a notebook nested a million deep are each a
/// problem on their file, named, and the rest of the folder is still read.
#[test]
fn bad_gguf_and_keras_bombs_are_problems_on_their_file() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bad");
    copy_fixture("gguf-quantized", &root);
    let mut g = std::fs::read(fixture("gguf-quantized/tinyllama-q8_0.gguf")).unwrap();
    g[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    std::fs::write(root.join("huge.gguf"), &g).unwrap();
    let mut z = zip::ZipWriter::new(std::fs::File::create(root.join("bomb.keras")).unwrap());
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("config.json", deflate).unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..256 {
        z.write_all(&spaces).unwrap();
    }
    z.finish().unwrap();
    // A notebook nested a million levels deep: the JSON parse stops at its
    // depth bound; the file is searched as text and the reason reported.
    let deep = format!(
        "{{\"cells\": {}{}}}",
        "[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    std::fs::write(root.join("deep.ipynb"), deep).unwrap();
    let db = common::db(&dir);
    let out = aibomdb(&db, &["ingest", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let models = json(&aibomdb(&db, &["query", "models", "--format", "json"]));
    let m = model(&models, "bad");
    let problems: Vec<String> = m["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "file-problem")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(problems.len(), 3, "{m}");
    assert!(
        problems[0].starts_with("bomb.keras: Keras archive: zip entry config.json: ")
            && problems[0].contains("zip bomb"),
        "{problems:?}"
    );
    assert!(
        problems[1]
            .starts_with("deep.ipynb: notebook is not readable JSON (recursion limit exceeded"),
        "{problems:?}"
    );
    assert!(
        problems[2].starts_with("huge.gguf: GGUF byte 16, metadata_kv_count: 1099511627776"),
        "{problems:?}"
    );
    // The good GGUF beside them still gave its lineage.
    assert_eq!(m["info"]["quantization"], "gguf Q8_0", "{m}");
}

/// A GGUF converted from a fine-tune: the file is quantized from its source
/// repository, and the base models its metadata names are the source's
/// parents — one linked by its Hub URL, one named only, said in a warning.
#[test]
fn gguf_source_and_its_parents_are_two_levels_of_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("gguf-finetune");
    copy_fixture("gguf-finetune", &root);
    let db = common::db(&dir);
    let out = aibomdb(&db, &["ingest", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lineage = json(&aibomdb(
        &db,
        &[
            "query",
            "lineage",
            "aibomdb-test/tinyllama-chat-ft",
            "--direction",
            "both",
            "--format",
            "json",
        ],
    ));
    let links: Vec<(String, String, String)> = lineage["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_string();
            (s("from"), s("relation"), s("to"))
        })
        .collect();
    assert_eq!(
        links,
        [
            (
                "pkg:generic/gguf-finetune".to_string(),
                "derived_from:quantized".to_string(),
                "pkg:huggingface/aibomdb-test/tinyllama-chat-ft".to_string()
            ),
            (
                "pkg:huggingface/aibomdb-test/tinyllama-chat-ft".to_string(),
                "derived_from:finetune".to_string(),
                "pkg:huggingface/TinyLlama/TinyLlama-1.1B-Chat-v1.0".to_string()
            )
        ],
        "{lineage}"
    );
    let docs = json(&aibomdb(&db, &["documents", "--format", "json"]));
    assert_eq!(
        docs[0]["warnings"],
        serde_json::json!([
            "base model \"In-house Adapter Merge\" of aibomdb-test/tinyllama-chat-ft \
             (GGUF metadata) is not an `org/name` hub id; not linked"
        ])
    );
    let models = json(&aibomdb(&db, &["query", "models", "--format", "json"]));
    assert_eq!(
        model(&models, "gguf-finetune")["info"]["quantization"],
        "gguf Q4_K_M"
    );
}
