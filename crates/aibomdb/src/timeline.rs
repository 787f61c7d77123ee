//! `aibomdb timeline`: when each deployment became exposed to an advisory,
//! and when that ended; with `--at`, whether it was exposed then.

use std::process::ExitCode;

use aibomdb_store::Store;
use anyhow::Result;
use clap::Args;

use crate::table::Table;
use crate::{BadInput, OutputFormat};

#[derive(Args)]
pub(crate) struct TimelineArgs {
    /// One advisory (its OSV id), else every advisory.
    #[arg(long)]
    advisory: Option<String>,
    /// One deployment, else every deployment.
    #[arg(long)]
    deployment: Option<String>,
    /// Answer "was it exposed at this time?" (RFC 3339 or a date).
    #[arg(long)]
    at: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

fn time(secs: u64) -> String {
    aibomdb_policy::time::format(i64::try_from(secs).unwrap_or(i64::MAX))
}

pub(crate) fn run(store: &Store, args: TimelineArgs) -> Result<ExitCode> {
    let at = match &args.at {
        Some(t) => Some(
            aibomdb_policy::time::parse(t)
                .and_then(|s| u64::try_from(s).ok())
                .ok_or_else(|| BadInput(format!("--at {t:?} is not an RFC 3339 time or a date")))?,
        ),
        None => None,
    };
    let now = u64::try_from(aibomdb_policy::time::now()).unwrap_or(0);
    let exposures = aibomdb_query::timeline(
        store,
        args.deployment.as_deref(),
        args.advisory.as_deref(),
        now,
    )
    .map_err(|e| match e {
        aibomdb_query::QueryError::Store(s) => anyhow::Error::from(s),
        other => BadInput(other.to_string()).into(),
    })?;
    match args.format {
        OutputFormat::Json => {
            let rows: Vec<serde_json::Value> = exposures
                .iter()
                .map(|e| {
                    let mut v = serde_json::to_value(e).unwrap_or_default();
                    v["exposed_from_time"] = serde_json::json!(time(e.exposed_from));
                    v["resolved_at_time"] = serde_json::json!(e.resolved_at.map(time));
                    if let Some(t) = at {
                        v["exposed_at"] = serde_json::json!(e.exposed_at(t));
                    }
                    v
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        OutputFormat::Table => {
            let mut header = vec![
                "deployment",
                "advisory",
                "exposed from",
                "resolved",
                "exposed for",
                "by",
            ];
            if at.is_some() {
                header.push("exposed at --at");
            }
            let mut t = Table::new(&header);
            for e in &exposures {
                let mut row = vec![
                    e.deployment.clone(),
                    e.advisory.clone(),
                    time(e.exposed_from),
                    e.resolved_at
                        .map(time)
                        .unwrap_or_else(|| "still exposed".into()),
                    format!("{:.1} days", e.seconds_exposed as f64 / 86_400.0),
                    e.resolved_by.clone().unwrap_or_default(),
                ];
                if let Some(t) = at {
                    row.push(if e.exposed_at(t) { "yes" } else { "no" }.into());
                }
                t.row(row);
            }
            print!("{t}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
