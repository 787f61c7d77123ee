//! What the paths given to `ingest` stand for: files, directories walked
//! (symbolic links followed, hidden entries skipped), and model directories
//! read as one document each.

use std::path::{Path, PathBuf};

use crate::IngestError;

/// One input given on the command line: a file, or every file under a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    /// True when found by walking a directory: unrecognised files are skipped, not errors.
    pub from_walk: bool,
    /// A model directory, read as one document (`prepare_model_dir`).
    pub model_dir: bool,
}

/// Expands directories (recursively, sorted, hidden entries skipped). A
/// directory that holds a model (see [`is_model_dir`]) is one input.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>, IngestError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| IngestError::new(p, e))?;
        if meta.is_dir() && is_model_dir(p) {
            out.push(Input {
                path: p.clone(),
                from_walk: false,
                model_dir: true,
            });
        } else if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(Input {
                path: p.clone(),
                from_walk: false,
                model_dir: false,
            });
        }
    }
    Ok(out)
}

/// A directory is a model when it has what only model repositories have: a
/// PEFT `adapter_config.json`, a `model.sig`, weights (safetensors, GGUF,
/// ONNX, PyTorch files) or their Git LFS pointers beside a `config.json` —
/// or when it is a snapshot in the Hugging Face cache
/// (`models--org--name/snapshots/<rev>`).
pub fn is_model_dir(dir: &Path) -> bool {
    if let Ok(real) = dir.canonicalize()
        && let Some(repo) = aibomdb_importer_model::hub_cache_repo(&real)
        && real.parent() == Some(repo.join("snapshots").as_path())
        && repo
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("models--"))
    {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    // Following links: every file of a Hub cache snapshot is one.
    let names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
        .map(|e| e.file_name().to_string_lossy().to_ascii_lowercase())
        .collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    let weights = names.iter().any(|n| {
        let n = n.strip_suffix(".lfs-pointer.txt").unwrap_or(n);
        [".safetensors", ".gguf", ".onnx"]
            .iter()
            .any(|ext| n.ends_with(ext))
    });
    let torch = names.iter().any(|n| {
        [".bin", ".pt", ".pth", ".ckpt"]
            .iter()
            .any(|ext| n.ends_with(ext))
    });
    has("adapter_config.json") || has("model.sig") || weights || (torch && has("config.json"))
}

fn walk(dir: &Path, out: &mut Vec<Input>) -> Result<(), IngestError> {
    let mut seen = std::collections::HashSet::new();
    if let Ok(real) = dir.canonicalize() {
        seen.insert(real);
    }
    walk_from(dir, out, &mut seen)
}

/// Symbolic links are followed (a Hub cache snapshot is made of them); a
/// directory reached twice (a link back up) is read once. A broken link is
/// an input, so that it fails by name rather than vanish.
fn walk_from(
    dir: &Path,
    out: &mut Vec<Input>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> Result<(), IngestError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| IngestError::new(dir, e))?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let mut ty = e.file_type().map_err(|err| IngestError::new(&path, err))?;
        if ty.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) => ty = m.file_type(),
                Err(_) => {
                    out.push(Input {
                        path,
                        from_walk: true,
                        model_dir: false,
                    });
                    continue;
                }
            }
        }
        if ty.is_dir()
            && let Ok(real) = path.canonicalize()
            && !seen.insert(real)
        {
            continue;
        }
        if ty.is_dir() && is_model_dir(&path) {
            out.push(Input {
                path,
                from_walk: true,
                model_dir: true,
            });
        } else if ty.is_dir() {
            walk_from(&path, out, seen)?;
        } else if ty.is_file() {
            out.push(Input {
                path,
                from_walk: true,
                model_dir: false,
            });
        }
    }
    Ok(())
}
