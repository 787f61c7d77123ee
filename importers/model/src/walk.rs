//! Listing a model directory. Every entry is either listed (and later hashed
//! and scanned) or named with the reason it is not: nothing is dropped
//! without a word.
//!
//! Symbolic links are followed when their target stays inside the root: the
//! directory itself, or, for a Hugging Face cache snapshot
//! (`models--org--name/snapshots/<rev>/…`, where every file is a relative link
//! into `../../blobs/`), the cache's repository folder. A link that leaves
//! it, or leads nowhere, is listed as refused and never opened.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use aibomdb_graph::{ImportError, Skipped};

use crate::ModelLimits;

/// One file of the directory.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    /// Path relative to the model directory, `/`-separated: the name the
    /// file is reported under (a link's own name, not its target's).
    pub(crate) rel: String,
    /// What to open: the file, or a link's resolved target.
    pub(crate) path: PathBuf,
    /// Why the file is not read (a link leaving the root, a broken link).
    pub(crate) refused: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Sorted by `rel`.
    pub(crate) files: Vec<Listed>,
    /// Entries not read, with the reason (`.git`, sockets and pipes).
    pub(crate) skipped: Vec<Skipped>,
    /// Symbolic links read through, said on the document.
    pub(crate) notes: Vec<String>,
}

impl Listing {
    /// A file that may be read, by its relative path.
    pub(crate) fn readable(&self, rel: &str) -> Option<&Path> {
        self.files
            .iter()
            .find(|f| f.rel == rel && f.refused.is_none())
            .map(|f| f.path.as_path())
    }
}

/// The folder symbolic links must stay inside: a Hub cache repository
/// (`…/models--org--name`, holding `blobs/`) when `dir` is inside one of its
/// snapshots, else `dir` itself. `dir` is canonical.
pub(crate) fn link_root(dir: &Path) -> PathBuf {
    hub_cache_repo(dir).unwrap_or_else(|| dir.to_path_buf())
}

/// The Hub cache repository folder (`…/models--org--name`, holding `blobs/`)
/// when `dir` (canonical) is one of its snapshots or inside one.
pub fn hub_cache_repo(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find_map(|ancestor| {
        let repo = ancestor.parent()?;
        let is_repo = ancestor.file_name()? == "snapshots"
            && repo.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                ["models--", "datasets--", "spaces--"]
                    .iter()
                    .any(|p| n.starts_with(p))
            })
            && repo.join("blobs").is_dir()
            && ancestor != dir;
        is_repo.then(|| repo.to_path_buf())
    })
}

pub(crate) fn list_files(dir: &Path, limits: &ModelLimits) -> Result<Listing, ImportError> {
    let field =
        |p: &Path, e: std::io::Error| ImportError::field(p.display().to_string(), e.to_string());
    let real = dir.canonicalize().map_err(|e| field(dir, e))?;
    let root = link_root(&real);
    let mut out = Listing::default();
    // Directories already read, by canonical path: a link back up is not a loop.
    let mut seen: HashSet<PathBuf> = HashSet::from([real.clone()]);
    let mut stack = vec![(String::new(), real)];
    while let Some((rel, at)) = stack.pop() {
        let entries = std::fs::read_dir(&at).map_err(|e| field(&dir.join(&rel), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| field(&dir.join(&rel), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let path = entry.path();
            let ty = entry.file_type().map_err(|e| field(&dir.join(&rel), e))?;
            let mut link = None;
            let (path, meta) = if ty.is_symlink() {
                let target = std::fs::read_link(&path)
                    .map_err(|e| field(&dir.join(&rel), e))?
                    .to_string_lossy()
                    .into_owned();
                let refuse = |reason: String| Listed {
                    rel: rel.clone(),
                    path: path.clone(),
                    refused: Some(reason),
                };
                let resolved = match path.canonicalize() {
                    Ok(r) => r,
                    Err(e) => {
                        out.files.push(refuse(format!(
                            "symbolic link to {target} that cannot be followed ({e}); not read"
                        )));
                        check_count(&out, dir, limits)?;
                        continue;
                    }
                };
                if !resolved.starts_with(&root) {
                    out.files.push(refuse(format!(
                        "symbolic link to {target} ({}) leaves {}; not followed",
                        resolved.display(),
                        root.display()
                    )));
                    check_count(&out, dir, limits)?;
                    continue;
                }
                let meta = std::fs::metadata(&resolved).map_err(|e| field(&dir.join(&rel), e))?;
                link = Some(target);
                (resolved, meta)
            } else {
                let meta = entry.metadata().map_err(|e| field(&dir.join(&rel), e))?;
                (path, meta)
            };
            if meta.is_dir() {
                if name == ".git" {
                    out.skipped.push(Skipped {
                        reference: format!("{rel}/"),
                        reason: "Git's own metadata, not model files; not read".into(),
                    });
                    continue;
                }
                if let Some(target) = &link {
                    out.notes.push(format!(
                        "{rel}/: a symbolic link to the directory {target}, read through"
                    ));
                }
                if seen.insert(path.clone()) {
                    stack.push((rel, path));
                } else {
                    out.skipped.push(Skipped {
                        reference: format!("{rel}/"),
                        reason: "a link to a directory already read; not read twice".into(),
                    });
                }
            } else if meta.is_file() {
                if let Some(target) = &link {
                    out.notes
                        .push(format!("{rel}: a symbolic link to {target}, read through"));
                }
                out.files.push(Listed {
                    rel,
                    path,
                    refused: None,
                });
                check_count(&out, dir, limits)?;
            } else {
                // Opening a FIFO would block; a device is not a model file.
                out.skipped.push(Skipped {
                    reference: rel,
                    reason: "not a regular file (a pipe, socket or device); not read".into(),
                });
            }
        }
    }
    out.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.notes.sort();
    out.skipped.sort_by(|a, b| a.reference.cmp(&b.reference));
    Ok(out)
}

fn check_count(out: &Listing, dir: &Path, limits: &ModelLimits) -> Result<(), ImportError> {
    if out.files.len() > limits.max_files {
        return Err(ImportError::field(
            dir.display().to_string(),
            format!("more than {} files", limits.max_files),
        ));
    }
    Ok(())
}
