//! Reading OSV records from files, directories and zip exports. A record that
//! cannot be read is reported with its source and the reason; the others load.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::record::Advisory;

/// Bounds on what one load reads (zip bombs, huge files).
#[derive(Debug, Clone)]
pub struct LoadLimits {
    pub max_record_bytes: u64,
    pub max_zip_entries: usize,
    pub max_zip_total_bytes: u64,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_record_bytes: 64 * 1024 * 1024,
            max_zip_entries: 1_000_000,
            max_zip_total_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Zip { path: PathBuf, message: String },
}

/// What a load produced: the records read, and every source it could not read with why.
#[derive(Debug, Default)]
pub struct Loaded {
    pub advisories: Vec<(String, Advisory)>,
    pub rejected: Vec<(String, String)>,
}

/// Whether the start of a file reads as an OSV record, JSON or YAML: `id`,
/// `modified`, and `affected`, `withdrawn` or `schema_version`, and none of
/// the markers of the documents other importers read (SBOMs, VEX, in-toto).
/// A file that passes is then parsed; one that fails to parse is reported.
pub fn sniff(head: &str) -> bool {
    let has = |k: &str| {
        use aibomdb_graph::sniff::contains;
        contains(head, &format!("\"{k}\""))
            || contains(head, &format!("\n{k}:"))
            || head.starts_with(&format!("{k}:"))
    };
    has("id")
        && has("modified")
        && (has("affected") || has("withdrawn") || has("schema_version"))
        && !marks_another_format(head)
}

/// Whether `text` holds a marker of a document another importer reads: then
/// no window that contains it is an OSV record.
fn marks_another_format(text: &str) -> bool {
    [
        "bomFormat",
        "spdxVersion",
        "@context",
        "_type",
        "payloadType",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// [`sniff`] on the first and last 8 KiB of a file (writers order a
/// record's keys as they like: `modified` may come last).
pub fn sniff_file(path: &Path) -> bool {
    use std::io::{Seek, SeekFrom};
    const WINDOW: u64 = 8 * 1024;
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let mut head = Vec::new();
    if (&mut f).take(WINDOW).read_to_end(&mut head).is_err() {
        return false;
    }
    let mut text = String::from_utf8_lossy(&head).into_owned();
    // An SBOM says so at its start: its tail is not read (ingest sniffs
    // every input before the first document is parsed).
    if marks_another_format(&text) {
        return false;
    }
    if len > WINDOW {
        let mut tail = Vec::new();
        if f.seek(SeekFrom::Start(len.saturating_sub(WINDOW).max(WINDOW)))
            .is_ok()
            && f.take(WINDOW).read_to_end(&mut tail).is_ok()
        {
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&tail));
        }
    }
    sniff(&text)
}

/// Parses one record; `name` decides JSON vs YAML by extension, falling back to content.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Advisory, String> {
    let lower = name.to_ascii_lowercase();
    let yaml = lower.ends_with(".yaml") || lower.ends_with(".yml");
    let looks_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let advisory: Advisory = if yaml || !looks_json {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))?;
        serde_saphyr::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" (line {})", l.line()))
                .unwrap_or_default();
            format!("YAML: {}{at}", first_line(&e.to_string()))
        })?
    } else {
        aibomdb_graph::json::parse(bytes).map_err(|e| format!("JSON: {e}"))?
    };
    if advisory.id.trim().is_empty() {
        return Err("field `id` is empty".into());
    }
    if advisory.modified.is_none() {
        return Err(
            "field `modified` is missing (the OSV schema requires it; updates are ordered by it)"
                .into(),
        );
    }
    Ok(advisory)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Loads a file (JSON, YAML or zip) or every such file under a directory.
pub fn load_path(path: &Path, limits: &LoadLimits) -> Result<Loaded, LoadError> {
    let mut out = Loaded::default();
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files)?;
        for f in files {
            load_file(&f, limits, &mut out)?;
        }
    } else {
        load_file(path, limits, &mut out)?;
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_record_name(&p.to_string_lossy()) || p.extension().is_some_and(|e| e == "zip")
        {
            out.push(p);
        }
    }
    Ok(())
}

fn is_record_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".json") || lower.ends_with(".yaml") || lower.ends_with(".yml")
}

fn load_file(path: &Path, limits: &LoadLimits, out: &mut Loaded) -> Result<(), LoadError> {
    let source = path.display().to_string();
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        return load_zip(path, limits, out);
    }
    let size = std::fs::metadata(path)
        .map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if size > limits.max_record_bytes {
        out.rejected.push((
            source,
            format!(
                "{size} bytes, over the limit of {}",
                limits.max_record_bytes
            ),
        ));
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match load_bytes(&source, &bytes) {
        Ok(a) => out.advisories.push((source, a)),
        Err(reason) => out.rejected.push((source, reason)),
    }
    Ok(())
}

fn load_zip(path: &Path, limits: &LoadLimits, out: &mut Loaded) -> Result<(), LoadError> {
    let file = std::fs::File::open(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_zip(path, file, limits, out)
}

/// Reads the records of a zip export held in memory (a download); `name`
/// is where it came from, for messages.
pub fn load_zip_bytes(name: &str, bytes: &[u8], limits: &LoadLimits) -> Result<Loaded, LoadError> {
    let mut out = Loaded::default();
    read_zip(
        Path::new(name),
        std::io::Cursor::new(bytes),
        limits,
        &mut out,
    )?;
    Ok(out)
}

fn read_zip<R: Read + std::io::Seek>(
    path: &Path,
    reader: R,
    limits: &LoadLimits,
    out: &mut Loaded,
) -> Result<(), LoadError> {
    let zip_err = |message: String| LoadError::Zip {
        path: path.to_path_buf(),
        message,
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| zip_err(e.to_string()))?;
    if archive.len() > limits.max_zip_entries {
        return Err(zip_err(format!(
            "{} entries, over the limit of {}",
            archive.len(),
            limits.max_zip_entries
        )));
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| zip_err(e.to_string()))?;
        let entry_name = entry
            .name()
            .map(|n| n.into_owned())
            .map_err(|e| zip_err(format!("entry {i}: {e}")))?;
        let name = format!("{}!{entry_name}", path.display());
        if entry.is_dir() || !is_record_name(&entry_name) {
            continue;
        }
        // The declared size can lie: read at most the limit and check.
        let mut bytes = Vec::new();
        let read = (&mut entry)
            .take(limits.max_record_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| zip_err(format!("{entry_name}: {e}")))?;
        total += read as u64;
        if read as u64 > limits.max_record_bytes {
            out.rejected.push((
                name,
                format!("over the record limit of {} bytes", limits.max_record_bytes),
            ));
            continue;
        }
        if total > limits.max_zip_total_bytes {
            return Err(zip_err(format!(
                "decompressed size over the limit of {} bytes",
                limits.max_zip_total_bytes
            )));
        }
        match load_bytes(&name, &bytes) {
            Ok(a) => out.advisories.push((name, a)),
            Err(reason) => out.rejected.push((name, reason)),
        }
    }
    Ok(())
}
