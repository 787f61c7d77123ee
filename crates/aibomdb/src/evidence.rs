//! `export` and `cra-report`: a deployment as compliance evidence, and its
//! completeness against BSI TR-03183-2.

use super::*;

#[derive(Args)]
pub(crate) struct Evidence {
    /// The SBOM creator's e-mail (TR-03183-2 requires an e-mail or URL).
    #[arg(long)]
    creator_email: Option<String>,
    /// The SBOM creator's URL, when there is no e-mail.
    #[arg(long)]
    creator_url: Option<String>,
    /// Organisation or person named as author.
    #[arg(long)]
    author: Option<String>,
}

impl Evidence {
    fn options(self) -> aibomdb_export::Options {
        aibomdb_export::Options {
            timestamp: aibomdb_export::time::rfc3339_now(),
            creator_email: self.creator_email,
            creator_url: self.creator_url,
            author: self.author,
        }
    }
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    #[arg(long)]
    deployment: String,
    /// cyclonedx-1.6, cyclonedx-1.5, spdx-2.3, openvex, cyclonedx-vex.
    #[arg(long, default_value = "cyclonedx-1.6")]
    format: String,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    evidence: Evidence,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    Table,
    Json,
    Html,
}

#[derive(Args)]
pub(crate) struct CraReportArgs {
    #[arg(long)]
    deployment: String,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    evidence: Evidence,
}

pub(crate) fn write_out(out: Option<&PathBuf>, text: &str) -> Result<()> {
    match out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| BadInput(format!("--out {}: {e}", path.display())).into()),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

pub(crate) fn export_error(e: aibomdb_export::ExportError) -> anyhow::Error {
    match e {
        aibomdb_export::ExportError::Store(s) => s.into(),
        other => BadInput(other.to_string()).into(),
    }
}

pub(crate) fn export(store: &Store, args: ExportArgs) -> Result<ExitCode> {
    let format: aibomdb_export::ExportFormat = args.format.parse().map_err(export_error)?;
    let doc = aibomdb_export::export(store, &args.deployment, format, &args.evidence.options())
        .map_err(export_error)?;
    write_out(args.out.as_ref(), &serde_json::to_string_pretty(&doc)?)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn cra_report(store: &Store, args: CraReportArgs) -> Result<ExitCode> {
    let report = aibomdb_export::cra_report(store, &args.deployment, &args.evidence.options())
        .map_err(export_error)?;
    let text = match args.format {
        ReportFormat::Json => serde_json::to_string_pretty(&report)?,
        ReportFormat::Html => aibomdb_export::cra_html(&report),
        ReportFormat::Table => {
            let mut t = Table::new(&[
                "#",
                "field",
                "level",
                "category",
                "present",
                "missing (first 3)",
            ]);
            for f in &report.fields {
                let mut missing: Vec<String> = f.missing.iter().take(3).cloned().collect();
                if f.missing.len() > 3 {
                    missing.push(format!("… {} more", f.missing.len() - 3));
                }
                t.row(vec![
                    f.number.to_string(),
                    f.field.to_string(),
                    f.level.to_string(),
                    f.category.to_string(),
                    format!("{}/{}", f.present, f.total),
                    missing.join(", "),
                ]);
            }
            format!(
                "{} for deployment {} ({} components)\n{t}{}",
                report.standard,
                report.deployment,
                report.components,
                if report.required_missing {
                    "required fields are missing: gate failed"
                } else {
                    "every required field is present"
                }
            )
        }
    };
    write_out(args.out.as_ref(), &text)?;
    Ok(if report.required_missing {
        ExitCode::from(exit::GATE)
    } else {
        ExitCode::SUCCESS
    })
}
