//! The ingest pipeline: paths → bytes → format detection → importer → store.
//!
//! Reading, hashing and parsing run on worker threads; one writer commits the
//! documents in input order, so ids are reproducible. The writer groups the
//! documents that are ready into one durable transaction (group commit, see
//! [`GroupCommit`]): each document is still whole or absent, and an event is
//! reported only once its transaction is durable.

use std::path::{Path, PathBuf};

use aibomdb_graph::{DocumentFacts, DocumentFormat, ImportError};
use aibomdb_importer_python_lock::Siblings;
use aibomdb_store::{IngestOutcome, NewDocument, Store, StoreError};
use sha2::{Digest, Sha256};

mod pipeline;
mod unsupported;
mod walk;

pub use pipeline::{Event, GroupCommit, parse_only, run};

pub use walk::{Expanded, HIDDEN, Input, expand, expand_reporting, is_model_dir, is_weight_file};

/// Formats the pipeline can read, decided from content.
pub use aibomdb_graph::DocumentFormat as Format;

/// Limits on what one input may be; safe defaults, configurable.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_document_bytes: u64,
    /// Deepest JSON nesting accepted (arrays and objects), checked before
    /// parsing. The parser's own bound (128) still applies to what importers
    /// read, so raising this above 128 does not admit deeper documents.
    pub max_json_depth: usize,
    /// Not a bound: the key or CA certificates attestation signatures are
    /// checked against (nothing given: reported unverified, never verified).
    pub trust: aibomdb_importer_attestation::Trust,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document_bytes: 512 * 1024 * 1024,
            max_json_depth: 128,
            trust: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("file is empty")]
    Empty,
    #[error("file is {size} bytes, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("not a recognised document: {0}")]
    UnknownFormat(String),
    #[error("{format}: {error}")]
    Import { format: Format, error: ImportError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An error about one input file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct IngestError {
    pub path: PathBuf,
    pub kind: ErrorKind,
}

impl IngestError {
    fn new(path: &Path, kind: impl Into<ErrorKind>) -> Self {
        IngestError {
            path: path.to_path_buf(),
            kind: kind.into(),
        }
    }

    /// True when the file is simply not a document this tool reads (as
    /// opposed to a document that is broken).
    pub fn is_unrecognised(&self) -> bool {
        matches!(self.kind, ErrorKind::UnknownFormat(_) | ErrorKind::Empty)
    }
}

/// The text of `bytes[range]` for the sniffers: borrowed when it is UTF-8
/// but for a character cut at either end of the window (the common case:
/// validating is fast, and a lossy copy of 64 KiB per file was 5 % of an
/// ingest); a lossy copy otherwise.
fn window(bytes: &[u8], range: std::ops::Range<usize>) -> std::borrow::Cow<'_, str> {
    let mut part = &bytes[range];
    // A window that starts inside a character skips its continuation bytes.
    let skip = part
        .iter()
        .take(3)
        .take_while(|b| (**b & 0xC0) == 0x80)
        .count();
    part = &part[skip..];
    match std::str::from_utf8(part) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        // Cut inside the last character: the text before it.
        Err(e) if e.error_len().is_none() => {
            std::borrow::Cow::Borrowed(std::str::from_utf8(&part[..e.valid_up_to()]).unwrap_or(""))
        }
        Err(_) => String::from_utf8_lossy(part),
    }
}

/// Decides the format from the bytes: the first and last 64 KiB are checked
/// for each format's marker field (tools write keys in any order, some sorted,
/// so `bomFormat` may come last). The file name only helps with
/// requirements files, whose content alone is too plain to tell.
pub fn detect(bytes: &[u8], file_name: &str) -> Result<Format, ErrorKind> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    const WINDOW: usize = 64 * 1024;
    let head = window(body, 0..body.len().min(WINDOW));
    if first.is_none() {
        return Err(ErrorKind::Empty);
    }
    // A lock's own file name settles its format (uv.lock, poetry.lock, …).
    if let Some(f) = aibomdb_importer_python_lock::by_name(file_name) {
        return Ok(f);
    }
    // CycloneDX XML by its namespace, or by the extension its spec gives.
    if aibomdb_importer_cyclonedx::xml::sniff(&head)
        || file_name.to_ascii_lowercase().ends_with(".cdx.xml")
    {
        return Ok(Format::CycloneDx);
    }
    // SPDX 2 tag-value by a leading `SPDXVersion:` line, or by the `.spdx`
    // extension its spec gives; the SPDX reader tells the encodings apart.
    if first != Some(&b'{')
        && (aibomdb_importer_spdx::sniff_tag_value(&head)
            || file_name.to_ascii_lowercase().ends_with(".spdx"))
    {
        return Ok(Format::Spdx2);
    }
    match first {
        None => return Err(ErrorKind::Empty),
        Some(b'{') => {}
        Some(_) => {
            if let Some(f) = aibomdb_importer_python_lock::sniff(file_name, &head) {
                return Ok(f);
            }
            if let Some(message) = unsupported::known(file_name, &head) {
                return Err(ErrorKind::UnknownFormat(message));
            }
            let printable = body
                .iter()
                .take(512)
                .all(|b| !b.is_ascii_control() || b.is_ascii_whitespace());
            return Err(ErrorKind::UnknownFormat(if printable {
                "neither JSON (CycloneDX, SPDX, Pipfile.lock) nor a lockfile this tool reads (uv.lock, poetry.lock, pdm.lock, pylock.toml, requirements*.txt)".into()
            } else {
                "binary content".into()
            }));
        }
    }
    let sniff = |part: &str| -> Option<Format> {
        // First: a statement's predicate may embed an SBOM (`bomFormat`).
        if aibomdb_importer_attestation::sniff(part) {
            return Some(Format::InTotoAttestation);
        }
        if aibomdb_importer_cyclonedx::sniff(part) {
            return Some(Format::CycloneDx);
        }
        if aibomdb_importer_spdx::sniff_v2(part) {
            return Some(Format::Spdx2);
        }
        if aibomdb_importer_openvex::sniff(part) {
            return Some(Format::OpenVex);
        }
        if aibomdb_importer_model::hub::sniff(part) {
            return Some(Format::HubModelInfo);
        }
        if aibomdb_importer_spdx::sniff_v3(part) {
            return Some(Format::Spdx3);
        }
        (aibomdb_importer_python_lock::sniff(file_name, part) == Some(DocumentFormat::PipfileLock))
            .then_some(Format::PipfileLock)
    };
    // The tail only when the head names no format (most documents do).
    if let Some(format) =
        sniff(&head).or_else(|| sniff(&window(body, body.len().saturating_sub(WINDOW)..body.len())))
    {
        return Ok(format);
    }
    // No marker: say whether the JSON itself is broken, since a truncated
    // document often loses the very field that names its format.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        let text = e.to_string();
        let message = text
            .rfind(" at line ")
            .map_or(text.as_str(), |i| &text[..i]);
        return Err(ErrorKind::UnknownFormat(format!(
            "malformed JSON ({message} at line {}, column {}) and no `bomFormat`, `spdxVersion` or SPDX 3 `@context` before the fault",
            e.line(),
            e.column()
        )));
    }
    Err(ErrorKind::UnknownFormat(
        "JSON without `bomFormat`, `spdxVersion`, an SPDX 3 `@context` or Pipfile.lock's `_meta`"
            .into(),
    ))
}

/// Runs the importer for `format`. Lockfiles read their project file
/// (`pyproject.toml`, `Pipfile`, `requirements.in`) and includes through `siblings`.
pub fn import(
    format: Format,
    bytes: &[u8],
    siblings: &dyn Siblings,
) -> Result<DocumentFacts, ErrorKind> {
    import_with(format, bytes, siblings, &Default::default())
}

/// As [`import`], checking attestation signatures against `trust`.
pub fn import_with(
    format: Format,
    bytes: &[u8],
    siblings: &dyn Siblings,
    trust: &aibomdb_importer_attestation::Trust,
) -> Result<DocumentFacts, ErrorKind> {
    let result = match format {
        Format::InTotoAttestation => aibomdb_importer_attestation::import(bytes, trust),
        Format::CycloneDx => aibomdb_importer_cyclonedx::import(bytes),
        Format::Spdx2 => aibomdb_importer_spdx::import_v2(bytes),
        Format::Spdx3 => aibomdb_importer_spdx::import_v3(bytes),
        Format::OpenVex => aibomdb_importer_openvex::import(bytes),
        Format::HubModelInfo => aibomdb_importer_model::hub::import(bytes),
        lock => aibomdb_importer_python_lock::import(lock, bytes, siblings),
    };
    result.map_err(|error| ErrorKind::Import { format, error })
}

/// A parsed document, not yet written.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub path: PathBuf,
    pub format: Format,
    pub sha256: [u8; 32],
    pub size: u64,
    pub facts: DocumentFacts,
}

/// Reads, hashes, detects and parses one file.
pub fn prepare(path: &Path, limits: &Limits) -> Result<Prepared, IngestError> {
    let size = std::fs::metadata(path)
        .map_err(|e| IngestError::new(path, e))?
        .len();
    if size > limits.max_document_bytes {
        return Err(IngestError::new(
            path,
            ErrorKind::TooLarge {
                size,
                limit: limits.max_document_bytes,
            },
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| IngestError::new(path, e))?;
    let siblings = DirSiblings::of(path);
    prepare_with(path, &bytes, &siblings, limits)
}

/// As [`prepare`], for bytes already in memory (tests); files beside `path`
/// (a lockfile's project file) are read from its directory.
pub fn prepare_bytes(path: &Path, bytes: &[u8]) -> Result<Prepared, IngestError> {
    let siblings = DirSiblings::of(path);
    prepare_with(path, bytes, &siblings, &Limits::default())
}

/// As [`prepare`], for an upload: `name` is only a label, and nothing beside
/// it is read from the server's disk (a lockfile's `-r ../x` must not reach it).
pub fn prepare_upload(name: &str, bytes: &[u8]) -> Result<Prepared, IngestError> {
    prepare_with(
        Path::new(name),
        bytes,
        &aibomdb_importer_python_lock::NoSiblings,
        &Limits::default(),
    )
}

fn prepare_with(
    path: &Path,
    bytes: &[u8],
    siblings: &dyn Siblings,
    limits: &Limits,
) -> Result<Prepared, IngestError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let head = window(bytes, 0..bytes.len().min(64 * 1024));
    if aibomdb_importer_model::sniff_file(&name, &head) {
        // A model card or config on its own: the model it describes, named
        // after the folder it sits in.
        let identity = aibomdb_importer_model::ModelIdentity {
            name: path
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
            ..Default::default()
        };
        return prepare_model_files(path, &[(name.into_owned(), bytes.to_vec())], &identity);
    }
    let format = detect(bytes, &name).map_err(|k| IngestError::new(path, k))?;
    let json = !aibomdb_importer_cyclonedx::is_xml(bytes);
    if json && (format.family() != "lockfile" || format == Format::PipfileLock) {
        aibomdb_graph::json::check_depth(bytes, limits.max_json_depth)
            .map_err(|error| IngestError::new(path, ErrorKind::Import { format, error }))?;
    }
    let sha256: [u8; 32] = Sha256::digest(bytes).into();
    let facts = import_with(format, bytes, siblings, &limits.trust)
        .map_err(|k| IngestError::new(path, k))?;
    Ok(Prepared {
        path: path.to_path_buf(),
        format,
        sha256,
        size: bytes.len() as u64,
        facts,
    })
}

/// Reads model files given as bytes (an upload, or one card or config
/// file) as one model directory: they are written to a private temporary
/// directory — paths checked to stay inside it — and read from there. `label`
/// names the document's source.
pub fn prepare_model_files(
    label: &Path,
    files: &[(String, Vec<u8>)],
    identity: &aibomdb_importer_model::ModelIdentity,
) -> Result<Prepared, IngestError> {
    const MAX_FILES: usize = 10_000;
    if files.is_empty() || files.len() > MAX_FILES {
        return Err(IngestError::new(
            label,
            ErrorKind::UnknownFormat(format!(
                "a model upload has 1 to {MAX_FILES} files, not {}",
                files.len()
            )),
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| IngestError::new(label, e))?;
    for (rel, bytes) in files {
        let clean = rel.trim_start_matches("./");
        let safe = !clean.is_empty()
            && !clean.starts_with('/')
            && !clean.contains('\\')
            && !clean.contains(':')
            && clean
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !safe {
            return Err(IngestError::new(
                label,
                ErrorKind::Import {
                    format: Format::ModelDirectory,
                    error: ImportError::field(
                        rel.clone(),
                        "a file path must be relative and stay inside the model directory",
                    ),
                },
            ));
        }
        let path = dir.path().join(clean);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| IngestError::new(label, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| IngestError::new(label, e))?;
    }
    let mut identity = identity.clone();
    if identity.name.is_none() {
        identity.name = label.file_name().map(|n| n.to_string_lossy().into_owned());
    }
    let mut prepared = prepare_model_dir(dir.path(), &identity, &Default::default())
        .map_err(|e| IngestError::new(label, e.kind))?;
    prepared.path = label.to_path_buf();
    Ok(prepared)
}

/// Reads a model directory as one document: card, configs, every file
/// hashed and scanned (see `aibomdb-importer-model`).
pub fn prepare_model_dir(
    dir: &Path,
    identity: &aibomdb_importer_model::ModelIdentity,
    limits: &aibomdb_importer_model::ModelLimits,
) -> Result<Prepared, IngestError> {
    if !dir.is_dir() {
        return Err(IngestError::new(
            dir,
            ErrorKind::UnknownFormat(
                "not a directory (a model is ingested as its directory)".into(),
            ),
        ));
    }
    let facts = aibomdb_importer_model::import_dir(dir, identity, limits).map_err(|error| {
        IngestError::new(
            dir,
            ErrorKind::Import {
                format: Format::ModelDirectory,
                error,
            },
        )
    })?;
    Ok(Prepared {
        path: dir.to_path_buf(),
        format: Format::ModelDirectory,
        sha256: aibomdb_importer_model::manifest_digest(&facts),
        size: facts
            .packages
            .iter()
            .filter_map(|p| p.model.as_ref())
            .flat_map(|m| m.artifacts.iter().filter_map(|a| a.size))
            .sum(),
        facts,
    })
}

/// Files beside a document, read on demand (small: project files, includes),
/// and the environment of this command (a requirements file's `${NAME}`, as
/// pip would expand it when run here).
struct DirSiblings {
    dir: PathBuf,
    name: Option<String>,
}

impl DirSiblings {
    fn of(path: &Path) -> Self {
        DirSiblings {
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        }
    }
}

impl Siblings for DirSiblings {
    fn own_name(&self) -> Option<String> {
        self.name.clone()
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read(&self, relative: &str) -> Option<Vec<u8>> {
        const MAX_SIBLING: u64 = 16 * 1024 * 1024;
        let path = self.dir.join(relative);
        let meta = std::fs::metadata(&path).ok()?;
        (meta.is_file() && meta.len() <= MAX_SIBLING).then(|| std::fs::read(&path).ok())?
    }
}

/// The deployment a document belongs to when none is given: its subject's
/// name, else (lockfiles) the directory that holds it, else the file's stem.
pub fn default_deployment(prepared: &Prepared) -> String {
    prepared
        .facts
        .subject
        .as_ref()
        .map(|s| s.name.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| {
            let dir = prepared.path.parent().and_then(|d| d.file_name());
            if let (true, Some(dir)) = (prepared.format.family() == "lockfile", dir) {
                return dir.to_string_lossy().into_owned();
            }
            prepared
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "unnamed".into())
        })
}

/// A prepared document matched and ready to write ([`write_documents`]):
/// the two halves of [`commit`], for a caller that does the first on other
/// threads (the matches are computed from the advisories stored now).
pub fn document_for_write(
    store: &Store,
    prepared: Prepared,
    deployment: Option<&str>,
) -> Result<NewDocument, IngestError> {
    new_document(store, prepared, deployment, Matched::Now).map(|(doc, _)| doc)
}

/// Writes documents made by [`document_for_write`] in one transaction,
/// matching them again first if advisories were loaded since they were
/// matched.
pub fn write_documents(
    store: &Store,
    docs: &mut [NewDocument],
) -> Result<Vec<IngestOutcome>, StoreError> {
    pipeline::commit(store, docs)
}

/// Writes a prepared document in its own transaction.
pub fn commit(
    store: &Store,
    prepared: Prepared,
    deployment: Option<&str>,
) -> Result<IngestOutcome, IngestError> {
    let path = prepared.path.clone();
    let (doc, _) = new_document(store, prepared, deployment, Matched::Now)?;
    pipeline::commit(store, &mut [doc])
        .map(|mut o| o.remove(0))
        .map_err(|e| IngestError::new(&path, e))
}

/// A prepared document as the store takes it: its deployment decided and
/// (`Matched::Now`) its packages matched against the advisories already
/// loaded, so that the matches land in the document's own transaction.
/// Also returns what is worth a line in the ingest output (an
/// attestation's signature and how its subjects bound).
pub(crate) fn new_document(
    store: &Store,
    mut prepared: Prepared,
    deployment: Option<&str>,
    matched: Matched,
) -> Result<(NewDocument, Vec<String>), IngestError> {
    let (notes, bound_deployment) = if prepared.format == Format::InTotoAttestation {
        bind_attestation(store, &mut prepared.facts)
            .map_err(|e| IngestError::new(&prepared.path, e))?
    } else {
        // What the importer left out or could not settle (a requirements
        // line pip would refuse, an include cycle) is shown with the result,
        // not only kept on the document.
        (prepared.facts.warnings.clone(), None)
    };
    let deployment = deployment
        .map(str::to_string)
        .or(bound_deployment)
        .unwrap_or_else(|| default_deployment(&prepared));
    // Read before the advisories are: the write refuses the document as
    // stale when a load commits in between, and it is matched again.
    let marks = store
        .write_marks()
        .map_err(|e| IngestError::new(&prepared.path, e))?;
    let (lookup_names, matches) = match matched {
        Matched::Now => aibomdb_osv::match_document(store, &prepared.facts)
            .map_err(|e| IngestError::new(&prepared.path, e))?,
        Matched::ByCaller => (Vec::new(), Vec::new()),
    };
    Ok((
        NewDocument {
            deployment,
            source_path: prepared.path.display().to_string(),
            sha256: prepared.sha256,
            size: prepared.size,
            facts: prepared.facts,
            lookup_names,
            matches,
            matched_at: Some(marks.advisories),
            rows: None,
        },
        notes,
    ))
}

/// Whether [`new_document`] matches the packages, or leaves that to its
/// caller (which has read the advisory counter's mark in the document, so a
/// load that commits before the write still makes it stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Matched {
    Now,
    ByCaller,
}

/// Binds an attestation's subjects by SHA-256 to what the store holds: a
/// model's file (the subject becomes the model's node) or an image. A
/// model-signing v1.0 subject (a manifest digest) binds through its signed
/// files. A subject that matches nothing stays `pkg:generic/<name>`, flagged,
/// with a warning on the document. Returns the notes for the ingest output
/// and the deployment of the first node bound (the default deployment).
pub fn bind_attestation(
    store: &Store,
    facts: &mut DocumentFacts,
) -> Result<(Vec<String>, Option<String>), StoreError> {
    let mut notes = Vec::new();
    let mut deployment = None;
    let mut warnings = Vec::new();
    if let Some(a) = facts.packages.iter().find_map(|p| p.attestation.as_deref()) {
        let s = &a.signature;
        notes.push(format!(
            "{}: signature {} ({}{})",
            a.predicate_type,
            s.status,
            s.method,
            s.signer
                .as_deref()
                .map(|x| format!(", signer {x}"))
                .unwrap_or_default()
        ));
    }
    let mut subject_name = None;
    for (i, fact) in facts.packages.iter_mut().enumerate() {
        let Some(att) = fact.attestation.as_mut() else {
            continue;
        };
        let mut candidates: Vec<&str> = att
            .subject_digests
            .iter()
            .filter(|h| h.alg == "sha256")
            .map(|h| h.value.as_str())
            .collect();
        candidates.extend(att.resources.iter().map(|(_, d)| d.as_str()));
        let mut bound = None;
        let mut found = 0;
        for sha in &candidates {
            if let Some(hit) = store.by_sha256(sha)?.into_iter().next() {
                found += 1;
                bound.get_or_insert(aibomdb_graph::Binding {
                    what: if hit.path.is_some() {
                        "model artifact"
                    } else {
                        "image"
                    }
                    .into(),
                    purl: hit.package.key.clone(),
                    path: hit.path.clone(),
                    sha256: sha.to_string(),
                    document: hit.document,
                    deployment: hit.deployment.clone(),
                });
            }
        }
        let subject = format!("subject {}", att.subject_name);
        match bound {
            Some(b) => {
                let key = aibomdb_graph::PackageKey::from_stored(b.purl.clone());
                notes.push(format!(
                    "{subject} (sha256:{}) bound to {} {}{} (document {}, deployment {}){}",
                    b.sha256,
                    b.what,
                    b.path
                        .as_deref()
                        .map(|p| format!("{p} of "))
                        .unwrap_or_default(),
                    b.purl,
                    b.document,
                    b.deployment,
                    if att.resources.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; {found} of {} signed digests found in the graph",
                            candidates.len()
                        )
                    }
                ));
                deployment.get_or_insert(b.deployment.clone());
                fact.name = key
                    .unversioned()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                fact.version = key.version();
                fact.purl = Some(b.purl.clone());
                fact.purl_synthesized = false;
                fact.key = Some(key);
                if i == 0 {
                    subject_name = Some(fact.name.clone());
                }
                att.bound = Some(b);
            }
            None => {
                let digests: Vec<String> = att
                    .subject_digests
                    .iter()
                    .map(|h| format!("{}:{}", h.alg, h.value))
                    .collect();
                let message = format!(
                    "{subject} ({}) matches no model file or image in the graph: kept unbound as {}",
                    digests.join(", "),
                    fact.key.as_ref().map_or("-", |k| k.as_str())
                );
                fact.flags
                    .push("unbound: its digest matches nothing in the graph".into());
                notes.push(message.clone());
                warnings.push(message);
            }
        }
    }
    facts.warnings.extend(warnings);
    if let (Some(name), Some(subject)) = (subject_name, facts.subject.as_mut()) {
        subject.name = name;
    }
    let taken = std::mem::replace(facts, DocumentFacts::new(facts.format, ""));
    *facts = taken.finish();
    Ok((notes, deployment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(
            detect(br#"{"bomFormat":"CycloneDX"}"#, "x").unwrap(),
            Format::CycloneDx
        );
        assert_eq!(
            detect(b"\xEF\xBB\xBF {\"spdxVersion\":\"SPDX-2.3\"}", "x").unwrap(),
            Format::Spdx2
        );
        assert_eq!(
            detect(
                br#"{"@context":"https://spdx.org/rdf/3.0.1/spdx-context.jsonld"}"#,
                "x"
            )
            .unwrap(),
            Format::Spdx3
        );
        // SPDX tag-value: a leading version line, or the extension.
        assert_eq!(
            detect(
                b"## Document Information\nSPDXVersion: SPDX-2.3\n",
                "sbom.txt"
            )
            .unwrap(),
            Format::Spdx2
        );
        assert_eq!(
            detect(b"DataLicense: CC0-1.0\n", "image.spdx").unwrap(),
            Format::Spdx2
        );
        assert!(matches!(detect(b"  \n", "x"), Err(ErrorKind::Empty)));
        assert!(
            matches!(detect(b"\x00\x01\x02", "x"), Err(ErrorKind::UnknownFormat(m)) if m == "binary content")
        );
        assert!(matches!(
            detect(br#"{"name":"package.json"}"#, "package.json"),
            Err(ErrorKind::UnknownFormat(_))
        ));
    }
}
