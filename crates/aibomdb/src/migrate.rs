//! `aibomdb migrate [--check]`: bring a store written by an earlier layout to
//! this build's, or say what that would do. Every other command migrates on
//! open too; this one lets an operator see and schedule it.

use std::path::Path;
use std::process::ExitCode;

use aibomdb_store::{Migration, Store};
use anyhow::Result;
use clap::Args;

use crate::{BadInput, OutputFormat};

#[derive(Args)]
pub(crate) struct MigrateArgs {
    /// Report what would change, write nothing.
    #[arg(long)]
    check: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub(crate) fn run(db: &Path, args: MigrateArgs) -> Result<ExitCode> {
    if !db.exists() {
        return Err(BadInput(format!("no store at {}", db.display())).into());
    }
    let (migration, done) = if args.check {
        (Store::pending_migration(db)?, false)
    } else {
        let store = crate::open(&db.to_path_buf())?;
        (store.migration().cloned(), true)
    };
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "store": db.display().to_string(),
                "current": migration.is_none(),
                "migrated": done && migration.is_some(),
                "from": migration.as_ref().map(|m| m.from),
                "to": migration.as_ref().map(|m| m.to),
                "backup": migration.as_ref().map(|m| m.backup.display().to_string()),
                "steps": migration.as_ref().map(|m| m.steps.clone()).unwrap_or_default(),
            })
        ),
        _ => match &migration {
            None => println!("{}: already layout {}", db.display(), aibomdb_store::LAYOUT),
            Some(m) => print_plan(db, m, done),
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn print_plan(db: &Path, m: &Migration, done: bool) {
    let verb = if done { "migrated" } else { "would migrate" };
    println!("{}: {verb} layout {} → {}", db.display(), m.from, m.to);
    for step in &m.steps {
        println!("  {step}");
    }
    let kept = if done { "kept" } else { "would be kept" };
    println!(
        "  a copy of the file as it was {kept} at {}",
        m.backup.display()
    );
}

/// `aibomdb --db postgres://… migrate [--check]`: the schema's versioned SQL
/// migrations, applied in one transaction, or with `--check` listed.
pub(crate) fn run_postgres(url: &str, args: MigrateArgs) -> Result<ExitCode> {
    let mut db = aibomdb_store_pg::Database::connect(url)?;
    let status = db.status()?;
    let from = status.applied.last().map_or(0, |a| a.version);
    let to = aibomdb_store_pg::MIGRATIONS.last().map_or(0, |m| m.version);
    let pending: Vec<String> = status
        .pending
        .iter()
        .map(|m| format!("{:04}_{}", m.version, m.name))
        .collect();
    let applied_now = if args.check || pending.is_empty() {
        Vec::new()
    } else {
        db.migrate()?
            .iter()
            .map(|m| format!("{:04}_{}", m.version, m.name))
            .collect()
    };
    // Another process may have applied some in between: say what this one did.
    let steps = if args.check { pending } else { applied_now };
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "store": db.location(),
                "current": steps.is_empty(),
                "migrated": !args.check && !steps.is_empty(),
                "from": from,
                "to": to,
                "steps": steps,
            })
        ),
        _ if steps.is_empty() => println!("{}: already at schema version {to}", db.location()),
        _ => {
            let verb = if args.check { "would apply" } else { "applied" };
            println!("{}: {verb} schema {from} → {to}", db.location());
            for step in &steps {
                println!("  {step}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
