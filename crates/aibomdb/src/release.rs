//! `aibomdb release …`, `aibomdb observe` and `aibomdb drift`: what was
//! released, what runs, and the difference (exit 1 on drift).

use std::path::PathBuf;
use std::process::ExitCode;

use aibomdb_release::{NewObservation, NewRelease, ReleaseError};
use aibomdb_store::{Release, Store};
use anyhow::Result;
use clap::{Args, Subcommand};

use crate::table::Table;
use crate::{BadInput, OutputFormat};

#[derive(Subcommand)]
pub(crate) enum ReleaseCommand {
    /// Freeze what the deployment holds now as a release (never changed
    /// afterwards); with --policy, refused when the gate fails (exit 1).
    Create(CreateArgs),
    /// The deployment's releases, oldest first.
    List {
        #[arg(long)]
        deployment: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// One release, whole.
    Show {
        deployment: String,
        name: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// What changed from release A to release B.
    Diff {
        deployment: String,
        a: String,
        b: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Write a release as evidence: CycloneDX 1.6 (formulation for the
    /// evaluations, declarations for the approval) or an in-toto Statement v1
    /// (release predicate, every released digest a subject).
    Export {
        deployment: String,
        name: String,
        /// cyclonedx-1.6 or in-toto.
        #[arg(long, default_value = "cyclonedx-1.6")]
        format: String,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The release to roll back to: the latest before the current one that
    /// was not forced past a failing gate, with every digest to redeploy it.
    RollbackTarget {
        deployment: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

#[derive(Args)]
pub(crate) struct CreateArgs {
    #[arg(long)]
    deployment: String,
    #[arg(long)]
    name: String,
    /// A container image, REF@sha256:DIGEST (repeatable).
    #[arg(long = "image")]
    images: Vec<String>,
    /// An evaluation file kept with the release: lm-evaluation-harness
    /// results JSON, or a plain JSON of metrics (repeatable).
    #[arg(long = "eval")]
    evals: Vec<PathBuf>,
    #[arg(long)]
    approved_by: Option<String>,
    #[arg(long)]
    note: Option<String>,
    /// A runner approved to serve it, NAME==VERSION (repeatable).
    #[arg(long = "runner")]
    runners: Vec<String>,
    /// Gate the release on this policy file.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Record the release although its gate fails, for this reason.
    #[arg(long, requires = "policy")]
    force: Option<String>,
    /// When the release is made (RFC 3339 or a date; default now).
    #[arg(long)]
    at: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct ObserveArgs {
    #[arg(long)]
    deployment: String,
    /// SHA-256 of a model file seen loaded (repeatable).
    #[arg(long = "model-sha256")]
    models: Vec<String>,
    /// sha256:DIGEST of an image seen running (repeatable).
    #[arg(long = "image-digest")]
    images: Vec<String>,
    /// NAME==VERSION of a runner seen serving (repeatable).
    #[arg(long = "runner")]
    runners: Vec<String>,
    /// When it was seen (RFC 3339 or a date; default now).
    #[arg(long)]
    at: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct DriftArgs {
    #[arg(long)]
    deployment: String,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

fn instant(at: Option<&str>) -> Result<i64> {
    match at {
        None => Ok(aibomdb_policy::time::now()),
        Some(t) => aibomdb_policy::time::parse(t).ok_or_else(|| {
            BadInput(format!("--at {t:?} is not an RFC 3339 time or a date")).into()
        }),
    }
}

fn release_error(e: ReleaseError) -> anyhow::Error {
    match e {
        ReleaseError::Store(s) => s.into(),
        other => BadInput(other.to_string()).into(),
    }
}

fn policy_error(e: aibomdb_policy::PolicyError) -> anyhow::Error {
    match e {
        aibomdb_policy::PolicyError::Store(s) => s.into(),
        other => BadInput(other.to_string()).into(),
    }
}

fn time(secs: u64) -> String {
    aibomdb_policy::time::format(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn summary_table(releases: &[Release]) -> Table {
    let mut t = Table::new(&[
        "#",
        "name",
        "created",
        "approved by",
        "gate",
        "models",
        "images",
        "evals",
    ]);
    for r in releases {
        t.row(vec![
            r.sequence.to_string(),
            r.name.clone(),
            time(r.created_at),
            r.approved_by.clone().unwrap_or_default(),
            match (&r.gate, &r.forced) {
                (None, _) => "-".into(),
                (Some(g), None) if g.passed => format!("passed ({})", g.policy),
                (Some(g), Some(reason)) => {
                    format!("FORCED past {} ({reason})", g.failed_rules.join(", "))
                }
                (Some(g), None) => format!("failed: {}", g.failed_rules.join(", ")),
            },
            r.models.len().to_string(),
            r.images.len().to_string(),
            r.evals.len().to_string(),
        ]);
    }
    t
}

fn show_release(r: &Release) {
    print!("{}", summary_table(std::slice::from_ref(r)));
    if let Some(n) = &r.note {
        println!("note: {n}");
    }
    let mut t = Table::new(&["kind", "what", "digest or value"]);
    for d in &r.documents {
        t.row(vec![
            "document".into(),
            format!("{} ({})", d.source_path, d.format),
            d.sha256.clone(),
        ]);
    }
    for m in &r.models {
        for (relation, base) in &m.derived_from {
            t.row(vec![
                "lineage".into(),
                m.purl.clone(),
                format!("{relation} of {base}"),
            ]);
        }
        for d in &m.datasets {
            t.row(vec!["dataset".into(), m.purl.clone(), d.clone()]);
        }
        for a in &m.artifacts {
            t.row(vec![
                "model file".into(),
                format!("{} {}", m.purl, a.path),
                a.sha256.clone(),
            ]);
        }
    }
    for i in &r.images {
        let (reference, digest) = i.rsplit_once('@').unwrap_or((i, ""));
        t.row(vec![
            "image".into(),
            reference.to_string(),
            digest.to_string(),
        ]);
    }
    for (n, v) in &r.runners {
        t.row(vec!["runner".into(), n.clone(), v.clone()]);
    }
    for e in &r.evals {
        t.row(vec![
            "eval file".into(),
            format!("{} ({})", e.file_name, e.kind),
            e.sha256.clone(),
        ]);
        for m in &e.metrics {
            let what = if m.task.is_empty() {
                m.metric.clone()
            } else {
                format!("{} {}", m.task, m.metric)
            };
            t.row(vec!["metric".into(), what, m.value.to_string()]);
        }
    }
    t.row(vec![
        "packages".into(),
        r.packages.len().to_string(),
        String::new(),
    ]);
    t.row(vec![
        "open advisories".into(),
        r.advisories.len().to_string(),
        String::new(),
    ]);
    print!("{t}");
}

pub(crate) fn release_command(store: &Store, command: ReleaseCommand) -> Result<ExitCode> {
    match command {
        ReleaseCommand::Create(args) => {
            let at = instant(args.at.as_deref())?;
            let mut evals = Vec::new();
            for file in &args.evals {
                let bytes = std::fs::read(file)
                    .map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
                evals.push((file.display().to_string(), bytes));
            }
            // The policy is checked whole, and the gate run, before anything
            // is written; a failing gate without --force writes nothing.
            let (gate, report) = match &args.policy {
                Some(file) => {
                    let text = std::fs::read_to_string(file)
                        .map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
                    let policy = aibomdb_policy::Policy::parse(&file.display().to_string(), &text)
                        .map_err(policy_error)?;
                    let (gate, report) =
                        aibomdb_policy::release_gate(store, &policy, &args.deployment, at)
                            .map_err(policy_error)?;
                    (Some(gate), Some(report))
                }
                None => (None, None),
            };
            let new = NewRelease {
                deployment: args.deployment,
                name: args.name,
                images: args.images,
                evals,
                approved_by: args.approved_by,
                note: args.note,
                runners: args.runners,
                gate,
                force: args.force,
                at,
            };
            match aibomdb_release::create(store, new) {
                Ok(r) => {
                    match args.format {
                        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&r)?),
                        OutputFormat::Table => show_release(&r),
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(ReleaseError::GateFailed { failed }) => {
                    if let (OutputFormat::Json, Some(report)) = (args.format, &report) {
                        println!("{}", serde_json::to_string_pretty(report)?);
                    }
                    crate::output::stderr(&format!(
                        "the gate failed ({}); no release was made (--force REASON records it anyway)\n",
                        failed.join(", ")
                    ));
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(release_error(e)),
            }
        }
        ReleaseCommand::List { deployment, format } => {
            let releases = aibomdb_release::list(store, &deployment).map_err(release_error)?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&releases)?),
                OutputFormat::Table => print!("{}", summary_table(&releases)),
            }
            Ok(ExitCode::SUCCESS)
        }
        ReleaseCommand::Show {
            deployment,
            name,
            format,
        } => {
            let r = aibomdb_release::show(store, &deployment, &name).map_err(release_error)?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&r)?),
                OutputFormat::Table => show_release(&r),
            }
            Ok(ExitCode::SUCCESS)
        }
        ReleaseCommand::Diff {
            deployment,
            a,
            b,
            format,
        } => {
            let d = aibomdb_release::diff(store, &deployment, &a, &b).map_err(release_error)?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&d)?),
                OutputFormat::Table => {
                    let mut t = Table::new(&["kind", "change", "subject", "from", "to"]);
                    for c in &d.changes {
                        t.row(vec![
                            c.kind.into(),
                            c.change.into(),
                            c.subject.clone(),
                            c.from.clone().unwrap_or_default(),
                            c.to.clone().unwrap_or_default(),
                        ]);
                    }
                    print!("{t}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ReleaseCommand::Export {
            deployment,
            name,
            format,
            out,
        } => {
            let r = aibomdb_release::show(store, &deployment, &name).map_err(release_error)?;
            let doc = match format.as_str() {
                "cyclonedx-1.6" | "cyclonedx" => aibomdb_export::release_cyclonedx(&r),
                "in-toto" => aibomdb_export::release_statement(&r),
                other => {
                    return Err(BadInput(format!(
                        "--format {other:?}: a release exports as cyclonedx-1.6 or in-toto"
                    ))
                    .into());
                }
            };
            let text = serde_json::to_string_pretty(&doc)? + "\n";
            match out {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| BadInput(format!("{}: {e}", path.display())))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        ReleaseCommand::RollbackTarget { deployment, format } => {
            let Some(r) =
                aibomdb_release::rollback_target(store, &deployment).map_err(release_error)?
            else {
                return Err(BadInput(format!(
                    "deployment {deployment:?} has no release to roll back to (none before the current one that was not forced past its gate)"
                ))
                .into());
            };
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&r)?),
                OutputFormat::Table => show_release(&r),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) fn observe(store: &Store, args: ObserveArgs) -> Result<ExitCode> {
    let at = match &args.at {
        Some(t) => Some(instant(Some(t))?),
        None => None,
    };
    let new = NewObservation {
        deployment: args.deployment,
        model_sha256: args.models,
        image_digests: args.images,
        runners: args.runners,
        at,
    };
    let stored = aibomdb_release::observe(store, &[new], "cli", aibomdb_policy::time::now())
        .map_err(release_error)?;
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&stored)?),
        OutputFormat::Table => {
            for o in &stored {
                println!(
                    "observation {} of {} at {}: {} model files, {} images, {} runners",
                    o.sequence,
                    o.deployment,
                    time(o.at),
                    o.model_sha256.len(),
                    o.image_digests.len(),
                    o.runners.len()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn drift(store: &Store, args: DriftArgs) -> Result<ExitCode> {
    let Some(d) = aibomdb_release::drift(store, &args.deployment).map_err(release_error)? else {
        return Err(BadInput(format!(
            "deployment {:?} needs a release and an observation to compare (aibomdb release create, aibomdb observe)",
            args.deployment
        ))
        .into());
    };
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&d)?),
        OutputFormat::Table => {
            println!(
                "{}: observation {} ({}) against release {}: {}",
                d.deployment,
                d.observation,
                time(d.observed_at),
                d.release,
                if d.drifted { "DRIFT" } else { "no drift" }
            );
            if d.drifted {
                let mut t = Table::new(&["kind", "subject", "released", "observed"]);
                for x in &d.differences {
                    t.row(vec![
                        x.kind.into(),
                        x.subject.clone(),
                        x.released.clone().unwrap_or_default(),
                        x.observed.clone().unwrap_or_default(),
                    ]);
                }
                print!("{t}");
            }
        }
    }
    Ok(if d.drifted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
