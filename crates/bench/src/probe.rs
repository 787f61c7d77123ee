//! `aibomdb-bench probe --db FILE`: the query shapes and the full OSV
//! re-match of `scale`, on a store that is already there, without the
//! ingest: to profile one of them (`perf record -- aibomdb-bench probe …`)
//! or re-measure after a change to the read side. Prints p50 and p99.

use std::time::Instant;

use aibomdb_store::Store;
use anyhow::{Context, Result, bail};

use crate::scale::{Shapes, percentile, time_n};

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut db = None;
    let mut runs = 500usize;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--db" => db = Some(value()?.clone()),
            "--runs" => runs = value()?.parse::<usize>()?.max(1),
            "--only" => only = Some(value()?.clone()),
            other => bail!("unknown argument {other}"),
        }
    }
    let db = db.context("--db FILE is required")?;
    let start = Instant::now();
    let store = Store::open(&db)?;
    println!("open        {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    let wanted = |what: &str| only.as_deref().is_none_or(|o| o == what);

    if wanted("rematch") {
        let mut times = Vec::new();
        for _ in 0..runs.clamp(1, 5) {
            let start = Instant::now();
            let r = aibomdb_osv::rematch_all(&store)?;
            times.push(start.elapsed().as_secs_f64());
            println!(
                "rematch     {:.3} s ({} candidates, {} matches; evaluate {} ms, write {} ms)",
                times.last().unwrap(),
                r.candidates,
                r.matches,
                r.evaluate_ms,
                r.store_ms
            );
        }
    }

    if wanted("listing") {
        // The floor of any estate-wide gate: every current document's rows
        // read and decoded, on every core.
        let names: Vec<String> = store.deployments()?.into_iter().map(|d| d.name).collect();
        for _ in 0..runs.clamp(1, 5) {
            let start = Instant::now();
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let rows: usize = std::thread::scope(|s| {
                let handles: Vec<_> = names
                    .chunks(names.len().div_ceil(cores).max(1))
                    .map(|part| {
                        let store = &store;
                        s.spawn(move || -> Result<usize> {
                            let mut n = 0;
                            for name in part {
                                for id in store.current_documents(name)? {
                                    let _doc = store.document(id)?;
                                    n += store.document_listing(id)?.len();
                                }
                            }
                            Ok(n)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .sum::<Result<usize>>()
            })?;
            println!(
                "listing     {:.3} s ({} deployments, {rows} rows)",
                start.elapsed().as_secs_f64(),
                names.len()
            );
        }
    }

    let shapes = Shapes::of(&store)?;
    for shape in shapes.all() {
        if !wanted(shape) {
            continue;
        }
        let lat = time_n(runs, || shapes.ask_layer(&store, shape))?;
        println!(
            "{shape:<11} {} deployments   query layer p50 {:.3} p99 {:.3} ms",
            shapes.ask_layer(&store, shape)?,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
    Ok(())
}
