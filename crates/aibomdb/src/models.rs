//! `ingest-model` and `approve`: a model directory read as one document, and an
//! approval bound to one file's SHA-256.

use super::*;

#[derive(Args)]
pub(crate) struct IngestModelArgs {
    /// The model's directory (a Hub snapshot, a training output, a PEFT adapter).
    dir: PathBuf,
    /// Deployment that runs the model (default: the model's name).
    #[arg(long)]
    deployment: Option<String>,
    /// The model's Hub id (`org/name`); without it the model is named after its directory.
    #[arg(long)]
    id: Option<String>,
    /// The Hub revision (commit) the files are from.
    #[arg(long)]
    revision: Option<String>,
    /// The signer's public key (PEM) to verify a key-signed `model.sig` offline.
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// CA certificates (PEM files: the root, and intermediates if the bundle
    /// lacks them) a certificate-signed `model.sig` must chain to.
    #[arg(long, num_args = 1..)]
    signing_cert_chain: Vec<PathBuf>,
    /// Check certificate validity at this time (seconds since the Unix
    /// epoch) instead of now, as `openssl verify -attime`.
    #[arg(long, value_name = "UNIX_SECONDS")]
    verify_at: Option<u64>,
    /// Also compute SHA-512 of every file (BSI TR-03183-2's hash for
    /// deliverables; a second hash pass).
    #[arg(long)]
    sha512: bool,
    /// Most files hashed in the directory.
    #[arg(long, default_value_t = aibomdb_importer_model::ModelLimits::default().max_files)]
    max_files: usize,
    /// Most pickle bytes scanned per file (a torch zip's entries decompressed in all).
    #[arg(long, default_value_t = aibomdb_importer_model::ModelLimits::default().max_pickle_bytes)]
    max_pickle_bytes: u64,
    /// Most entries looked at in one torch zip.
    #[arg(long, default_value_t = aibomdb_importer_model::ModelLimits::default().max_zip_entries)]
    max_zip_entries: usize,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct ApproveArgs {
    /// The model: a purl, a Hub id `org/name[@revision]`, or a local model's name.
    #[arg(long)]
    model: String,
    /// SHA-256 of the approved file, as the graph computed or published it.
    #[arg(long)]
    artifact_sha256: String,
    /// Who approves.
    #[arg(long)]
    by: String,
    #[arg(long)]
    note: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub(crate) fn ingest_model(db: &PathBuf, args: IngestModelArgs) -> Result<ExitCode> {
    let signing_key = match &args.signing_key {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| BadInput(format!("--signing-key {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let mut chain = String::new();
    for p in &args.signing_cert_chain {
        chain.push_str(
            &std::fs::read_to_string(p)
                .map_err(|e| BadInput(format!("--signing-cert-chain {}: {e}", p.display())))?,
        );
        chain.push('\n');
    }
    let identity = aibomdb_importer_model::ModelIdentity {
        id: args.id,
        revision: args.revision,
        signing_key,
        signing_certificates: (!chain.is_empty()).then_some(chain),
        name: None,
        verify_at: args.verify_at,
    };
    let limits = aibomdb_importer_model::ModelLimits {
        sha512: args.sha512,
        max_files: args.max_files,
        max_pickle_bytes: args.max_pickle_bytes,
        max_zip_entries: args.max_zip_entries,
        ..Default::default()
    };
    let prepared = match aibomdb_ingest::prepare_model_dir(&args.dir, &identity, &limits) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(exit::ingest(&e)));
        }
    };
    let store = open(db)?;
    let outcome = match aibomdb_ingest::commit(&store, prepared, args.deployment.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(exit::ingest(&e)));
        }
    };
    let views = aibomdb_query::models(&store, None)?;
    let document = match outcome {
        IngestOutcome::Ingested { document, .. } | IngestOutcome::Unchanged { document } => {
            document
        }
    };
    let view = views.into_iter().find(|v| v.document == document);
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "status": match outcome { IngestOutcome::Unchanged { .. } => "unchanged", IngestOutcome::Ingested { .. } => "ingested" },
                "document": document,
                "model": view,
            }))?
        ),
        OutputFormat::Table => {
            if let Some(v) = &view {
                print_model(v);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_model(v: &aibomdb_query::ModelView) {
    println!(
        "{}  {}  ({}, deployment {}, document {})",
        v.purl,
        v.info.kind.as_deref().unwrap_or("model"),
        v.info.sources.join(", "),
        v.deployment,
        v.document
    );
    for l in &v.derived_from {
        println!("  derived from ({})  {}", l.relation, l.purl);
    }
    for d in &v.trained_on {
        println!("  trained on  {d}");
    }
    for d in &v.evaluated_on {
        println!("  evaluated on  {d}");
    }
    let mut t = Table::new(&["file", "format", "size", "integrity", "pickle imports"]);
    for a in &v.info.artifacts {
        t.row(vec![
            a.path.clone(),
            a.format.clone(),
            a.size.map(|s| s.to_string()).unwrap_or_default(),
            a.integrity.clone(),
            a.pickle
                .as_ref()
                .map(|p| p.imports.join(" "))
                .unwrap_or_default(),
        ]);
    }
    print!("{t}");
    println!(
        "  approval: {}{}",
        v.approval.state,
        if v.approval.unapproved.is_empty() {
            String::new()
        } else {
            format!(" (not approved: {})", v.approval.unapproved.join(", "))
        }
    );
    if let Some(s) = &v.info.signing {
        println!(
            "  model.sig: {} ({} signature, {}){}",
            s.status,
            s.method,
            s.format,
            s.signer
                .as_deref()
                .map(|who| format!(", signer {who}"))
                .unwrap_or_default()
        );
    }
    for f in &v.findings {
        println!("  finding [{}]: {}", f.kind, f.message);
    }
}

pub(crate) fn approve(db: &PathBuf, args: ApproveArgs) -> Result<ExitCode> {
    let store = open(db)?;
    let models = aibomdb_query::approve(
        &store,
        &args.model,
        &args.artifact_sha256,
        &args.by,
        args.note.as_deref(),
    )
    .map_err(bad_input)?;
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"approved": models, "sha256": args.artifact_sha256.to_ascii_lowercase(), "by": args.by})
        ),
        OutputFormat::Table => {
            for m in &models {
                println!("approved {} of {m} (by {})", args.artifact_sha256, args.by);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
