//! Model directories → graph facts: a Hugging Face model card (README.md
//! front matter), `config.json`, PEFT `adapter_config.json`, Git LFS pointer
//! files and `SHA256SUMS`-style lists, and every file hashed (streaming) and
//! judged against the digests published for it. Weights are never loaded:
//! pickle data is scanned opcode by opcode (also a NumPy object array's),
//! safetensors and GGUF by their headers (GGUF metadata giving lineage,
//! licence and quantisation), ONNX by its protobuf's opsets and operators, a
//! Keras archive by its config's objects — each format in its own module.
//!
//! The model becomes the document's subject, a package node with a
//! `pkg:huggingface/<org>/<name>[@revision]` purl when its hub id is known
//! (else `pkg:generic/<directory name>`); base models and datasets become
//! package nodes joined by lineage edges, so "which deployments run an
//! adapter on base model M" is an ordinary blast-radius question.

pub mod card;
pub mod gguf;
pub mod hub;
pub mod keras;
pub mod numpy;
pub mod onnx;
pub mod pickle;
pub mod safetensors;
mod scan;
pub mod signing;
mod walk;

pub use walk::hub_cache_repo;

use std::path::Path;

use aibomdb_graph::{
    Artifact, DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, ImportError, ModelInfo,
    PackageFact, PackageKey, Subject, Tool,
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
    let identity = &snapshot_identity(dir, identity);
    let listing = walk::list_files(dir, limits)?;
    facts.skipped.extend(listing.skipped.iter().cloned());
    facts.warnings.extend(listing.notes.iter().cloned());
    // Only what the listing accepted is read: a config reached through a
    // link that leaves the directory is not.
    let read_text = |name: &str| -> Result<Option<String>, ImportError> {
        let Some(p) = listing.readable(name) else {
            return Ok(None);
        };
        match std::fs::metadata(p) {
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
                std::fs::read_to_string(p)
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
        .find(|n| listing.readable(n).is_some());
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
    // Files: hash each, read published digests, scan weights.
    let mut artifacts: Vec<Artifact> = Vec::new();
    let mut published: Vec<(String, String, String)> = Vec::new(); // (file, source, digest)
    let mut to_hash: Vec<(&str, &Path)> = Vec::new();
    for file in &listing.files {
        let rel = &file.rel;
        let path = file.path.as_path();
        if let Some(reason) = &file.refused {
            // Never opened; a finding, since the file cannot be checked.
            artifacts.push(Artifact {
                path: rel.clone(),
                format: format_of(rel).into(),
                problems: vec![reason.clone()],
                ..Default::default()
            });
            continue;
        }
        if let Some(target) = rel.strip_suffix(".lfs-pointer.txt")
            && let Some(d) = lfs_pointer(path)
        {
            published.push((target.to_string(), format!("git-lfs pointer {rel}"), d));
            continue;
        }
        if let Some(d) = lfs_pointer(path) {
            // The file is an LFS pointer checked out without its content.
            published.push((rel.clone(), "git-lfs pointer".into(), d));
            continue;
        }
        let lower = rel.to_ascii_lowercase();
        let is_sums = lower.ends_with("sha256sums")
            || lower.ends_with(".sha256")
            || lower.ends_with("sha256sums.txt");
        if is_sums && let Ok(text) = std::fs::read_to_string(path) {
            for (file, digest) in sums_list(&text) {
                published.push((file, rel.clone(), digest));
            }
        }
        to_hash.push((rel.as_str(), path));
    }
    let mut secrets = Vec::new();
    let mut headers = Vec::new();
    for (artifact, found, header) in scan::hash_all(&to_hash, limits) {
        if let Some(h) = header {
            headers.push((artifact.path.clone(), h));
        }
        artifacts.push(artifact);
        secrets.extend(found);
    }
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
    // Parents of a model a GGUF file was converted from (its source).
    let mut source_parents: Vec<(String, String)> = Vec::new();
    let mut gguf_types: Vec<String> = Vec::new();
    let mut file_metadata = Vec::new();
    // Weight files read for facts: sources too, but (unlike a card or a
    // config) saying nothing of lineage does not make the model a base.
    let mut header_sources = Vec::new();
    for (path, header) in &headers {
        header_sources.push(path.clone());
        header.metadata(path, &mut file_metadata);
        if let scan::FileHeader::Gguf(g) = header {
            from_gguf(g, identity, &mut info, &mut bases, &mut source_parents);
            if let Some(q) = g.quantization()
                && !gguf_types.contains(&q)
            {
                gguf_types.push(q);
            }
        }
    }
    if listing.files.iter().any(|f| f.rel.ends_with(".gguf")) && info.quantization.is_none() {
        info.quantization = Some(if gguf_types.is_empty() {
            "gguf".into()
        } else {
            format!("gguf {}", gguf_types.join(", "))
        });
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
    info.sources.extend(header_sources);

    if let Some(sig) = listing.readable("model.sig") {
        let bytes =
            std::fs::read(sig).map_err(|e| ImportError::field("model.sig", e.to_string()))?;
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
        secrets,
        file_metadata,
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
    for (source, parent) in source_parents {
        let Some(from) = facts.packages.iter().position(|p| p.name == source) else {
            continue;
        };
        let Some(key) = hub_key(&parent, None) else {
            facts.warnings.push(format!(
                "base model {parent:?} of {source} (GGUF metadata) is not an `org/name` hub id; not linked"
            ));
            continue;
        };
        let to = match facts
            .packages
            .iter()
            .position(|p| p.key.as_ref() == Some(&key))
        {
            Some(i) => i,
            None => {
                facts.packages.push(PackageFact {
                    purl: Some(key.as_str().to_string()),
                    name: parent.clone(),
                    kind: Some("machine-learning-model".into()),
                    key: Some(key),
                    model: Some(Box::new(ModelInfo {
                        node: "model".into(),
                        ..Default::default()
                    })),
                    ..Default::default()
                });
                facts.packages.len() - 1
            }
        };
        facts.dependencies.push(DependencyFact {
            from,
            to,
            kind: EdgeKind::FinetunedFrom,
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

/// What a GGUF file's metadata adds: the architecture (llama.cpp's names
/// are transformers' `model_type`s), the licence, and lineage. A file
/// converted from a Hugging Face repository (`general.source.*`) is a
/// quantisation of that repository, and the base models its metadata names
/// (`general.base_model.N`, copied from the source's card by llama.cpp's
/// converter) are the source's parents; without a source they are the
/// file's own. A base model is linked by its `repo_url` on the Hub, else its
/// name is given (and a warning says it could not be linked).
fn from_gguf(
    g: &gguf::Header,
    identity: &ModelIdentity,
    info: &mut ModelInfo,
    bases: &mut Vec<(String, Option<EdgeKind>, Option<String>)>,
    source_parents: &mut Vec<(String, String)>,
) {
    if info.model_type.is_none() {
        info.model_type = g.architecture.clone();
    }
    if info.license.is_none() {
        info.license = g.license.clone();
    }
    let source = [&g.source_repo_url, &g.source_url]
        .into_iter()
        .flatten()
        .find_map(|u| gguf::hub_id_of_url(u))
        .or_else(|| g.source_hf_repository.clone())
        .filter(|s| identity.id.as_deref() != Some(s.as_str()));
    let parents = g.base_models.iter().filter_map(|b| {
        b.repo_url
            .as_deref()
            .and_then(gguf::hub_id_of_url)
            .or_else(|| b.name.clone())
    });
    match &source {
        Some(src) => {
            bases.push((src.clone(), Some(EdgeKind::QuantizedFrom), None));
            for p in parents {
                if !p.eq_ignore_ascii_case(src) {
                    source_parents.push((src.clone(), p));
                }
            }
        }
        None => bases.extend(parents.map(|p| (p, None, None))),
    }
}

/// A Hub cache snapshot (`models--org--name/snapshots/<commit>`) names its
/// model and revision; what the caller gave wins.
fn snapshot_identity(dir: &Path, identity: &ModelIdentity) -> ModelIdentity {
    let mut out = identity.clone();
    let Some(real) = dir.canonicalize().ok() else {
        return out;
    };
    let Some(repo) = hub_cache_repo(&real) else {
        return out;
    };
    let repo_name = repo.file_name().map(|n| n.to_string_lossy().into_owned());
    let Some(name) = repo_name
        .as_deref()
        .and_then(|n| n.strip_prefix("models--"))
    else {
        return out;
    };
    if real.parent() != Some(repo.join("snapshots").as_path()) {
        return out;
    }
    if out.id.is_none() && out.name.is_none() {
        // huggingface_hub writes `org/name` as `org--name`; `--` is not
        // allowed in a repo id, so the split is exact.
        match name.split_once("--") {
            Some((org, n)) => out.id = Some(format!("{org}/{n}")),
            None => out.name = Some(name.to_string()),
        }
    }
    if out.revision.is_none() {
        out.revision = real.file_name().map(|n| n.to_string_lossy().into_owned());
    }
    out
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
        "bin" | "pt" | "pth" | "ckpt" | "pkl" | "pickle" | "joblib" | "jit" | "ptl" => "pickle",
        "keras" => "keras",
        "npy" | "npz" => "numpy",
        "gguf" => "gguf",
        "onnx" => "onnx",
        "json" if lower.contains("tokenizer") || lower.contains("vocab") => "tokenizer",
        "json" | "yaml" | "yml" => "config",
        "model" if lower.contains("tokenizer") || lower.contains("spiece") => "tokenizer",
        "txt" if lower.contains("merges") || lower.contains("vocab") => "tokenizer",
        _ => "other",
    }
}

#[cfg(test)]
mod tests;
