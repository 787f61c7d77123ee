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
    /// Which of the paths given (its index) this input came from.
    pub arg: usize,
}

/// What the paths given stand for, and what was passed over while walking
/// them (hidden entries), with the reason: nothing is dropped without a word.
#[derive(Debug, Clone, Default)]
pub struct Expanded {
    pub inputs: Vec<Input>,
    /// (path, reason) of entries not read, in walk order.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Why a hidden entry found while walking is not read.
pub const HIDDEN: &str = "hidden (name starts with a dot)";

/// Expands directories (recursively, sorted, hidden entries skipped). A
/// directory that holds a model (see [`is_model_dir`]) is one input.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>, IngestError> {
    expand_reporting(paths).map(|e| e.inputs)
}

/// As [`expand`], also naming the entries the walk passed over.
pub fn expand_reporting(paths: &[PathBuf]) -> Result<Expanded, IngestError> {
    let mut out = Expanded::default();
    for (arg, p) in paths.iter().enumerate() {
        let meta = std::fs::metadata(p).map_err(|e| IngestError::new(p, e))?;
        if meta.is_dir() && is_model_dir(p) {
            out.inputs.push(Input {
                path: p.clone(),
                from_walk: false,
                model_dir: true,
                arg,
            });
        } else if meta.is_dir() {
            walk(p, arg, &mut out)?;
        } else {
            out.inputs.push(Input {
                path: p.clone(),
                from_walk: false,
                model_dir: false,
                arg,
            });
        }
    }
    Ok(out)
}

/// Extensions of model weight files whose format says so by itself.
const WEIGHT_EXTENSIONS: &[&str] = &[
    ".safetensors",
    ".gguf",
    ".onnx",
    ".pt",
    ".pth",
    ".ckpt",
    ".pkl",
    ".pickle",
    ".joblib",
    ".jit",
    ".ptl",
    ".keras",
    ".npy",
    ".npz",
];

/// A model weight file: by its extension, or a `.bin` whose first bytes are
/// a pickle (protocol 2–5 header, or protocol 0/1's first opcodes) or a zip
/// (PyTorch's checkpoint layout). Only the first bytes are read.
pub fn is_weight_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".lfs-pointer.txt").unwrap_or(&name);
    if WEIGHT_EXTENSIONS.iter().any(|ext| name.ends_with(ext)) {
        return true;
    }
    if !name.ends_with(".bin") {
        return false;
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = &head[..n];
    head.starts_with(b"PK\x03\x04")
        || (head.first() == Some(&0x80) && head.get(1).is_some_and(|p| (2..=5).contains(p)))
}

/// A directory is a model when it has what only model repositories have: a
/// PEFT `adapter_config.json`, a `model.sig`, weight files ([`is_weight_file`]:
/// safetensors, GGUF, ONNX, pickles and PyTorch checkpoints, Keras `.keras`,
/// NumPy `.npy`/`.npz`) or their Git LFS pointers, a `.bin` beside a
/// `config.json` — or when it is a snapshot in the Hugging Face cache
/// (`models--org--name/snapshots/<rev>`). Loose checkpoints are enough: a
/// folder of `*.pt` files is read (and scanned) as a model.
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
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let has = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
    let torch_bin = names
        .iter()
        .any(|n| n.to_ascii_lowercase().ends_with(".bin"));
    // A folder that also holds a project's lockfile or an SBOM is a project
    // with a stray checkpoint, not a model: it is walked file by file, so
    // its documents are still read (and the weights reported as skipped).
    let project = names.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        matches!(
            n.as_str(),
            "uv.lock" | "poetry.lock" | "pdm.lock" | "pipfile.lock" | "pyproject.toml" | "bom.json"
        ) || (n.starts_with("pylock.") && n.ends_with(".toml"))
            || (n.starts_with("requirements") && n.ends_with(".txt"))
            || n.ends_with(".cdx.json")
            || n.ends_with(".spdx.json")
            || n.ends_with(".spdx")
    });
    has("adapter_config.json")
        || has("model.sig")
        || (torch_bin && has("config.json"))
        || (!project && names.iter().any(|n| is_weight_file(&dir.join(n))))
}

fn walk(dir: &Path, arg: usize, out: &mut Expanded) -> Result<(), IngestError> {
    let mut seen = std::collections::HashSet::new();
    if let Ok(real) = dir.canonicalize() {
        seen.insert(real);
    }
    walk_from(dir, arg, out, &mut seen)
}

/// Symbolic links are followed (a Hub cache snapshot is made of them); a
/// directory reached twice (a link back up) is read once. A broken link is
/// an input, so that it fails by name rather than vanish.
fn walk_from(
    dir: &Path,
    arg: usize,
    out: &mut Expanded,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> Result<(), IngestError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| IngestError::new(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| IngestError::new(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if e.file_name().to_string_lossy().starts_with('.') {
            out.skipped.push((path, HIDDEN.into()));
            continue;
        }
        let mut ty = e.file_type().map_err(|err| IngestError::new(&path, err))?;
        if ty.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) => ty = m.file_type(),
                Err(_) => {
                    out.inputs.push(Input {
                        path,
                        from_walk: true,
                        model_dir: false,
                        arg,
                    });
                    continue;
                }
            }
        }
        if ty.is_dir()
            && let Ok(real) = path.canonicalize()
            && !seen.insert(real)
        {
            out.skipped.push((
                path,
                "a directory already read (a link back); not read twice".into(),
            ));
            continue;
        }
        if ty.is_dir() && is_model_dir(&path) {
            out.inputs.push(Input {
                path,
                from_walk: true,
                model_dir: true,
                arg,
            });
        } else if ty.is_dir() {
            walk_from(&path, arg, out, seen)?;
        } else if ty.is_file() {
            out.inputs.push(Input {
                path,
                from_walk: true,
                model_dir: false,
                arg,
            });
        } else {
            out.skipped.push((
                path,
                "not a regular file (a pipe, socket or device); not read".into(),
            ));
        }
    }
    Ok(())
}
