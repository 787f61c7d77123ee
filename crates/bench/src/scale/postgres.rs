//! The same estate and questions on the PostgreSQL back end (`--postgres
//! URL`, issue #20): `aibomdb ingest` into the database, advisories loaded
//! and matched, the query shapes in process and over HTTP against `aibomdb
//! serve --db URL`. The database is emptied first (its `public` schema is
//! dropped): give the benchmark a database of its own.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use aibomdb_store::Store;
use anyhow::{Context, Result, bail};
use serde_json::json;

use super::{Figures, Server, Shapes, ms, peak_rss_mib, percentile, reset_peak_rss, time_n};

pub(super) struct Input<'a> {
    pub(super) url: &'a str,
    pub(super) aibomdb: &'a Path,
    pub(super) estate: &'a Path,
    pub(super) bytes: u64,
    pub(super) files: usize,
    pub(super) advisories: &'a [aibomdb_osv::Advisory],
    pub(super) shapes: &'a Shapes,
    pub(super) requests: usize,
}

pub(super) fn run(input: &Input<'_>, f: &mut Figures) -> Result<()> {
    empty(input.url)?;
    let (ingest, rss) = super::timed_ingest(input.aibomdb, input.url.as_ref(), input.estate)?;
    let store = Arc::new(Store::from_backend(Box::new(
        aibomdb_store_pg::PgStore::open(input.url)?,
    )));
    let stats = store.stats()?;
    if stats.documents as usize != input.files {
        bail!(
            "PostgreSQL ingest: {} of {} documents committed",
            stats.documents,
            input.files
        );
    }
    let mb_per_s = input.bytes as f64 / 1e6 / ingest.as_secs_f64();
    f.set("pg_ingest_s", ingest.as_secs_f64());
    f.set("pg_ingest_mb_per_s", mb_per_s);
    f.set("pg_ingest_peak_rss_mib", rss);
    println!(
        "postgres    `aibomdb --db URL ingest DIR`: {:.2} s, {:.0} documents/s, {mb_per_s:.0} MB/s; {} occurrences; peak RSS {rss:.0} MiB (the server's own CPU shares the cores)",
        ingest.as_secs_f64(),
        input.files as f64 / ingest.as_secs_f64(),
        stats.occurrences,
    );

    reset_peak_rss();
    let start = Instant::now();
    aibomdb_osv::load_advisories(&store, input.advisories)?;
    let load = start.elapsed();
    let start = Instant::now();
    let rematch = aibomdb_osv::rematch_all(&store)?;
    let full_match = start.elapsed();
    f.set("pg_advisory_load_and_match_s", load.as_secs_f64());
    f.set("pg_full_match_s", full_match.as_secs_f64());
    println!(
        "postgres    advisories loaded and matched in {:.2} s; full re-match {:.2} s ({} matches); peak RSS {:.0} MiB",
        load.as_secs_f64(),
        full_match.as_secs_f64(),
        rematch.matches,
        peak_rss_mib()
    );
    let bytes = store.stats()?.file_bytes;
    f.set("pg_database_mib", bytes as f64 / 1048576.0);
    println!(
        "postgres    database {:.0} MiB (pg_database_size, indexes included)",
        bytes as f64 / 1048576.0
    );

    let shapes = input.shapes;
    let mut layer = Vec::new();
    for shape in shapes.all() {
        let lat = time_n(input.requests, || shapes.ask_layer(&store, shape))?;
        layer.push((shape, shapes.ask_layer(&store, shape)?, lat));
    }
    drop(store);
    let server = Server::start(input.aibomdb, Path::new(input.url))?;
    let mut client = crate::api::Client::connect(&server.addr)?;
    for (shape, answer, layer) in layer {
        let body = json!({ "query": shapes.graphql(shape) }).to_string();
        let http = time_n(input.requests, || {
            match client.post(&server.addr, &body)? {
                200 => Ok(0),
                status => bail!("{shape}: HTTP {status}"),
            }
        })?;
        f.set(
            &format!("pg_q_{shape}_layer_p50_ms"),
            percentile(&layer, 0.5),
        );
        f.set(&format!("pg_q_{shape}_http_p50_ms"), percentile(&http, 0.5));
        f.set(
            &format!("pg_q_{shape}_http_p99_ms"),
            percentile(&http, 0.99),
        );
        f.set(&format!("pg_q_{shape}_answer"), answer);
        println!(
            "  {shape:<11} {answer:>6} deployments   query layer p50 {:.3} p99 {:.3} ms   HTTP p50 {:.3} p99 {:.3} ms   (PostgreSQL)",
            percentile(&layer, 0.5),
            percentile(&layer, 0.99),
            percentile(&http, 0.5),
            percentile(&http, 0.99),
        );
    }
    let server_rss = server.peak_rss_mib();
    server.stop();
    f.set("pg_query_peak_rss_mib", server_rss);
    let _ = ms;
    Ok(())
}

/// Drops and recreates the database's `public` schema (psql).
fn empty(url: &str) -> Result<()> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c"])
        .arg("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        .output()
        .context("running psql to empty the benchmark database")?;
    if !out.status.success() {
        // psql's message names the database, not the URL's password.
        bail!(
            "emptying the benchmark database: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
