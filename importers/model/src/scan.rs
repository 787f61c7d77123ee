//! Hashing and scanning model files: every file hashed in 1 MiB chunks,
//! weights scanned by their format (safetensors header, pickle opcodes, the
//! pickles inside a PyTorch zip), never loaded.

use std::io::Read;
use std::path::Path;

use aibomdb_graph::{Artifact, FileMetadata, PickleReport, SecretFinding};
use aibomdb_secrets::Rules;
use sha2::{Digest, Sha256};

use crate::{ModelLimits, format_of, gguf, keras, numpy, onnx, pickle, safetensors};

/// What a weight file's own header says about the model, for the model
/// importer to record (lineage, architecture, quantisation, producer).
#[derive(Debug, Clone)]
pub(crate) enum FileHeader {
    Gguf(gguf::Header),
    Onnx(onnx::Model),
    Keras(keras::Report),
}

impl FileHeader {
    /// The header's facts as key/value pairs for the file `path`.
    /// A value that holds a secret (a token in a source URL) is withheld:
    /// the secret is found and reported, redacted, by the secrets scan.
    pub(crate) fn metadata(&self, path: &str, out: &mut Vec<FileMetadata>) {
        let mut put = |key: &str, value: Option<String>| {
            if let Some(mut value) = value {
                if !Rules::gitleaks().scan(value.as_bytes(), path).is_empty() {
                    value = "(withheld: holds a secret, reported among the model's secrets)".into();
                }
                out.push(FileMetadata {
                    file: path.to_string(),
                    key: key.to_string(),
                    value,
                });
            }
        };
        match self {
            FileHeader::Gguf(g) => {
                put("gguf.version", Some(g.version.to_string()));
                put("tensor_count", Some(g.tensor_count.to_string()));
                put("general.architecture", g.architecture.clone());
                put(
                    "general.file_type",
                    g.file_type
                        .map(|t| format!("{t} ({})", g.quantization().unwrap_or_default())),
                );
                put("general.name", g.name.clone());
                put("general.version", g.model_version.clone());
                put("general.license", g.license.clone());
                put(
                    "general.base_model.count",
                    g.base_model_count.map(|n| n.to_string()),
                );
                for (i, b) in g.base_models.iter().enumerate() {
                    let k = |f: &str| format!("general.base_model.{i}.{f}");
                    put(&k("name"), b.name.clone());
                    put(&k("organization"), b.organization.clone());
                    put(&k("repo_url"), b.repo_url.clone());
                    put(&k("version"), b.version.clone());
                }
                put("general.source.url", g.source_url.clone());
                put("general.source.repo_url", g.source_repo_url.clone());
                put(
                    "general.source.huggingface.repository",
                    g.source_hf_repository.clone(),
                );
            }
            FileHeader::Onnx(m) => {
                put("ir_version", m.ir_version.map(|v| v.to_string()));
                put("producer_name", m.producer_name.clone());
                put("producer_version", m.producer_version.clone());
                put("domain", m.domain.clone().filter(|d| !d.is_empty()));
                put("model_version", m.model_version.map(|v| v.to_string()));
                for (domain, version) in &m.opsets {
                    let d = if domain.is_empty() { "ai.onnx" } else { domain };
                    put("opset_import", Some(format!("{d} {version}")));
                }
                put("nodes", Some(m.nodes.to_string()));
                let custom = m.custom_ops();
                put(
                    "custom_ops",
                    (!custom.is_empty()).then(|| custom.join(", ")),
                );
            }
            FileHeader::Keras(r) => {
                put("keras_version", r.keras_version.clone());
                put("model_class", r.model_class.clone());
                put(
                    "layers",
                    (!r.layers.is_empty()).then(|| r.layers.join(", ")),
                );
            }
        }
    }
}

/// A file's artifact, the secrets found in it, and its header's facts.
pub(crate) type Scanned = (Artifact, Vec<SecretFinding>, Option<FileHeader>);

/// Hashes and scans `files` (the name each is reported under, and the path
/// to open) on up to four threads, each with one reusable 1 MiB buffer;
/// results in the order given.
pub(crate) fn hash_all(files: &[(&str, &Path)], limits: &ModelLimits) -> Vec<Scanned> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Scanned)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut buf = vec![0u8; 1 << 20];
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((rel, path)) = files.get(i) else {
                            break;
                        };
                        out.push((i, hash_and_scan(path, rel, limits, &mut buf)));
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
/// pickle opcodes, and looks for secrets (text files whole, the string
/// constants of pickles, a safetensors header). Problems are recorded on
/// the artifact, not raised: one bad weight file must not hide the others.
fn hash_and_scan(path: &Path, rel: &str, limits: &ModelLimits, buf: &mut [u8]) -> Scanned {
    let mut secrets = Vec::new();
    let mut header = None;
    let a = hash_and_scan_into(path, rel, limits, buf, &mut secrets, &mut header);
    (a, secrets, header)
}

/// Secrets of `text` (part of the file `rel`, `within` naming which part),
/// with offsets shifted by `base` to be the file's (or entry's).
fn secrets_in(
    text: &[u8],
    rel: &str,
    within: &str,
    base: usize,
    lines: bool,
    out: &mut Vec<SecretFinding>,
) {
    for hit in Rules::gitleaks().scan(text, rel) {
        out.push(SecretFinding {
            rule: hit.rule,
            file: rel.to_string(),
            within: within.to_string(),
            line: lines.then_some(hit.line as u64),
            offset: Some((base + hit.offset) as u64),
            redacted: hit.redacted,
            fingerprint: hit.fingerprint,
        });
    }
}

/// Secrets in the string constants a pickle scan remembered.
fn pickle_secrets(
    scanner: &mut pickle::Scanner,
    data: &[u8],
    rel: &str,
    within: &str,
    out: &mut Vec<SecretFinding>,
) {
    for (start, end) in scanner.take_strings() {
        if let Some(s) = data.get(start..end) {
            secrets_in(s, rel, within, start, false, out);
        }
    }
}

/// A Jupyter notebook is JSON: a cell's code is in JSON strings, where a
/// quote is `\"` and a line ends in `\n`, which gitleaks' patterns (written
/// for source files) do not expect around a secret. Each cell's source and
/// text outputs are decoded and scanned as the code they are (`within` names
/// the cell, `line` is the line in it). A notebook that is not JSON is
/// scanned as plain text.
/// Searches a notebook's cells and outputs for secrets. A notebook that does
/// not read as JSON (malformed, or nested past serde_json's depth limit of
/// 128, which bounds the parse) is searched as plain text, and the reason is
/// returned as a problem on the file: it is never skipped silently.
fn notebook_secrets(bytes: &[u8], rel: &str, out: &mut Vec<SecretFinding>) -> Option<String> {
    let nb = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(nb) => nb,
        Err(e) => {
            secrets_in(bytes, rel, "text", 0, true, out);
            return Some(format!(
                "notebook is not readable JSON ({e}); searched for secrets as plain text"
            ));
        }
    };
    let joined = |v: &serde_json::Value| -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(parts) => Some(
                parts
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect::<String>(),
            ),
            _ => None,
        }
    };
    let cells = nb.get("cells").and_then(|c| c.as_array());
    for (i, cell) in cells.into_iter().flatten().enumerate() {
        let mut texts: Vec<(String, String)> = Vec::new();
        if let Some(src) = cell.get("source").and_then(joined) {
            texts.push((format!("cell {i}"), src));
        }
        let outputs = cell.get("outputs").and_then(|o| o.as_array());
        for (j, output) in outputs.into_iter().flatten().enumerate() {
            let text = output.get("text").and_then(joined).or_else(|| {
                output
                    .get("data")
                    .and_then(|d| d.get("text/plain"))
                    .and_then(joined)
            });
            if let Some(t) = text {
                texts.push((format!("cell {i} output {j}"), t));
            }
        }
        for (within, text) in texts {
            for hit in Rules::gitleaks().scan(text.as_bytes(), rel) {
                out.push(SecretFinding {
                    rule: hit.rule,
                    file: rel.to_string(),
                    within: within.clone(),
                    line: Some(hit.line as u64),
                    offset: None,
                    redacted: hit.redacted,
                    fingerprint: hit.fingerprint,
                });
            }
        }
    }
    None
}

/// Text, not binary: no NUL byte in its first 8 KiB.
fn is_text(bytes: &[u8]) -> bool {
    !bytes[..bytes.len().min(8192)].contains(&0)
}

/// GGUF header and metadata; every string value searched for secrets.
fn gguf_scan(
    path: &Path,
    rel: &str,
    size: u64,
    a: &mut Artifact,
    secrets: &mut Vec<SecretFinding>,
) -> Option<FileHeader> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            a.problems.push(format!("GGUF: {e}"));
            return None;
        }
    };
    let mut on_string = |s: gguf::StringValue<'_>| {
        let within = match s.index {
            Some(i) => format!("gguf metadata {}[{i}]", s.key),
            None => format!("gguf metadata {}", s.key),
        };
        secrets_in(s.bytes, rel, &within, s.offset as usize, false, secrets);
    };
    match gguf::read(
        std::io::BufReader::new(file),
        size,
        &gguf::Limits::default(),
        &mut on_string,
    ) {
        Ok(h) => {
            a.tensors = Some(h.tensor_count);
            Some(FileHeader::Gguf(h))
        }
        Err(e) => {
            a.problems.push(e.to_string());
            None
        }
    }
}

/// An `.npy` array or `.npz` archive: object arrays are pickles, scanned
/// (and their strings searched for secrets); plain arrays are not read past
/// their header.
fn numpy_scan(
    path: &Path,
    rel: &str,
    size: u64,
    is_zip: bool,
    limits: &ModelLimits,
    a: &mut Artifact,
    secrets: &mut Vec<SecretFinding>,
) {
    let mut scanner = pickle::Scanner::new();
    scanner.collect_strings();
    let result = if is_zip {
        std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                numpy::scan_npz(
                    f,
                    &keras::ZipLimits::default(),
                    limits.max_pickle_bytes,
                    &mut scanner,
                    &mut |name, bytes, scanner| pickle_secrets(scanner, bytes, rel, name, secrets),
                )
            })
    } else {
        (|| {
            let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
            let mut head = Vec::new();
            (&mut f)
                .take(12 + (1 << 16))
                .read_to_end(&mut head)
                .map_err(|e| e.to_string())?;
            if !numpy::header(&head)?.object {
                return Ok(false);
            }
            if size > limits.max_pickle_bytes {
                return Err(format!("{size} bytes of object array, over the scan limit"));
            }
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            let found = numpy::scan_npy(&bytes, &mut scanner)?;
            pickle_secrets(&mut scanner, &bytes, rel, "object array pickle", secrets);
            Ok(found)
        })()
    };
    match result {
        Ok(true) => a.pickle = Some(scanner.finish()),
        Ok(false) => {}
        Err(e) => a.problems.push(format!("NumPy: {e}")),
    }
}

fn hash_and_scan_into(
    path: &Path,
    rel: &str,
    limits: &ModelLimits,
    buf: &mut [u8],
    secrets: &mut Vec<SecretFinding>,
    header: &mut Option<FileHeader>,
) -> Artifact {
    for rule in Rules::gitleaks().path_hits(rel) {
        secrets.push(SecretFinding {
            rule,
            file: rel.to_string(),
            within: "file name".into(),
            line: None,
            offset: None,
            redacted: String::new(),
            fingerprint: aibomdb_secrets::fingerprint(rel.as_bytes()),
        });
    }
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
        let header = safetensors::read_header(path, size).and_then(|json| {
            secrets_in(&json, rel, "safetensors header", 8, false, secrets);
            safetensors::parse(&json, size - 8 - json.len() as u64)
        });
        match header {
            Ok(n) => a.tensors = Some(n),
            Err(e) => a.problems.push(format!("safetensors header: {e}")),
        }
    } else if is_zip && a.format == "pickle" {
        let (report, torchscript) = scan_torch_zip_secrets(path, rel, limits, secrets);
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
                Ok(bytes) => {
                    let mut scanner = pickle::Scanner::new();
                    scanner.collect_strings();
                    scanner.scan(&bytes);
                    pickle_secrets(&mut scanner, &bytes, rel, "pickle string", secrets);
                    report = scanner.finish();
                }
                Err(e) => report.error = Some(e.to_string()),
            }
        }
        a.pickle = Some(report);
    } else if head.starts_with(b"GGUF") || a.format == "gguf" {
        a.format = "gguf".into();
        *header = gguf_scan(path, rel, size, &mut a, secrets);
    } else if a.format == "onnx" {
        let read = std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                onnx::read(std::io::BufReader::new(f), size, &onnx::Limits::default())
                    .map_err(|e| e.to_string())
            });
        match read {
            Ok(m) => {
                a.tensors = Some(m.initializers);
                a.pickle = Some(PickleReport {
                    imports: m.op_names(),
                    unknown_imports: m.custom_ops(),
                    streams: 1,
                    ..Default::default()
                });
                *header = Some(FileHeader::Onnx(m));
            }
            Err(e) => a.problems.push(e),
        }
    } else if a.format == "keras" {
        let read = std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| keras::read(f, &keras::ZipLimits::default()).map_err(|e| e.to_string()));
        match read {
            Ok(r) => {
                a.pickle = Some(r.pickle_report());
                *header = Some(FileHeader::Keras(r));
            }
            Err(e) => a.problems.push(format!("Keras archive: {e}")),
        }
    } else if a.format == "numpy" || head.starts_with(b"\x93NUMPY") {
        a.format = "numpy".into();
        numpy_scan(path, rel, size, is_zip, limits, &mut a, secrets);
    } else if size <= limits.max_text_bytes && !Rules::gitleaks().path_allowed(rel) {
        // Configs, tokenizer files, cards, notebooks, `.env`, scripts: read
        // whole (bounded) and searched for secrets when they are text.
        match std::fs::read(path) {
            Ok(bytes) if rel.to_ascii_lowercase().ends_with(".ipynb") && is_text(&bytes) => {
                if let Some(problem) = notebook_secrets(&bytes, rel, secrets) {
                    a.problems.push(problem);
                }
            }
            Ok(bytes) if is_text(&bytes) => secrets_in(&bytes, rel, "text", 0, true, secrets),
            Ok(_) => {}
            Err(e) => a.problems.push(format!("read failed: {e}")),
        }
    }
    a
}

/// PyTorch's zip checkpoints keep the object graph in `*/data.pkl` (and other
/// `.pkl` entries); tensors sit in raw storage entries that are not read.
/// TorchScript archives (`torch.jit.save`) have the same layout plus the
/// compiled program under `*/code/` and `*/constants.pkl`: the second value
/// says whether this is one.
#[cfg(test)]
pub(crate) fn scan_torch_zip(path: &Path, limits: &ModelLimits) -> (PickleReport, bool) {
    scan_torch_zip_secrets(path, "", limits, &mut Vec::new())
}

/// As [`scan_torch_zip`], also looking for secrets in the string constants
/// of every `.pkl` entry (reported as the file `rel`, within the entry).
fn scan_torch_zip_secrets(
    path: &Path,
    rel: &str,
    limits: &ModelLimits,
    secrets: &mut Vec<SecretFinding>,
) -> (PickleReport, bool) {
    // One scanner for every entry: imports kept once across them.
    let mut scanner = pickle::Scanner::new();
    scanner.collect_strings();
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
            scanner.scan(&bytes);
            pickle_secrets(&mut scanner, &bytes, rel, &name, secrets);
        }
        Ok(())
    })();
    let mut report = scanner.finish();
    if let Err(e) = result {
        report.error = Some(e);
    } else if report.streams == 0 && report.error.is_none() {
        report.error =
            Some("no pickle (*.pkl) entry in the archive: not a PyTorch checkpoint".into());
    }
    (report, torchscript)
}
