//! Model directories → graph facts: a Hugging Face model card (README.md
//! front matter), `config.json`, PEFT `adapter_config.json`, Git LFS pointer
//! files and `SHA256SUMS`-style lists, and every file hashed (streaming) and
//! judged against the digests published for it. Weights are never loaded:
//! pickle data is scanned opcode by opcode, safetensors by its header.
//!
//! The model becomes the document's subject, a package node with a
//! `pkg:huggingface/<org>/<name>[@revision]` purl when its hub id is known
//! (else `pkg:generic/<directory name>`); base models and datasets become
//! package nodes joined by lineage edges, so "which deployments run an
//! adapter on base model M" is an ordinary blast-radius question.

pub mod card;
pub mod hub;
pub mod pickle;
pub mod safetensors;
pub mod signing;

use std::io::Read;
use std::path::{Path, PathBuf};

use aibomdb_graph::{
    Artifact, DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, ImportError, ModelInfo,
    PackageFact, PackageKey, PickleReport, Subject, Tool,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Bounds on what one model directory may make the importer read.
#[derive(Debug, Clone, Copy)]
pub struct ModelLimits {
    /// Files hashed per directory.
    pub max_files: usize,
    /// Largest config/card file parsed (weights are only hashed, in chunks).
    pub max_text_bytes: u64,
    /// Pickle bytes scanned per file (a torch zip's entries decompressed in all).
    pub max_pickle_bytes: u64,
    /// Entries looked at in a torch zip.
    pub max_zip_entries: usize,
    /// Also compute SHA-512 of every file (TR-03183-2's deliverable hash).
    pub sha512: bool,
}

impl Default for ModelLimits {
    fn default() -> Self {
        ModelLimits {
            max_files: 10_000,
            max_text_bytes: 16 * 1024 * 1024,
            max_pickle_bytes: 256 * 1024 * 1024,
            max_zip_entries: 100_000,
            sha512: false,
        }
    }
}

/// What the caller knows that the files do not: the hub id and revision.
#[derive(Debug, Clone, Default)]
pub struct ModelIdentity {
    /// `org/name` on the Hub.
    pub id: Option<String>,
    pub revision: Option<String>,
    /// The signer's public key (PEM), to verify a key-signed `model.sig`.
    pub signing_key: Option<String>,
    /// CA certificates (PEM) a certificate-signed `model.sig` must chain to.
    pub signing_certificates: Option<String>,
    /// The local name when there is no hub id (default: the directory's name).
    pub name: Option<String>,
    /// Check certificate validity at this time (seconds since the Unix epoch)
    /// instead of now, as `openssl verify -attime` does: a past signing
    /// time, or a fixed time for reproducible answers.
    pub verify_at: Option<u64>,
}

/// Whether a single file is a model description this importer reads: a
/// model card (Markdown whose YAML front matter has model-card keys), a PEFT
/// `adapter_config.json`, or a transformers `config.json`. `head` is the
/// start of the file.
pub fn sniff_file(file_name: &str, head: &str) -> bool {
    let name = file_name.to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}');
    if name.ends_with(".md") {
        let Some(rest) = head.strip_prefix("---") else {
            return false;
        };
        let front = rest.split("\n---").next().unwrap_or("");
        return front.lines().any(|l| {
            [
                "base_model:",
                "base_model_relation:",
                "datasets:",
                "library_name:",
                "pipeline_tag:",
                "model-index:",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        });
    }
    match name.as_str() {
        "adapter_config.json" => head.contains("\"peft_type\""),
        "config.json" => head.contains("\"model_type\"") || head.contains("\"architectures\""),
        _ => false,
    }
}

/// The key of a model on the Hub: `pkg:huggingface/org/name[@revision]`.
pub fn hub_key(id: &str, revision: Option<&str>) -> Option<PackageKey> {
    let id = id.trim().trim_matches('/');
    let (ns, name) = id.rsplit_once('/')?;
    if ns.is_empty() || name.is_empty() || id.starts_with('.') || id.contains("..") {
        return None;
    }
    Some(PackageKey::from_parts(
        "huggingface",
        Some(ns),
        name,
        revision,
    ))
}

/// Datasets: `pkg:huggingface/datasets/<org>/<name>` is not a purl type, so
/// datasets are generic packages under a `huggingface-datasets` namespace.
pub fn dataset_key(id: &str) -> PackageKey {
    let id = id.trim().trim_matches('/');
    match id.rsplit_once('/') {
        Some((org, name)) => PackageKey::from_parts(
            "generic",
            Some(&format!("huggingface-datasets/{org}")),
            name,
            None,
        ),
        None => PackageKey::from_parts("generic", Some("huggingface-datasets"), id, None),
    }
}

/// A local path as written in configs (`/content/outputs/...`, `./base`): not a hub id.
fn is_local_path(s: &str) -> bool {
    s.starts_with('/')
        || s.starts_with('.')
        || s.starts_with('~')
        || s.contains('\\')
        || s.contains(':')
}

pub fn import_dir(
    dir: &Path,
    identity: &ModelIdentity,
    limits: &ModelLimits,
) -> Result<DocumentFacts, ImportError> {
    let mut facts = DocumentFacts::new(DocumentFormat::ModelDirectory, "1");
    facts.tools.push(Tool {
        vendor: None,
        name: "aibomdb model directory".into(),
        version: Some(env!("CARGO_PKG_VERSION").into()),
    });
    let files = list_files(dir, limits)?;
    let read_text = |name: &str| -> Result<Option<String>, ImportError> {
        let p = dir.join(name);
        match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => {
                if m.len() > limits.max_text_bytes {
                    return Err(ImportError::field(
                        name,
                        format!(
                            "{} bytes, over the limit of {}",
                            m.len(),
                            limits.max_text_bytes
                        ),
                    ));
                }
                std::fs::read_to_string(&p)
                    .map(Some)
                    .map_err(|e| ImportError::field(name, e.to_string()))
            }
            _ => Ok(None),
        }
    };
    let json = |name: &str, text: &str| -> Result<Value, ImportError> {
        serde_json::from_str(text).map_err(|e| ImportError::Syntax {
            message: format!("{name}: {e}"),
            line: e.line(),
            column: e.column(),
            field: Some(name.into()),
        })
    };

    let mut info = ModelInfo {
        node: "model".into(),
        ..Default::default()
    };
    // (base model id, relation) and datasets.
    let mut bases: Vec<(String, Option<EdgeKind>, Option<String>)> = Vec::new();
    let mut trained_on: Vec<String> = Vec::new();
    let mut evaluated_on: Vec<String> = Vec::new();
    let mut explicit_relation = None;

    let card_name = ["README.md", "README.hf.md", "readme.md"]
        .into_iter()
        .find(|n| dir.join(n).is_file());
    if let Some(name) = card_name
        && let Some(text) = read_text(name)?
    {
        let c = card::parse(&text).map_err(|e| match e {
            ImportError::Syntax {
                message,
                line,
                column,
                ..
            } => ImportError::Syntax {
                message,
                line,
                column,
                field: Some(name.to_string()),
            },
            other => other,
        })?;
        if c.has_metadata {
            info.sources.push(name.to_string());
        }
        explicit_relation = c.relation.as_deref().and_then(EdgeKind::from_relation);
        for b in c.base_models {
            bases.push((b, None, None));
        }
        trained_on.extend(c.datasets);
        evaluated_on.extend(c.eval_datasets);
        info.license = c.license;
        info.library_name = c.library_name;
        info.pipeline_tag = c.pipeline_tag;
    }
    let mut adapter = false;
    if let Some(text) = read_text("adapter_config.json")? {
        let v = json("adapter_config.json", &text)?;
        adapter = true;
        info.sources.push("adapter_config.json".into());
        info.peft_type = v
            .get("peft_type")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(base) = v.get("base_model_name_or_path").and_then(Value::as_str) {
            let revision = v
                .get("revision")
                .and_then(Value::as_str)
                .map(str::to_string);
            bases.push((base.to_string(), Some(EdgeKind::AdapterOf), revision));
        }
    }
    if let Some(text) = read_text("config.json")? {
        let v = json("config.json", &text)?;
        info.sources.push("config.json".into());
        info.architectures = v
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        info.model_type = v
            .get("model_type")
            .and_then(Value::as_str)
            .map(str::to_string);
        info.transformers_version = v
            .get("transformers_version")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(q) = v.get("quantization_config") {
            let method = q
                .get("quant_method")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let bits = if q.get("load_in_4bit").and_then(Value::as_bool) == Some(true) {
                " 4-bit"
            } else if q.get("load_in_8bit").and_then(Value::as_bool) == Some(true) {
                " 8-bit"
            } else {
                ""
            };
            let qtype = q
                .get("bnb_4bit_quant_type")
                .and_then(Value::as_str)
                .map(|t| format!(" {t}"))
                .unwrap_or_default();
            info.quantization = Some(format!("{method}{qtype}{bits}"));
        }
        if let Some(base) = v.get("_name_or_path").and_then(Value::as_str)
            && !base.is_empty()
            && !is_local_path(base)
            && identity.id.as_deref() != Some(base)
        {
            bases.push((base.to_string(), None, None));
        }
    }
    if files.iter().any(|f| f.ends_with(".gguf")) && info.quantization.is_none() {
        info.quantization = Some("gguf".into());
    }

    // Hugging Face's rule when the card does not say: an adapter if there is
    // adapter_config.json, a merge if there are several bases, quantized if
    // the weights are, else a fine-tune.
    let mut distinct: Vec<(String, Option<EdgeKind>, Option<String>)> = Vec::new();
    for (b, k, r) in bases {
        let b = b.trim().to_string();
        if b.is_empty() || is_local_path(&b) {
            facts.warnings.push(format!(
                "base model {b:?} is a local path, not a hub id; not linked"
            ));
            continue;
        }
        match distinct
            .iter_mut()
            .find(|(x, _, _)| x.eq_ignore_ascii_case(&b))
        {
            Some(existing) => {
                existing.1 = existing.1.or(k);
                existing.2 = existing.2.take().or(r);
            }
            None => distinct.push((b, k, r)),
        }
    }
    let inferred = explicit_relation.unwrap_or(if adapter {
        EdgeKind::AdapterOf
    } else if distinct.len() > 1 {
        EdgeKind::MergedFrom
    } else if info.quantization.is_some() {
        EdgeKind::QuantizedFrom
    } else {
        EdgeKind::FinetunedFrom
    });
    info.kind = (!distinct.is_empty() || !info.sources.is_empty()).then(|| {
        if distinct.is_empty() {
            "base"
        } else {
            match inferred {
                EdgeKind::AdapterOf => "adapter",
                EdgeKind::MergedFrom => "merged",
                EdgeKind::QuantizedFrom => "quantized",
                _ => "fine-tune",
            }
        }
        .to_string()
    });

    // Files: hash each, read published digests, scan weights.
    let mut artifacts: Vec<Artifact> = Vec::new();
    let mut published: Vec<(String, String, String)> = Vec::new(); // (file, source, digest)
    let mut to_hash: Vec<&str> = Vec::new();
    for rel in &files {
        let path = dir.join(rel);
        if let Some(target) = rel.strip_suffix(".lfs-pointer.txt")
            && let Some(d) = lfs_pointer(&path)
        {
            published.push((target.to_string(), format!("git-lfs pointer {rel}"), d));
            continue;
        }
        if let Some(d) = lfs_pointer(&path) {
            // The file is an LFS pointer checked out without its content.
            published.push((rel.clone(), "git-lfs pointer".into(), d));
            continue;
        }
        let lower = rel.to_ascii_lowercase();
        let is_sums = lower.ends_with("sha256sums")
            || lower.ends_with(".sha256")
            || lower.ends_with("sha256sums.txt");
        if is_sums && let Ok(text) = std::fs::read_to_string(&path) {
            for (file, digest) in sums_list(&text) {
                published.push((file, rel.clone(), digest));
            }
        }
        to_hash.push(rel.as_str());
    }
    artifacts.extend(hash_all(dir, &to_hash, limits));
    let mut by_path: std::collections::HashMap<String, usize> = artifacts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.path.clone(), i))
        .collect();
    for (file, source, digest) in published {
        match by_path.get(&file) {
            Some(&i) => artifacts[i].references.push((source, digest)),
            None => {
                by_path.insert(file.clone(), artifacts.len());
                artifacts.push(Artifact {
                    path: file.clone(),
                    format: format_of(&file).into(),
                    references: vec![(source, digest)],
                    ..Default::default()
                });
            }
        }
    }
    for a in &mut artifacts {
        a.judge();
    }
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    let sig = dir.join("model.sig");
    if sig.is_file() {
        let bytes =
            std::fs::read(&sig).map_err(|e| ImportError::field("model.sig", e.to_string()))?;
        let trust = signing::Trust {
            public_key_pem: identity.signing_key.clone(),
            certificate_chain_pem: identity.signing_certificates.clone(),
            now: identity.verify_at.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            }),
        };
        info.signing = Some(signing::verify(&bytes, &trust, &artifacts));
        info.sources.push("model.sig".into());
    }
    info.artifacts = artifacts;

    // Nodes and edges.
    let dir_name = identity
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .map_or_else(|| dir_name_of(dir), |n| n.trim().to_string());
    let key = match identity.id.as_deref() {
        Some(id) => hub_key(id, identity.revision.as_deref()).ok_or_else(|| {
            ImportError::field("--id", format!("{id:?} is not an `org/name` hub id"))
        })?,
        None => PackageKey::from_parts("generic", None, &dir_name, identity.revision.as_deref()),
    };
    let name = identity.id.clone().unwrap_or(dir_name);
    facts.packages.push(PackageFact {
        purl: Some(key.as_str().to_string()),
        purl_synthesized: identity.id.is_none(),
        name: name.clone(),
        version: identity.revision.clone(),
        kind: Some("machine-learning-model".into()),
        licenses: info.license.iter().cloned().collect(),
        key: Some(key),
        model: Some(Box::new(info)),
        ..Default::default()
    });
    facts.subject = Some(Subject {
        name,
        version: identity.revision.clone(),
        kind: Some("machine-learning-model".into()),
        package: Some(0),
        reference: None,
    });
    for (base, kind, revision) in distinct {
        let Some(key) = hub_key(&base, revision.as_deref()) else {
            facts.warnings.push(format!(
                "base model {base:?} is not an `org/name` hub id; not linked"
            ));
            continue;
        };
        facts.packages.push(PackageFact {
            purl: Some(key.as_str().to_string()),
            name: base.clone(),
            version: revision,
            kind: Some("machine-learning-model".into()),
            key: Some(key),
            model: Some(Box::new(ModelInfo {
                node: "model".into(),
                ..Default::default()
            })),
            ..Default::default()
        });
        facts.dependencies.push(DependencyFact {
            from: 0,
            to: facts.packages.len() - 1,
            kind: explicit_relation.or(kind).unwrap_or(inferred),
            scope: None,
            marker: None,
            via_extra: None,
        });
    }
    for (list, kind) in [
        (trained_on, EdgeKind::TrainedOn),
        (evaluated_on, EdgeKind::EvaluatedOn),
    ] {
        for d in list {
            let key = dataset_key(&d);
            facts.packages.push(PackageFact {
                purl: Some(key.as_str().to_string()),
                purl_synthesized: true,
                name: d.clone(),
                kind: Some("data".into()),
                key: Some(key),
                model: Some(Box::new(ModelInfo {
                    node: "dataset".into(),
                    ..Default::default()
                })),
                ..Default::default()
            });
            facts.dependencies.push(DependencyFact {
                from: 0,
                to: facts.packages.len() - 1,
                kind,
                scope: None,
                marker: None,
                via_extra: None,
            });
        }
    }
    facts.entries_read = facts.packages.len() - 1;
    Ok(facts.finish())
}

fn dir_name_of(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into())
}

/// A content digest of the directory listing (names and file digests), so that
/// ingesting an unchanged directory again is a no-op.
pub fn manifest_digest(facts: &DocumentFacts) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in &facts.packages {
        h.update(p.key.as_ref().map_or("", |k| k.as_str()).as_bytes());
        if let Some(m) = &p.model {
            // What could be checked depends on the key given, not only the files.
            if let Some(s) = &m.signing {
                h.update(s.status.as_bytes());
            }
            for a in &m.artifacts {
                h.update(a.path.as_bytes());
                h.update(a.sha256.as_deref().unwrap_or("-").as_bytes());
                h.update(a.sha512.as_deref().unwrap_or("-").as_bytes());
                for (s, d) in &a.references {
                    h.update(s.as_bytes());
                    h.update(d.as_bytes());
                }
            }
        }
    }
    for e in &facts.dependencies {
        h.update([e.kind.code()]);
        h.update((e.from as u64).to_le_bytes());
        h.update((e.to as u64).to_le_bytes());
    }
    h.finalize().into()
}

fn list_files(dir: &Path, limits: &ModelLimits) -> Result<Vec<String>, ImportError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let entries = std::fs::read_dir(dir.join(&rel))
            .map_err(|e| ImportError::field(dir.join(&rel).display().to_string(), e.to_string()))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue; // .git, .cache
            }
            let path = rel.join(&*name);
            let Ok(ty) = entry.file_type() else { continue };
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() {
                out.push(path.to_string_lossy().replace('\\', "/"));
                if out.len() > limits.max_files {
                    return Err(ImportError::field(
                        dir.display().to_string(),
                        format!("more than {} files", limits.max_files),
                    ));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `oid sha256:<hex>` of a Git LFS pointer file, if `path` is one.
fn lfs_pointer(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > 1024 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    if !text.starts_with("version https://git-lfs.github.com/spec/") {
        return None;
    }
    text.lines()
        .find_map(|l| l.strip_prefix("oid sha256:"))
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `sha256sum` output: `<hex>  <file>` or `<hex> *<file>`.
fn sums_list(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (digest, file) = l.trim().split_once(char::is_whitespace)?;
            let file = file.trim().trim_start_matches('*').trim_start_matches("./");
            (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (file.to_string(), digest.to_ascii_lowercase()))
        })
        .collect()
}

pub(crate) fn format_of(path: &str) -> &'static str {
    let lower = path.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or("");
    match ext {
        "safetensors" => "safetensors",
        "bin" | "pt" | "pth" | "ckpt" | "pkl" | "pickle" | "jit" | "ptl" => "pickle",
        "gguf" => "gguf",
        "onnx" => "onnx",
        "json" if lower.contains("tokenizer") || lower.contains("vocab") => "tokenizer",
        "json" | "yaml" | "yml" => "config",
        "model" if lower.contains("tokenizer") || lower.contains("spiece") => "tokenizer",
        "txt" if lower.contains("merges") || lower.contains("vocab") => "tokenizer",
        _ => "other",
    }
}

/// Hashes and scans `files` (relative to `dir`) on up to four threads, each
/// with one reusable 1 MiB buffer; results in the order given.
fn hash_all(dir: &Path, files: &[&str], limits: &ModelLimits) -> Vec<Artifact> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Artifact)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut buf = vec![0u8; 1 << 20];
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(rel) = files.get(i) else { break };
                        out.push((i, hash_and_scan(&dir.join(rel), rel, limits, &mut buf)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, a)| a).collect()
}

/// Hashes a file in 1 MiB chunks and, by its format, scans its header or
/// pickle opcodes. Problems are recorded on the artifact, not raised: one bad
/// weight file must not hide the others.
fn hash_and_scan(path: &Path, rel: &str, limits: &ModelLimits, buf: &mut [u8]) -> Artifact {
    let mut a = Artifact {
        path: rel.to_string(),
        format: format_of(rel).into(),
        ..Default::default()
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            a.problems.push(format!("cannot read: {e}"));
            return a;
        }
    };
    let mut head = Vec::new();
    let mut hasher = Sha256::new();
    let mut hasher512 = limits.sha512.then(sha2::Sha512::new);
    let mut size = 0u64;
    loop {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                if let Some(h) = hasher512.as_mut() {
                    h.update(&buf[..n]);
                }
                if head.len() < 16 {
                    head.extend_from_slice(&buf[..n.min(16 - head.len())]);
                }
                size += n as u64;
            }
            Err(e) => {
                a.problems.push(format!("read failed: {e}"));
                return a;
            }
        }
    }
    a.size = Some(size);
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    a.sha256 = Some(hex(&hasher.finalize()));
    a.sha512 = hasher512.map(|h| hex(&h.finalize()));
    // Content decides over the extension.
    let is_zip = head.starts_with(b"PK\x03\x04");
    let is_pickle = head.first() == Some(&0x80) && head.get(1).is_some_and(|p| *p <= 5);
    if rel.to_ascii_lowercase().ends_with(".safetensors") {
        match safetensors::header(path, size) {
            Ok(n) => a.tensors = Some(n),
            Err(e) => a.problems.push(format!("safetensors header: {e}")),
        }
    } else if is_zip && a.format == "pickle" {
        let (report, torchscript) = scan_torch_zip(path, limits);
        a.format = if torchscript {
            "torchscript"
        } else {
            "torch-zip"
        }
        .into();
        a.pickle = Some(report);
    } else if is_pickle || a.format == "pickle" {
        a.format = "pickle".into();
        let mut report = PickleReport::default();
        if size > limits.max_pickle_bytes {
            report.error = Some(format!("{size} bytes, over the scan limit"));
        } else {
            match std::fs::read(path) {
                Ok(bytes) => pickle::scan(&bytes, &mut report),
                Err(e) => report.error = Some(e.to_string()),
            }
        }
        a.pickle = Some(report);
    } else if head.starts_with(b"GGUF") {
        a.format = "gguf".into();
    }
    a
}

/// PyTorch's zip checkpoints keep the object graph in `*/data.pkl` (and other
/// `.pkl` entries); tensors sit in raw storage entries that are not read.
/// TorchScript archives (`torch.jit.save`) have the same layout plus the
/// compiled program under `*/code/` and `*/constants.pkl`: the second value
/// says whether this is one.
fn scan_torch_zip(path: &Path, limits: &ModelLimits) -> (PickleReport, bool) {
    let mut report = PickleReport::default();
    let mut torchscript = false;
    let result = (|| -> Result<(), String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| e.to_string())?;
        if zip.len() > limits.max_zip_entries {
            return Err(format!("{} entries, over the limit", zip.len()));
        }
        let mut budget = limits.max_pickle_bytes;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
            let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
            torchscript |= name.contains("/code/__torch__/") || name.ends_with("/constants.pkl");
            if !name.ends_with(".pkl") {
                continue;
            }
            if entry.size() > budget {
                return Err(format!("{name}: decompressed size over the scan limit"));
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(budget)
                .read_to_end(&mut bytes)
                .map_err(|e| e.to_string())?;
            budget -= bytes.len() as u64;
            pickle::scan(&bytes, &mut report);
        }
        if report.streams == 0 && report.error.is_none() {
            return Err("no pickle (*.pkl) entry in the archive: not a PyTorch checkpoint".into());
        }
        Ok(())
    })();
    if let Err(e) = result {
        report.error = Some(e);
    }
    (report, torchscript)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus")
            .join(rel)
    }

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/models")
            .join(rel)
    }

    /// Every card fixture of huggingface_hub: parsed, or refused with a reason.
    #[test]
    fn huggingface_hub_card_fixtures() {
        let dir = corpus("formats/huggingface/huggingface_hub-fixtures/cards");
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
        let simple = card::parse(&read("sample_simple.md")).unwrap();
        assert_eq!(simple.license.as_deref(), Some("mit"));
        assert_eq!(simple.datasets, ["beans"]);
        assert_eq!(simple.library_name.as_deref(), Some("pytorch-lightning"));
        let none = card::parse(&read("sample_no_metadata.md")).unwrap();
        assert!(!none.has_metadata);
        let crlf = card::parse(&read("sample_windows_line_breaks.md")).unwrap();
        assert_eq!(crlf.license.as_deref(), Some("mit"));
        let index = card::parse(&read("sample_simple_model_index.md")).unwrap();
        assert_eq!(index.eval_datasets, ["beans"]);
        // An invalid model-index is not lineage: the rest of the card still reads.
        let bad_index = card::parse(&read("sample_invalid_model_index.md")).unwrap();
        assert_eq!(bad_index.license.as_deref(), Some("mit"));
        assert!(card::parse(&read("sample_invalid_card_data.md")).is_err());
        let dataset = card::parse(&read("sample_datasetcard_simple.md")).unwrap();
        assert_eq!(dataset.license.as_deref(), Some("bsd-3-clause"));
        let broken = card::parse("---\nlicense: [mit\n---\n").unwrap_err();
        assert!(broken.to_string().contains("README.md"), "{broken}");
    }

    /// Every prefix of every fixture pickle scans without panicking, and a
    /// cut stream says where it ended.
    #[test]
    fn truncated_pickles_are_errors_not_panics() {
        for name in [
            "checkpoint-pickle/optimizer.pt",
            "checkpoint-pickle/training_args.bin",
        ] {
            let bytes = std::fs::read(fixture(name)).unwrap();
            for n in 0..bytes.len() {
                let mut r = PickleReport::default();
                pickle::scan(&bytes[..n], &mut r);
            }
            let mut r = PickleReport::default();
            pickle::scan(&bytes[..bytes.len() / 2], &mut r);
            assert!(r.error.is_some(), "{name}: {r:?}");
        }
        let mut r = PickleReport::default();
        pickle::scan(&[0x80, 0x02, 0xff, 0x2e], &mut r);
        assert!(r.error.unwrap().contains("unknown opcode 0xff"));
    }

    #[test]
    fn safetensors_headers_are_checked_against_the_file() {
        let path = fixture("finetune-safetensors/model.safetensors");
        let size = std::fs::metadata(&path).unwrap().len();
        assert_eq!(safetensors::header(&path, size).unwrap(), 2);
        let bytes = std::fs::read(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Cut into the tensor data: the offsets no longer fit.
        let cut = dir.path().join("cut.safetensors");
        std::fs::write(&cut, &bytes[..bytes.len() - 4]).unwrap();
        let err = safetensors::header(&cut, (bytes.len() - 4) as u64).unwrap_err();
        assert!(err.contains("outside"), "{err}");
        // A length prefix larger than the file.
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        let p = dir.path().join("huge.safetensors");
        std::fs::write(&p, &huge).unwrap();
        assert!(safetensors::header(&p, huge.len() as u64).is_err());
    }

    /// A torch checkpoint whose pickle inflates far past the scan budget, and
    /// one with more entries than allowed: both stop with an error, without
    /// reading the rest, and neither counts as a pass.
    #[test]
    fn torch_zip_bombs_stop_at_the_limits() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let bomb = dir.path().join("bomb.pt");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
        let deflate = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("weird_root/data.pkl", deflate).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..16 {
            z.write_all(&zeros).unwrap(); // 16 MiB, a few KiB compressed
        }
        z.finish().unwrap();
        assert!(std::fs::metadata(&bomb).unwrap().len() < 200_000);
        let limits = ModelLimits {
            max_pickle_bytes: 1 << 20,
            ..Default::default()
        };
        let (report, _) = scan_torch_zip(&bomb, &limits);
        assert!(report.error.unwrap().contains("over the scan limit"));

        let many = dir.path().join("many.pt");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&many).unwrap());
        for i in 0..50 {
            z.start_file(format!("a/{i}.pkl"), deflate).unwrap();
            z.write_all(b"\x80\x02}q\x00.").unwrap();
        }
        z.finish().unwrap();
        let limits = ModelLimits {
            max_zip_entries: 10,
            ..Default::default()
        };
        let (report, _) = scan_torch_zip(&many, &limits);
        assert!(report.error.unwrap().contains("50 entries, over the limit"));
        // Under the default limits the same archive scans: 50 benign streams.
        let (report, _) = scan_torch_zip(&many, &ModelLimits::default());
        assert_eq!((report.streams, report.error), (50, None));
    }

    #[test]
    fn hub_ids_and_dataset_keys() {
        assert_eq!(
            hub_key("meta-llama/Llama-3.2-3B-Instruct", None)
                .unwrap()
                .as_str(),
            "pkg:huggingface/meta-llama/Llama-3.2-3B-Instruct"
        );
        assert!(hub_key("bert-base-uncased", None).is_none());
        assert!(hub_key("../x/y", None).is_none());
        assert_eq!(
            dataset_key("beans").as_str(),
            "pkg:generic/huggingface-datasets/beans"
        );
    }
}
