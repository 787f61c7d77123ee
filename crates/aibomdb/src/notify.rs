//! `aibomdb notify`: webhook targets for new and resolved matches, their
//! delivery log, and a delivery round for setups without a running server.

use std::path::PathBuf;
use std::process::ExitCode;

use aibomdb_store::NotifyTarget;
use anyhow::Result;
use clap::Subcommand;

use crate::table::Table;
use crate::{BadInput, OutputFormat, open};

#[derive(Subcommand)]
pub(crate) enum NotifyCommand {
    /// Add (or replace) a webhook target. Events from now on are delivered
    /// to it: a JSON body signed with HMAC-SHA256 in `X-Aibomdb-Signature-256`
    /// when a secret file is given, the event id in `X-Aibomdb-Event`.
    Add {
        name: String,
        #[arg(long)]
        url: String,
        /// File whose first line is the HMAC secret (read at each delivery,
        /// never stored in the store).
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// CEL expression over kind, cause, deployment, advisory, aliases,
        /// package, ecosystem, severity, score, kev; e.g.
        /// `severity in ["critical", "high"] || kev`.
        #[arg(long)]
        filter: Option<String>,
        /// json, or slack for a Slack-compatible `{"text": …}` body.
        #[arg(long, default_value = "json")]
        body: String,
    },
    /// The configured targets.
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Remove a target and its delivery log.
    Remove { name: String },
    /// The delivery log, newest first.
    Log {
        /// Only this target.
        #[arg(long)]
        target: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Deliver what is due, once (`serve` delivers continuously).
    Deliver {
        /// Failed attempts after which a delivery is dead (passed; see `retry`).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        max_attempts: u32,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Send a target's dead deliveries again (all, or one event): the next
    /// delivery round (`serve`, or `notify deliver`) posts them.
    Retry {
        name: String,
        /// Only this event.
        #[arg(long)]
        event: Option<u64>,
    },
}

pub(crate) fn run(db: &PathBuf, command: NotifyCommand) -> Result<ExitCode> {
    let store = open(db)?;
    match command {
        NotifyCommand::Add {
            name,
            url,
            secret_file,
            filter,
            body,
        } => {
            if name.trim().is_empty() {
                return Err(BadInput("a target needs a name".into()).into());
            }
            let secret_file = secret_file
                .map(|p| std::path::absolute(&p).unwrap_or(p))
                .map(|p| p.display().to_string());
            let target = NotifyTarget {
                name,
                url,
                secret_file,
                filter,
                format: body,
                added_at: aibomdb_policy::time::now().max(0) as u64,
            };
            aibomdb_notify::check_target(&target).map_err(|e| match e {
                aibomdb_notify::NotifyError::Store(s) => anyhow::Error::from(s),
                other => BadInput(other.to_string()).into(),
            })?;
            store.put_notify_target(&target)?;
            println!(
                "target {} added: events from now on go to {}",
                target.name, target.url
            );
        }
        NotifyCommand::List { format } => {
            let targets = store.notify_targets()?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&targets)?),
                OutputFormat::Table => {
                    let mut t = Table::new(&["NAME", "URL", "BODY", "SIGNED", "FILTER"]);
                    for x in &targets {
                        t.row(vec![
                            x.name.clone(),
                            x.url.clone(),
                            x.format.clone(),
                            if x.secret_file.is_some() { "yes" } else { "no" }.into(),
                            x.filter.clone().unwrap_or_else(|| "-".into()),
                        ]);
                    }
                    print!("{t}");
                }
            }
        }
        NotifyCommand::Remove { name } => {
            if !store.remove_notify_target(&name)? {
                return Err(BadInput(format!("no target named {name:?}")).into());
            }
            println!("target {name} removed");
        }
        NotifyCommand::Log {
            target,
            limit,
            format,
        } => {
            if let Some(t) = &target
                && !store.notify_targets()?.iter().any(|x| &x.name == t)
            {
                return Err(BadInput(format!("no target named {t:?}")).into());
            }
            let log = store.deliveries(target.as_deref(), limit)?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&log)?),
                OutputFormat::Table => {
                    let mut t =
                        Table::new(&["TARGET", "EVENT", "STATUS", "ATTEMPTS", "HTTP", "ERROR"]);
                    for d in &log {
                        t.row(vec![
                            d.target.clone(),
                            d.event.to_string(),
                            d.status.clone(),
                            d.attempts.to_string(),
                            d.http_status.map_or("-".into(), |s| s.to_string()),
                            d.error.clone().unwrap_or_else(|| "-".into()),
                        ]);
                    }
                    print!("{t}");
                }
            }
        }
        NotifyCommand::Retry { name, event } => {
            let Some(queued) = store.requeue_dead(&name, event)? else {
                return Err(BadInput(format!("no target named {name:?}")).into());
            };
            if let Some(e) = event
                && queued.is_empty()
            {
                return Err(BadInput(format!("event {e} is not a dead delivery of {name}")).into());
            }
            println!(
                "{} dead deliveries of {name} queued again: the next round sends them",
                queued.len()
            );
        }
        NotifyCommand::Deliver {
            max_attempts,
            format,
        } => {
            let agent = aibomdb_notify::agent();
            let report = aibomdb_notify::deliver_round(
                &store,
                &agent,
                &aibomdb_notify::DeliveryOptions {
                    max_attempts,
                    ..Default::default()
                },
            )
            .map_err(|e| match e {
                aibomdb_notify::NotifyError::Store(s) => anyhow::Error::from(s),
                other => BadInput(other.to_string()).into(),
            })?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                OutputFormat::Table if report.delivered_elsewhere => println!(
                    "nothing sent: another process delivers notifications from this database (it holds the delivery lock)"
                ),
                OutputFormat::Table => println!(
                    "{} delivered, {} filtered out, {} failed (will retry), {} dead (see notify retry), {} waiting for a retry",
                    report.delivered, report.filtered, report.failed, report.dead, report.waiting
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
