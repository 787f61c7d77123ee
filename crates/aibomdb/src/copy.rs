//! `aibomdb copy --from A --to B`: a store moved between back ends (a redb
//! file, a PostgreSQL database) with every id, time and answer kept.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use aibomdb_store::Store;
use aibomdb_store::copy::{Record, Restored};
use anyhow::Result;
use clap::Args;

use crate::{BadInput, OutputFormat};

#[derive(Args)]
pub(crate) struct CopyArgs {
    /// The store to copy: a redb file or a postgres:// URL (the global
    /// --db when left out). It is read, and brought to this build's layout
    /// first, as every command does.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Where to copy it: a redb file that does not exist yet or holds
    /// nothing, or a PostgreSQL database that holds nothing.
    #[arg(long)]
    to: PathBuf,
    /// Then read both stores back and compare them record by record.
    #[arg(long)]
    verify: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub(crate) fn run(db: &Path, args: CopyArgs) -> Result<ExitCode> {
    let from = args.from.clone().unwrap_or_else(|| db.to_path_buf());
    let to = &args.to;
    let is_file = |p: &Path| crate::postgres_url(p).is_none();
    if is_file(&from) && !from.is_file() {
        return Err(BadInput(format!("--from: no store at {}", from.display())).into());
    }
    if from == *to
        || (is_file(&from)
            && is_file(to)
            && to.exists()
            && std::fs::canonicalize(&from)? == std::fs::canonicalize(to)?)
    {
        // Not the URL itself: it may hold a password.
        return Err(BadInput(
            "--from and --to name the same store: a store is copied into another".into(),
        )
        .into());
    }
    let source = crate::open(&from)?;
    // A redb file this run makes is removed again if the copy fails: a
    // failed copy leaves nothing behind.
    let made = is_file(to) && !to.exists();
    let started = Instant::now();
    let copied = (|| -> Result<(Store, Restored)> {
        let target = crate::open(to)?;
        let restored = aibomdb_store::copy::copy(&source, &target)?;
        // The next open reads the heads in one go (redb), the next query
        // is planned on fresh statistics (PostgreSQL).
        target.persist_heads()?;
        Ok((target, restored))
    })();
    let (target, restored) = match copied {
        Ok(done) => done,
        Err(e) => {
            if made {
                let _ = std::fs::remove_file(to);
            }
            return Err(e);
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let verified = if args.verify {
        Some(compare(&source, &target)?)
    } else {
        None
    };
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "from": source.location(),
                "to": target.location(),
                "records": restored.records,
                "seconds": seconds,
                "verified_records": verified,
            })
        ),
        _ => {
            println!(
                "copied {} → {} in {seconds:.1} s",
                source.location(),
                target.location()
            );
            for (kind, n) in &restored.records {
                println!("  {kind:<20} {n:>10}");
            }
            if let Some(n) = verified {
                println!("verified: both stores read back the same {n} records");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads both stores back at once and compares them record by record: how
/// many were alike, or where they first differ.
fn compare(a: &Store, b: &Store) -> Result<u64> {
    let (send_a, from_a) = std::sync::mpsc::sync_channel::<Record>(1024);
    let (send_b, from_b) = std::sync::mpsc::sync_channel::<Record>(1024);
    let stopped = || aibomdb_store::StoreError::Backend("comparison stopped".into());
    std::thread::scope(|scope| {
        let reader_a = scope.spawn(move || a.dump(&mut |r| send_a.send(r).map_err(|_| stopped())));
        let reader_b = scope.spawn(move || b.dump(&mut |r| send_b.send(r).map_err(|_| stopped())));
        let mut alike = 0u64;
        let mut difference = None;
        loop {
            match (from_a.recv().ok(), from_b.recv().ok()) {
                (None, None) => break,
                (Some(x), Some(y)) if x == y => alike += 1,
                (x, y) => {
                    let show = |r: Option<Record>| match r {
                        Some(r) => {
                            let mut shown = format!("{r:?}");
                            if shown.len() > 300 {
                                let cut = (0..=300).rev().find(|&i| shown.is_char_boundary(i));
                                shown.truncate(cut.unwrap_or(0));
                                shown.push('…');
                            }
                            shown
                        }
                        None => "the end".to_string(),
                    };
                    difference = Some(format!(
                        "after {alike} records alike, {} holds {} where {} holds {}",
                        a.location(),
                        show(x),
                        b.location(),
                        show(y)
                    ));
                    break;
                }
            }
        }
        drop((from_a, from_b));
        // A reader's own failure comes first: a difference it caused (one
        // side ending early) says less than its error.
        let stopped_early =
            |e: &aibomdb_store::StoreError| e.to_string().contains("comparison stopped");
        for r in [reader_a.join(), reader_b.join()] {
            match r {
                Ok(Err(e)) if !stopped_early(&e) => anyhow::bail!("verify: {e}"),
                Err(_) => anyhow::bail!("verify: a reader panicked"),
                _ => {}
            }
        }
        if let Some(d) = difference {
            anyhow::bail!("verify: {d}");
        }
        Ok(alike)
    })
}
