//! `aibomdb ingest`: documents, model directories and the OSV records found
//! among the inputs, in parallel and committed in order, with a summary of
//! everything passed over.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use aibomdb_ingest::{Event, Limits};
use aibomdb_store::IngestOutcome;
use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::table::Table;
use crate::{BadInput, OutputFormat, exit, open, output};

#[derive(Args)]
pub(crate) struct IngestArgs {
    /// Files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Deployment the documents belong to (default: each document's subject name).
    #[arg(long)]
    deployment: Option<String>,
    /// Parser threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Largest document accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_document_bytes)]
    max_document_bytes: u64,
    /// Deepest JSON nesting accepted, checked before parsing (at most 128
    /// takes effect: the parser's own bound).
    #[arg(long, default_value_t = Limits::default().max_json_depth)]
    max_json_depth: usize,
    /// Most documents committed together in one durable transaction (group
    /// commit; 1 commits each document alone). Each document is still whole
    /// or absent.
    #[arg(long, default_value_t = aibomdb_ingest::GroupCommit::default().max_documents)]
    batch_documents: usize,
    /// Longest a parsed document waits for others before its group commits.
    #[arg(long, default_value_t = aibomdb_ingest::GroupCommit::default().max_wait.as_millis() as u64)]
    batch_wait_ms: u64,
    /// Print each document's result as one JSON line the moment it is
    /// committed (durable), instead of a summary at the end.
    #[arg(long)]
    stream: bool,
    /// The signer's public key (PEM: P-256, P-384 or RSA) to verify in-toto
    /// attestations (DSSE envelopes, key-signed Sigstore bundles) offline.
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// CA certificates (PEM files) a certificate-signed Sigstore bundle must
    /// chain to.
    #[arg(long, num_args = 1..)]
    signing_cert_chain: Vec<PathBuf>,
    /// Check certificate validity at this time (seconds since the Unix
    /// epoch) instead of now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    verify_at: Option<u64>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub(crate) fn run(db: &PathBuf, args: IngestArgs) -> Result<ExitCode> {
    let mut trust = aibomdb_importer_attestation::Trust {
        now: args.verify_at.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        }),
        ..Default::default()
    };
    if let Some(p) = &args.signing_key {
        trust.public_key_pem = Some(
            std::fs::read_to_string(p)
                .map_err(|e| BadInput(format!("--signing-key {}: {e}", p.display())))?,
        );
    }
    let mut chain = String::new();
    for p in &args.signing_cert_chain {
        chain.push_str(
            &std::fs::read_to_string(p)
                .map_err(|e| BadInput(format!("--signing-cert-chain {}: {e}", p.display())))?,
        );
        chain.push('\n');
    }
    trust.certificate_chain_pem = (!chain.is_empty()).then_some(chain);
    trust
        .check()
        .map_err(|e| BadInput(format!("--signing-key/--signing-cert-chain: {e}")))?;
    let expanded = aibomdb_ingest::expand_reporting(&args.paths)?;
    let mut summary = IngestSummary::new(args.paths.len());
    for (path, reason) in &expanded.skipped {
        summary.skip(path, reason);
    }
    // OSV records among the inputs (examples/advisories/) are advisories, not
    // documents: they are loaded after the documents, so they match them too.
    let (advisories, inputs) = advisory_inputs(expanded.inputs);
    let arg_of: ArgOf = inputs.iter().map(|i| (i.path.clone(), i.arg)).collect();
    for a in &advisories {
        summary.yielded[a.arg] = true;
    }
    let store = open(db)?;
    let limits = Limits {
        max_document_bytes: args.max_document_bytes,
        max_json_depth: args.max_json_depth,
        trust,
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let bar = if inputs.len() > 1 && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(inputs.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut rows = Vec::new();
    // The worst failure decides the code: one broken commit is ours (3) even
    // when another input was merely malformed (2).
    let mut worst = exit::BAD_INPUT;
    let failures = aibomdb_ingest::run(
        &store,
        &inputs,
        args.deployment.as_deref(),
        &limits,
        &aibomdb_ingest::GroupCommit {
            max_documents: args.batch_documents,
            max_wait: std::time::Duration::from_millis(args.batch_wait_ms),
            ..Default::default()
        },
        threads,
        |event| {
            bar.inc(1);
            match event {
                Event::Committed {
                    path,
                    format,
                    outcome,
                    notes,
                } => {
                    summary.committed(path, outcome, &arg_of);
                    // The bar draws on the terminal itself, past the print macros.
                    bar.set_message(
                        output::escape_controls(&path.display().to_string()).into_owned(),
                    );
                    let row = serde_json::json!({
                    "path": path.display().to_string(),
                    "format": format.to_string(),
                    "status": match outcome { IngestOutcome::Unchanged { .. } => "unchanged", IngestOutcome::Ingested { .. } => "ingested" },
                    "document": match outcome { IngestOutcome::Unchanged { document } | IngestOutcome::Ingested { document, .. } => document },
                    "packages": match outcome { IngestOutcome::Ingested { packages, .. } => Some(packages), _ => None },
                    "new_packages": match outcome { IngestOutcome::Ingested { new_packages, .. } => Some(new_packages), _ => None },
                    "edges": match outcome { IngestOutcome::Ingested { edges, .. } => Some(edges), _ => None },
                    "superseded": match outcome { IngestOutcome::Ingested { superseded, .. } => *superseded, _ => None },
                    "notes": notes,
                    });
                    if args.stream {
                        println!("{row}");
                    } else {
                        rows.push(row);
                    }
                }
                Event::Skipped(e) => {
                    tracing::info!("skipped {e}");
                    summary.skip(&e.path, &e.kind.to_string());
                }
                Event::Failed(e) => {
                    summary.failed(&e.path, &arg_of);
                    worst = worst.max(exit::ingest(e));
                    bar.suspend(|| eprintln!("error: {e}"))
                }
            }
        },
    );
    let advisory_rows = load_advisory_inputs(&store, &advisories)?;
    bar.finish_and_clear();
    // On stderr, so that stdout keeps one row per document.
    let loaded: Vec<&str> = advisory_rows
        .iter()
        .filter_map(|r| r["advisory"].as_str())
        .collect();
    if !loaded.is_empty() {
        output::stderr(&format!(
            "loaded {} OSV advisories found among the inputs: {}\n",
            loaded.len(),
            loaded.join(", ")
        ));
    }
    for r in advisory_rows.iter().filter(|r| r["status"] == "error") {
        output::stderr(&format!(
            "error: {}: {}\n",
            r["path"].as_str().unwrap_or(""),
            r["error"].as_str().unwrap_or("")
        ));
    }
    match args.format {
        _ if args.stream => {}
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        OutputFormat::Table if rows.is_empty() => {}
        OutputFormat::Table => {
            let mut t = Table::new(&[
                "status", "doc", "packages", "new", "edges", "format", "path",
            ]);
            for r in &rows {
                t.row(vec![
                    r["status"].as_str().unwrap_or("").to_string()
                        + &r["superseded"]
                            .as_u64()
                            .map(|s| format!(" (supersedes {s})"))
                            .unwrap_or_default(),
                    r["document"].to_string(),
                    r["packages"]
                        .as_u64()
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    r["new_packages"]
                        .as_u64()
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    r["edges"]
                        .as_u64()
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    r["format"].as_str().unwrap_or("").to_string(),
                    r["path"].as_str().unwrap_or("").to_string(),
                ]);
            }
            print!("{t}");
            for r in &rows {
                for note in r["notes"].as_array().into_iter().flatten() {
                    println!(
                        "{}: {}",
                        r["path"].as_str().unwrap_or(""),
                        note.as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    summary.print(&args.paths);
    if failures > 0 {
        eprintln!(
            "{failures} of {} inputs failed; nothing of those was written",
            inputs.len()
        );
        return Ok(ExitCode::from(worst));
    }
    if summary.barren(&args.paths).next().is_some()
        || advisory_rows.iter().any(|r| r["status"] == "error")
    {
        return Ok(ExitCode::from(exit::BAD_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

/// Which path given on the command line each input came from.
type ArgOf = std::collections::HashMap<PathBuf, usize>;

/// What one `ingest` run did, said on stderr at its end: documents
/// ingested, unchanged and failed, and every file passed over, counted by
/// reason with the first few paths — nothing is skipped silently.
struct IngestSummary {
    ingested: usize,
    unchanged: usize,
    failed: usize,
    /// reason → (count, first paths).
    skipped: std::collections::BTreeMap<String, (usize, Vec<String>)>,
    /// Per path given: whether it yielded a document (or a failure to name).
    yielded: Vec<bool>,
}

impl IngestSummary {
    /// Paths shown per skip reason.
    const SHOWN: usize = 3;

    fn new(args: usize) -> Self {
        IngestSummary {
            ingested: 0,
            unchanged: 0,
            failed: 0,
            skipped: Default::default(),
            yielded: vec![false; args],
        }
    }

    fn arg_of(path: &std::path::Path, inputs: &ArgOf) -> Option<usize> {
        inputs.get(path).copied()
    }

    fn committed(&mut self, path: &std::path::Path, outcome: &IngestOutcome, inputs: &ArgOf) {
        match outcome {
            IngestOutcome::Ingested { .. } => self.ingested += 1,
            IngestOutcome::Unchanged { .. } => self.unchanged += 1,
        }
        if let Some(i) = Self::arg_of(path, inputs) {
            self.yielded[i] = true;
        }
    }

    fn failed(&mut self, path: &std::path::Path, inputs: &ArgOf) {
        self.failed += 1;
        if let Some(i) = Self::arg_of(path, inputs) {
            self.yielded[i] = true;
        }
    }

    fn skip(&mut self, path: &std::path::Path, reason: &str) {
        // The reason without the path the error message starts with.
        let entry = self.skipped.entry(reason.to_string()).or_default();
        entry.0 += 1;
        if entry.1.len() < Self::SHOWN {
            entry.1.push(path.display().to_string());
        }
    }

    /// The paths given that yielded nothing: no document, no failure.
    fn barren<'a>(&'a self, paths: &'a [PathBuf]) -> impl Iterator<Item = &'a PathBuf> + 'a {
        paths
            .iter()
            .zip(&self.yielded)
            .filter(|(_, y)| !**y)
            .map(|(p, _)| p)
    }

    fn print(&self, paths: &[PathBuf]) {
        let skipped: usize = self.skipped.values().map(|(n, _)| n).sum();
        eprintln!(
            "ingest: {} documents ingested, {} unchanged, {} failed; {skipped} files skipped",
            self.ingested, self.unchanged, self.failed
        );
        for (reason, (n, shown)) in &self.skipped {
            let more = if *n > shown.len() {
                format!(", … {} more", n - shown.len())
            } else {
                String::new()
            };
            eprintln!(
                "  skipped {n}: {} ({}{more})",
                output::escape_controls(reason),
                output::escape_controls(&shown.join(", "))
            );
        }
        for p in self.barren(paths) {
            eprintln!(
                "error: {}: yielded no document (nothing in it is a document or model this tool reads)",
                output::escape_controls(&p.display().to_string())
            );
        }
    }
}

/// Splits OSV records (JSON or YAML with `id`, `modified` and `affected` or
/// `withdrawn`, and no SBOM marker) from the documents among walked inputs.
/// A record that then fails to load is reported, not passed on.
fn advisory_inputs(
    inputs: Vec<aibomdb_ingest::Input>,
) -> (Vec<aibomdb_ingest::Input>, Vec<aibomdb_ingest::Input>) {
    let is_osv = |input: &aibomdb_ingest::Input| {
        let name = input.path.to_string_lossy().to_ascii_lowercase();
        let candidate =
            !input.model_dir && [".json", ".yaml", ".yml"].iter().any(|e| name.ends_with(e));
        candidate && aibomdb_osv::sniff_file(&input.path)
    };
    // Two reads of every file before the first document is parsed: on every
    // core, or they hold up the whole pipeline (0.1-0.5 s at 10,000 files).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = inputs.len().div_ceil(cores).max(64);
    let verdicts: Vec<bool> = std::thread::scope(|scope| {
        let parts: Vec<_> = inputs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(is_osv).collect::<Vec<bool>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut advisories = Vec::new();
    let mut rest = Vec::new();
    for (input, osv) in inputs.into_iter().zip(verdicts) {
        if osv {
            advisories.push(input);
        } else {
            rest.push(input);
        }
    }
    (advisories, rest)
}

/// Loads the OSV records found among ingest's inputs; one row per file.
fn load_advisory_inputs(
    store: &aibomdb_store::Store,
    inputs: &[aibomdb_ingest::Input],
) -> Result<Vec<serde_json::Value>> {
    let mut advisories = Vec::new();
    let mut rows = Vec::new();
    for p in inputs.iter().map(|i| &i.path) {
        // A file that cannot be read is reported with the others; the
        // documents are already committed and the summary still prints.
        let loaded = match aibomdb_osv::load_path(p, &aibomdb_osv::LoadLimits::default()) {
            Ok(l) => l,
            Err(e) => {
                rows.push(serde_json::json!({"path": p.display().to_string(), "format": "OSV", "status": "error", "error": e.to_string()}));
                continue;
            }
        };
        for (_, reason) in &loaded.rejected {
            rows.push(serde_json::json!({"path": p.display().to_string(), "format": "OSV", "status": "error", "error": reason}));
        }
        for (_, a) in loaded.advisories {
            rows.push(serde_json::json!({"path": p.display().to_string(), "format": "OSV", "status": "advisory", "advisory": a.id}));
            advisories.push(a);
        }
    }
    if !advisories.is_empty() {
        aibomdb_osv::load_advisories(store, &advisories)?;
    }
    Ok(rows)
}
