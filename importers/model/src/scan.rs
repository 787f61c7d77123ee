//! Hashing and scanning model files: every file hashed in 1 MiB chunks,
//! weights scanned by their format (safetensors header, pickle opcodes, the
//! pickles inside a PyTorch zip), never loaded.

use std::io::Read;
use std::path::Path;

use aibomdb_graph::{Artifact, PickleReport};
use sha2::{Digest, Sha256};

use crate::{ModelLimits, format_of, pickle, safetensors};

/// Hashes and scans `files` (the name each is reported under, and the path
/// to open) on up to four threads, each with one reusable 1 MiB buffer;
/// results in the order given.
pub(crate) fn hash_all(files: &[(&str, &Path)], limits: &ModelLimits) -> Vec<Artifact> {
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
                Ok(bytes) => {
                    let mut scanner = pickle::Scanner::new();
                    scanner.scan(&bytes);
                    report = scanner.finish();
                }
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
pub(crate) fn scan_torch_zip(path: &Path, limits: &ModelLimits) -> (PickleReport, bool) {
    // One scanner for every entry: imports kept once across them.
    let mut scanner = pickle::Scanner::new();
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
