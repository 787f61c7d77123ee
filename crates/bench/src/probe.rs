//! `aibomdb-bench probe --db FILE`: the query shapes and the full OSV
//! re-match of `scale`, on a store that is already there, without the
//! ingest: to profile one of them (`perf record -- aibomdb-bench probe …`)
//! or re-measure after a change to the read side. Prints p50 and p99.

use std::time::Instant;

use aibomdb_store::Store;
use anyhow::{Context, Result, bail};

use crate::scale::{Shapes, most_shared_requests, percentile, time_n};

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

    let name_target = aibomdb_query::Target::Name {
        ecosystem: None,
        name: "transformers".into(),
        range: Some(aibomdb_query::parse_range("<4.38")?),
    };
    let first = aibomdb_query::deployments_using_page(&store, &name_target, false, 0, 50)?;
    let Some(hit) = first.hits.first() else {
        bail!("no deployment uses transformers < 4.38");
    };
    let shapes = Shapes {
        path_deployment: hit.deployment.clone(),
        path_package: hit.package.clone(),
        purl: most_shared_requests(&store)?,
    };
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
