//! `aibomdb match`: advisories matching the deployments' packages, as a
//! table, JSON or SARIF, and the `--fail-on` gate.

use std::io::Write;
use std::process::ExitCode;

use aibomdb_store::Store;
use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::exit::{self, BadInput};
use crate::table::Table;
use crate::{OutputFormat, known_deployment};

#[derive(Args)]
pub(crate) struct MatchArgs {
    /// Only this deployment (default: all).
    #[arg(long)]
    deployment: Option<String>,
    /// Exit 1 when a match at or above this severity exists: low, medium, high,
    /// critical, or any. A match whose severity is unknown trips every level.
    #[arg(long)]
    fail_on: Option<String>,
    #[arg(long, value_enum, default_value_t = MatchFormat::Table)]
    format: MatchFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MatchFormat {
    Table,
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

pub(crate) fn run(store: &Store, args: MatchArgs) -> Result<ExitCode> {
    let threshold = match args.fail_on.as_deref() {
        None => None,
        Some("any") => Some(aibomdb_osv::Level::None),
        Some(s) => Some(aibomdb_osv::Level::parse(s).ok_or_else(|| {
            BadInput(format!(
                "--fail-on {s:?}: expected low, medium, high, critical or any"
            ))
        })?),
    };
    if let Some(d) = &args.deployment {
        known_deployment(store, d)?;
    }
    let is_tripping = |r: &aibomdb_osv::MatchRow| {
        threshold.is_some_and(|t| {
            r.status == "affected"
                && r.is_open()
                && (r.severity == aibomdb_osv::Level::Unknown || r.severity >= t)
        })
    };
    if args.deployment.is_none() && matches!(args.format, MatchFormat::Json) {
        // The whole estate as JSON: written one deployment at a time, so
        // that an estate whose matches do not fit in memory is reported.
        let mut tripped = false;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut first = true;
        aibomdb_osv::each_deployment_matches(store, |rows| -> Result<()> {
            tripped |= rows.iter().any(is_tripping);
            for row in &rows {
                out.write_all(if first { b"[\n" } else { b",\n" })?;
                first = false;
                // Each row as `to_string_pretty` prints it inside the array.
                let text = serde_json::to_string_pretty(row)?;
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        out.write_all(b"\n")?;
                    }
                    out.write_all(b"  ")?;
                    out.write_all(line.as_bytes())?;
                }
            }
            Ok(())
        })?;
        out.write_all(if first { b"[]\n" } else { b"\n]\n" })?;
        out.flush()?;
        return Ok(gate_exit(tripped, args.fail_on));
    }
    let rows = aibomdb_osv::deployment_matches(store, args.deployment.as_deref())?;
    match args.format {
        MatchFormat::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&aibomdb_osv::sarif(&rows))?
        ),
        MatchFormat::Json => print_matches(&rows, OutputFormat::Json, None)?,
        MatchFormat::Table => print_matches(&rows, OutputFormat::Table, None)?,
    }
    Ok(gate_exit(rows.iter().any(is_tripping), args.fail_on))
}

/// `match`'s exit: 1 when an open match is at or above `--fail-on`.
fn gate_exit(tripped: bool, fail_on: Option<String>) -> ExitCode {
    if tripped {
        eprintln!(
            "gate: matches at or above --fail-on {}",
            fail_on.unwrap_or_default()
        );
        return ExitCode::from(exit::GATE);
    }
    ExitCode::SUCCESS
}

pub(crate) fn print_matches(
    rows: &[aibomdb_osv::MatchRow],
    format: OutputFormat,
    ids: Option<&[String]>,
) -> Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(rows)?),
        OutputFormat::Table => {
            if let Some(ids) = ids {
                println!("advisory {}", ids.join(", "));
            }
            let mut t = Table::new(&[
                "deployment",
                "package",
                "advisory",
                "aliases",
                "severity",
                "fixed",
                "status",
                "vex",
                "kev",
            ]);
            for r in rows {
                t.row(vec![
                    r.deployment.clone(),
                    r.package.clone()
                        + &r.via_source_of
                            .as_ref()
                            .map(|_| format!(" (via source package {})", r.matched_name))
                            .unwrap_or_default(),
                    r.advisory.clone(),
                    r.aliases.join(" "),
                    match r.score {
                        Some(s) => format!("{:?} {s}", r.severity).to_lowercase(),
                        None => format!("{:?}", r.severity).to_lowercase(),
                    },
                    r.fixed.join(" "),
                    r.status.clone(),
                    r.vex
                        .as_ref()
                        .map(|v| match &v.justification {
                            Some(j) => format!("{} ({j})", v.state),
                            None => v.state.clone(),
                        })
                        .unwrap_or_default(),
                    r.kev
                        .as_ref()
                        .map(|k| format!("exploited ({} since {})", k.cve, k.date_added))
                        .unwrap_or_default(),
                ]);
            }
            print!("{t}");
            let open = rows.iter().filter(|r| r.is_open()).count();
            println!(
                "{} matches, {open} open, {} suppressed by VEX",
                rows.len(),
                rows.len() - open
            );
        }
    }
    Ok(())
}
