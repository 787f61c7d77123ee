//! `aibomdb-bench`: benchmarks that print figures next to a baseline run in
//! the same command. Release builds only (`cargo run --release -p aibomdb-bench`).
//!
//! `aibomdb-bench ingest [DIR...]` ingests every document under the given
//! directories (default: GUAC's 94 container SBOMs in the shared corpus) into a
//! fresh on-disk store, one durable transaction per document, several times,
//! and then runs `benches/baseline_duckdb_ingest.py` on the same files: Python's
//! json module + DuckDB, one committed transaction per document.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod api;
mod cdx_xml;
mod dashboard;
mod estate;
mod export;
mod gate;
mod models;
mod notify;
mod probe;
mod releases;
mod scale;
mod secrets;

use aibomdb_ingest::{Event, Limits};
use aibomdb_store::Store;
use anyhow::{Context, Result, bail};

/// The allocator the `aibomdb` binary ships with, so that what this process
/// measures in-process (the gate, queries, the re-match) is what the
/// product does, not glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ingest") => ingest(&args[1..]),
        Some("lockfile") => lockfile(&args[1..]),
        Some("osv") => osv(&args[1..]),
        Some("api") => api::run(&args[1..]),
        Some("models") => models::run(&args[1..]),
        Some("secrets") => secrets::run(&args[1..]),
        Some("export") => export::run(&args[1..]),
        Some("scale") => scale::run(&args[1..]),
        Some("gate") => gate::run(&args[1..]),
        Some("dashboard") => dashboard::run(&args[1..]),
        Some("releases") => releases::run(&args[1..]),
        Some("notify") => notify::run(&args[1..]),
        Some("cdx-xml") => cdx_xml::run(&args[1..]),
        Some("probe") => probe::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: aibomdb-bench ingest [--runs N] [--no-baseline] [--parse-only] [DIR...]\n       aibomdb-bench lockfile [--runs N] [FILE]\n       aibomdb-bench osv [--deployments N] [--packages M] [--seed S]\n       aibomdb-bench api [--deployments N] [--packages M] [--seed S] [--requests R] [--load-secs T] [--no-baseline]\n       aibomdb-bench models [--mib N] [--small-files N] [--runs N] [--no-baseline]\n       aibomdb-bench secrets [--files N] [--kib N] [--runs N] [--dir DIR] [--no-baseline]\n       aibomdb-bench export [--components N] [--runs N] [--no-baseline]\n       aibomdb-bench scale [--deployments N] [--packages M] [--seed S] [--transformers-share F] [--models-share F] [--requests R] [--estate-dir DIR] [--work-dir DIR] [--json FILE] [--no-baseline] [--drop-estate] [--generate-only]\n       aibomdb-bench gate [--deployments N] [--packages M] [--models-share F] [--runs N] [--reuse DB] [--only RULE|estate|http] [--no-check]\n       aibomdb-bench dashboard [--deployments N] [--packages M] [--runs N] [--reuse DB]\n       aibomdb-bench releases [--deployments N] [--packages M] [--observations K] [--batch B] [--runs N]\n       aibomdb-bench notify [--deployments N] [--packages M] [--changed C] [--samples S]\n       aibomdb-bench cdx-xml [--runs N] [--no-baseline] [SOURCE.cdx.json]\n       aibomdb-bench probe --db FILE [--runs N] [--only rematch|listing|name-range|advisory|path|purl]"
            );
            std::process::exit(2);
        }
    }
}

/// Reading one document's bytes into facts (no store) `runs` times: the
/// median and best seconds, and how many packages it gave.
pub(crate) fn time_prepare(path: &Path, bytes: &[u8], runs: usize) -> Result<(f64, f64, usize)> {
    let mut times = Vec::with_capacity(runs);
    let mut packages = 0;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let prepared = aibomdb_ingest::prepare_bytes(path, bytes)?;
        times.push(start.elapsed());
        packages = prepared.facts.packages.len();
    }
    times.sort();
    Ok((secs(times[times.len() / 2]), secs(times[0]), packages))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The parser threads' share of an ingest (read, import, match, encode the
/// rows) on one thread, nothing written: the CPU cost per byte that bounds
/// ingest on two cores, measured apart from the writer and the disk. The
/// store is empty, so nothing matches (as in a first ingest of an estate).
fn parse_stage(inputs: &[aibomdb_ingest::Input], runs: usize) -> Result<()> {
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let store = Store::open(dir.path().join("empty.redb"))?;
    let limits = Limits::default();
    let runs = runs.max(1);
    let mut best = f64::MAX;
    let (mut documents, mut bytes, mut failed) = (0usize, 0u64, Vec::new());
    for run in 0..runs {
        if run == 0 {
            for input in inputs {
                std::fs::read(&input.path)?;
            }
        }
        (documents, bytes) = (0, 0);
        failed.clear();
        let start = Instant::now();
        for input in inputs {
            match aibomdb_ingest::parse_only(&store, input, &limits) {
                Ok(size) => {
                    documents += 1;
                    bytes += size;
                }
                Err(e) => failed.push(e.to_string()),
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    // Not counted, and said: a file that is no document, or a broken one.
    for why in &failed {
        println!("not counted: {why}");
    }
    println!(
        "parse stage, one thread: {documents} documents, {:.1} MB in {best:.3} s (best of {runs}): {:.1} MB/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / best
    );
    Ok(())
}

fn ingest(args: &[String]) -> Result<()> {
    let mut runs = 5;
    let mut baseline = true;
    let mut parse_only = false;
    let mut dirs = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            "--no-baseline" => baseline = false,
            "--parse-only" => parse_only = true,
            d => dirs.push(PathBuf::from(d)),
        }
    }
    if dirs.is_empty() {
        dirs.push(repo_root().join("../shared/corpus/external/guac-data"));
    }
    let inputs = aibomdb_ingest::expand(&dirs)?;
    if parse_only {
        return parse_stage(&inputs, runs);
    }
    let files: Vec<PathBuf> = inputs.iter().map(|i| i.path.clone()).collect();
    // Only the documents count towards MB/s: READMEs and licences are skipped.
    let mut documents = 0usize;
    let mut bytes = 0u64;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "ingest benchmark: {} files under {} (release build, {threads} parser threads, durable commit per document)",
        files.len(),
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut times = Vec::new();
    let mut store_bytes = 0;
    for run in 0..runs {
        let dir = tempfile::tempdir_in(std::env::temp_dir())?;
        let path = dir.path().join("bench.redb");
        // Files are read once before timing so every run sees a warm page cache.
        if run == 0 {
            for f in &files {
                std::fs::read(f)?;
            }
        }
        let start = Instant::now();
        let store = Store::open(&path)?;
        let (mut docs, mut size) = (0usize, 0u64);
        let failures = aibomdb_ingest::run(
            &store,
            &inputs,
            None,
            &Limits::default(),
            &Default::default(),
            threads,
            |e| {
                if let Event::Committed { path, .. } = e {
                    docs += 1;
                    size += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                }
            },
        );
        drop(store);
        let elapsed = start.elapsed();
        if failures > 0 {
            bail!("{failures} documents failed");
        }
        documents = docs;
        bytes = size;
        store_bytes = std::fs::metadata(&path)?.len();
        times.push(elapsed);
    }
    times.sort();
    let median = times[times.len() / 2];
    let best = times[0];
    let mb = bytes as f64 / 1e6;
    println!(
        "aibomdb   {documents} documents, {mb:.1} MB: median {:.3} s, best {:.3} s  →  {:.0} documents/s, {:.0} MB/s (median); store {:.1} MB",
        secs(median),
        secs(best),
        documents as f64 / secs(median),
        mb / secs(median),
        store_bytes as f64 / 1e6
    );
    if !baseline {
        return Ok(());
    }
    let script = repo_root().join("benches/baseline_duckdb_ingest.py");
    let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(&script)
        .arg("--runs")
        .arg(runs.to_string())
        .args(&dirs)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "baseline failed (pip install duckdb?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let base = report["median_seconds"]
        .as_f64()
        .context("baseline median")?;
    println!(
        "baseline  {} documents, {:.1} MB: median {:.3} s, best {:.3} s  →  {:.0} documents/s, {:.0} MB/s (median); {}",
        report["documents"],
        report["bytes"].as_f64().unwrap_or(0.0) / 1e6,
        base,
        report["best_seconds"].as_f64().unwrap_or(0.0),
        report["documents"].as_f64().unwrap_or(0.0) / base,
        report["bytes"].as_f64().unwrap_or(0.0) / 1e6 / base,
        report["what"].as_str().unwrap_or("")
    );
    if let Some(parse) = report["parse_only_median_seconds"].as_f64() {
        println!(
            "parse     Python json.loads alone (nothing stored): median {parse:.3} s  →  {:.0} MB/s",
            report["bytes"].as_f64().unwrap_or(0.0) / 1e6 / parse
        );
    }
    println!(
        "ratio     aibomdb is {:.1}× the baseline's speed (median vs median)",
        base / secs(median)
    );
    Ok(())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Parse throughput of one lockfile (read, detect, import into facts; no
/// store), repeated, next to Python's `tomllib`/`json` parsing the same bytes
/// in the same command (parsing only: it builds no graph).
fn lockfile(args: &[String]) -> Result<()> {
    let mut runs = 200;
    let mut file = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            f => file = Some(PathBuf::from(f)),
        }
    }
    let file = file.unwrap_or_else(|| {
        repo_root().join("../shared/corpus/dev/lockfiles/a-finetune/uv/uv.lock")
    });
    let bytes = std::fs::read(&file)?;
    let (median, best, packages) = time_prepare(&file, &bytes, runs)?;
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "lockfile benchmark: {} ({:.2} MB, {packages} packages), {runs} runs, release build",
        file.display(),
        mb
    );
    println!(
        "aibomdb   median {:.3} ms, best {:.3} ms  →  {:.0} lockfiles/s, {:.0} MB/s (median)",
        median * 1e3,
        best * 1e3,
        1.0 / median,
        mb / median
    );
    let script = format!(
        "import json,sys,time,tomllib\nb=open(sys.argv[1],'rb').read()\nts=[]\nfor _ in range({runs}):\n    t=time.perf_counter()\n    (json.loads(b) if b.lstrip()[:1]==b'{{' else tomllib.loads(b.decode()))\n    ts.append(time.perf_counter()-t)\nts.sort()\nprint(ts[len(ts)//2], ts[0])"
    );
    let figures = python_figures(&script, &file)?;
    let (base, best) = (figures[0], figures[1]);
    println!(
        "baseline  Python tomllib/json parse only: median {:.3} ms, best {:.3} ms  →  {:.0} MB/s",
        base * 1e3,
        best * 1e3,
        mb / base
    );
    print_ratio(base, median);
    Ok(())
}

/// Runs a Python baseline (`$PYTHON`, else `python3`) on `file`: the
/// numbers it prints, NaN past the last (so indexing the expected ones is
/// safe).
pub(crate) fn python_figures(script: &str, file: &Path) -> Result<[f64; 3]> {
    let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()?;
    if !out.status.success() {
        bail!("baseline failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
    Ok(std::array::from_fn(|_| parts.next().unwrap_or(f64::NAN)))
}

/// The last line of a parse benchmark: how many times the baseline's time
/// ours is.
pub(crate) fn print_ratio(baseline_median: f64, median: f64) {
    println!(
        "ratio     aibomdb is {:.1}× the baseline's speed (median vs median)",
        baseline_median / median
    );
}

/// OSV: load the PyPA snapshot into a fresh store, build a synthetic estate of
/// deployments whose packages are real names and versions from the snapshot,
/// then time a full re-match. Baseline in the same command: Python's
/// `packaging` evaluating the same (range, version) candidates.
fn osv(args: &[String]) -> Result<()> {
    let (mut deployments, mut per, mut seed) = (10_000usize, 300usize, 42u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--deployments" => deployments = it.next().context("N")?.parse()?,
            "--packages" => per = it.next().context("M")?.parse()?,
            "--seed" => seed = it.next().context("S")?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let pypa = repo_root().join("../shared/corpus/osv/pypa-advisory-database");
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let store = Store::open(dir.path().join("osv.redb"))?;

    let start = Instant::now();
    let loaded = aibomdb_osv::load_path(&pypa, &aibomdb_osv::LoadLimits::default())?;
    let parse = start.elapsed();
    let advisories: Vec<_> = loaded.advisories.into_iter().map(|(_, a)| a).collect();
    let start = Instant::now();
    aibomdb_osv::load_advisories(&store, &advisories)?;
    let store_time = start.elapsed();
    println!(
        "osv benchmark: {} PyPA records (release build); estate {deployments} deployments x {per} packages, seed {seed}",
        advisories.len()
    );
    println!(
        "load      parse {:.3} s + store {:.3} s = {:.3} s  →  {:.0} records/s",
        secs(parse),
        secs(store_time),
        secs(parse + store_time),
        advisories.len() as f64 / secs(parse + store_time)
    );

    // Real names and versions: every PyPI package the snapshot names, with
    // the versions its records list or bound.
    let pool = estate::name_pool(&advisories);
    // The same generator as the API bench (dependency trees included), without
    // transformers: matching works on the PyPA names only.
    let spec = estate::EstateSpec {
        deployments,
        packages: per,
        transformers_share: 0.0,
        seed,
    };
    let start = Instant::now();
    estate::build(&store, &spec, &pool)?;
    let build = start.elapsed();
    let stats = store.stats()?;
    println!(
        "estate    {} deployments, {} package nodes, {} occurrences, built in {:.1} s (256 deployments per durable transaction)",
        stats.deployments,
        stats.packages,
        stats.occurrences,
        secs(build)
    );

    let start = Instant::now();
    let summary = aibomdb_osv::rematch_all(&store)?;
    let rematch = start.elapsed();
    println!(
        "rematch   {} advisories x indexed packages: {} candidates evaluated, {} matches, {:.3} s (read + evaluate {} ms, write {} ms)",
        summary.advisories,
        summary.candidates,
        summary.matches,
        secs(rematch),
        summary.evaluate_ms,
        summary.store_ms
    );

    // Baseline: the same candidates, evaluated by Python's packaging.
    let mut cases = Vec::new();
    for a in advisories.iter().filter(|a| !a.is_withdrawn()) {
        for x in &a.affected {
            let Some(p) = &x.package else { continue };
            let key = aibomdb_osv::index_key(&p.ecosystem, &p.name);
            for (package, _) in store.packages_for_key(&key)? {
                let version = package.version.clone().unwrap_or_default();
                for r in x.ranges.iter().filter(|r| r.ty == "ECOSYSTEM") {
                    cases.push(serde_json::json!({"events": r.events, "version": version, "versions": x.versions}));
                }
            }
        }
    }
    let input = dir.path().join("cases.json");
    std::fs::write(&input, serde_json::to_vec(&cases)?)?;
    let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(repo_root().join("benches/baseline_osv_match.py"))
        .arg(&input)
        .output()?;
    if !out.status.success() {
        bail!(
            "baseline failed (pip install packaging?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let base: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(f64::NAN);
    println!(
        "baseline  Python packaging over the same {} (range, version) candidates, evaluation only: {base:.3} s",
        cases.len()
    );
    println!(
        "ratio     aibomdb's full re-match (evaluation and storing) is {:.1}× the baseline's speed",
        base / secs(rematch)
    );
    Ok(())
}
