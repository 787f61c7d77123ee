//! `aibomdb-bench scale`: the whole product at estate size, in one run, next
//! to the same work done by Kùzu and DuckDB (PyPI) in the same command.
//!
//! 1. Writes a synthetic estate as CycloneDX 1.6 JSON files (deterministic by
//!    seed, reused when already on disk): N deployments of M real PyPI
//!    packages in a dependency tree, transformers in a share of them, model
//!    lineage (base → fine-tune → adapter, trained on a dataset) in another.
//! 2. Ingests the directory into a fresh store as `aibomdb ingest` does
//!    (parser threads, group commit, every commit durable).
//! 3. Loads the PyPA advisories (matching the estate as they land), then
//!    re-matches everything (`aibomdb match`'s full re-evaluation).
//! 4. Opens the store cold (its pages dropped from the page cache) and times
//!    the first answer; then asks four query shapes in process (query layer
//!    and GraphQL) and over HTTP: name + range, advisory, one deployment's
//!    path, exact purl.
//! 5. Runs `benches/baseline_scale.py` on the same files and questions.
//!
//! Figures are printed side by side with ratios, and written as JSON with
//! `--json FILE` for the scaling plot (`benches/plot_scale.py`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aibomdb_store::Store;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::estate::{self, EstateSpec};

mod estate_files;
mod postgres;
mod shapes;
pub(crate) use estate_files::{Written, write_estate};
pub(crate) use shapes::Shapes;

/// "who is affected by CVE-2023-32681?" (requests < 2.31.0 leaks
/// Proxy-Authorization): a PyPA record with many versions in the pool.
const ADVISORY: &str = "CVE-2023-32681";

struct Args {
    spec: EstateSpec,
    models_share: f64,
    estate_dir: PathBuf,
    work_dir: PathBuf,
    requests: usize,
    baseline: bool,
    json_out: Option<PathBuf>,
    keep_estate: bool,
    generate_only: bool,
    /// Also on this PostgreSQL database (emptied first).
    postgres: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args> {
    let root = crate::repo_root();
    let mut a = Args {
        spec: EstateSpec {
            deployments: 10_000,
            packages: 300,
            transformers_share: 0.3,
            seed: 42,
        },
        models_share: 0.2,
        estate_dir: root.join("target/estate"),
        work_dir: root.join("target/scale"),
        requests: 500,
        baseline: true,
        json_out: None,
        keep_estate: true,
        generate_only: false,
        postgres: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--deployments" => a.spec.deployments = value()?.parse()?,
            "--packages" => a.spec.packages = value()?.parse()?,
            "--seed" => a.spec.seed = value()?.parse()?,
            "--transformers-share" => a.spec.transformers_share = value()?.parse()?,
            "--models-share" => a.models_share = value()?.parse()?,
            "--estate-dir" => a.estate_dir = value()?.into(),
            "--work-dir" => a.work_dir = value()?.into(),
            "--requests" => a.requests = value()?.parse()?,
            "--json" => a.json_out = Some(value()?.into()),
            "--no-baseline" => a.baseline = false,
            "--drop-estate" => a.keep_estate = false,
            // Write the estate files and stop (to prepare a later run).
            "--generate-only" => a.generate_only = true,
            // The same estate and questions on this PostgreSQL database too
            // (its public schema is dropped first).
            "--postgres" => a.postgres = Some(value()?.clone()),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    let spec = &args.spec;
    let pypa = crate::repo_root().join("../shared/corpus/osv/pypa-advisory-database");
    let loaded = aibomdb_osv::load_path(&pypa, &aibomdb_osv::LoadLimits::default())?;
    let advisories: Vec<_> = loaded.advisories.into_iter().map(|(_, a)| a).collect();
    let pool = estate::name_pool(&advisories);

    // 1. The estate on disk.
    let estate = args.estate_dir.join(format!(
        "{}x{}-seed{}-t{}-m{}",
        spec.deployments, spec.packages, spec.seed, spec.transformers_share, args.models_share
    ));
    let start = Instant::now();
    let written = write_estate(&estate, spec, args.models_share, &pool)?;
    println!(
        "scale benchmark (release build, {} cores): {} deployments x {} packages, seed {}; transformers in {:.0} %, model lineage in {:.0} %",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        spec.deployments,
        spec.packages,
        spec.seed,
        spec.transformers_share * 100.0,
        args.models_share * 100.0
    );
    println!(
        "estate      {} CycloneDX 1.6 files, {:.1} MB, in {} ({})",
        written.files,
        written.bytes as f64 / 1e6,
        estate.display(),
        if written.generated {
            format!("written in {:.1} s", start.elapsed().as_secs_f64())
        } else {
            "reused".into()
        }
    );

    if args.generate_only {
        return Ok(());
    }

    // 2. Ingest.
    std::fs::create_dir_all(&args.work_dir)?;
    let db = args.work_dir.join("aibomdb.redb");
    let _ = std::fs::remove_file(&db);
    warm(&estate)?;
    // The CLI itself, as a user runs it; its peak RSS from GNU time.
    let aibomdb = sibling_binary("aibomdb")?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (ingest, ingest_rss) = timed_ingest(&aibomdb, db.as_os_str(), &estate)?;
    let store = Store::open(&db)?;
    let committed = store.stats()?.documents as usize;
    if committed != written.files {
        bail!(
            "ingest: {committed} of {} documents committed",
            written.files
        );
    }
    let stats = store.stats()?;
    let mut f = Figures::default();
    f.set("deployments", spec.deployments);
    f.set("packages_per_deployment", spec.packages);
    f.set("input_mb", written.bytes as f64 / 1e6);
    f.set("ingest_s", ingest.as_secs_f64());
    f.set(
        "ingest_docs_per_s",
        written.files as f64 / ingest.as_secs_f64(),
    );
    f.set(
        "ingest_mb_per_s",
        written.bytes as f64 / 1e6 / ingest.as_secs_f64(),
    );
    f.set("ingest_peak_rss_mib", ingest_rss);
    println!(
        "ingest      `aibomdb ingest DIR`: {:.2} s, {:.0} documents/s, {:.0} MB/s ({} parser threads, group commit, durable; page cache warm); {} package nodes, {} occurrences; peak RSS {:.0} MiB",
        ingest.as_secs_f64(),
        written.files as f64 / ingest.as_secs_f64(),
        written.bytes as f64 / 1e6 / ingest.as_secs_f64(),
        threads,
        stats.packages,
        stats.occurrences,
        ingest_rss
    );

    // 3. Advisories: load (matching as they land), then a full re-match.
    reset_peak_rss();
    let start = Instant::now();
    aibomdb_osv::load_advisories(&store, &advisories)?;
    let load = start.elapsed();
    let start = Instant::now();
    let rematch = aibomdb_osv::rematch_all(&store)?;
    let full_match = start.elapsed();
    let match_rss = peak_rss_mib();
    f.set("advisory_load_and_match_s", load.as_secs_f64());
    f.set("full_match_s", full_match.as_secs_f64());
    f.set("matches", rematch.matches);
    f.set("match_peak_rss_mib", match_rss);
    println!(
        "osv         {} PyPA records loaded and matched in {:.2} s; full re-match {:.2} s ({} candidates, {} matches; evaluate {} ms, write {} ms); peak RSS {:.0} MiB",
        advisories.len(),
        load.as_secs_f64(),
        full_match.as_secs_f64(),
        rematch.candidates,
        rematch.matches,
        rematch.evaluate_ms,
        rematch.store_ms,
        match_rss
    );
    let mut store = store;
    let before = std::fs::metadata(&db)?.len() as f64 / 1048576.0;
    // Where the bytes go: the largest tables by stored key and value bytes.
    let mut tables: Vec<(String, (u64, u64))> = store.table_sizes()?.into_iter().collect();
    tables.sort_by_key(|(_, (_, bytes))| std::cmp::Reverse(*bytes));
    let top: Vec<String> = tables
        .iter()
        .take(8)
        .map(|(name, (rows, bytes))| format!("{name} {:.1} MiB/{rows}", *bytes as f64 / 1048576.0))
        .collect();
    println!("tables      {}", top.join(", "));
    f.set(
        "table_bytes",
        tables
            .iter()
            .map(|(name, (rows, bytes))| {
                (
                    name.clone(),
                    serde_json::json!({"rows": rows, "bytes": bytes}),
                )
            })
            .collect::<serde_json::Map<_, _>>(),
    );
    let start = Instant::now();
    store.compact()?;
    let compact = start.elapsed();
    drop(store);
    let db_mib = std::fs::metadata(&db)?.len() as f64 / 1048576.0;
    f.set("db_uncompacted_mib", before);
    f.set("db_mib", db_mib);
    f.set("compact_s", compact.as_secs_f64());
    println!(
        "store       {before:.0} MiB after ingest and match; {db_mib:.0} MiB after `aibomdb compact` ({:.1} s)",
        compact.as_secs_f64()
    );

    // 4. The query shapes in process (query layer and GraphQL), then cold
    // open → first answer and HTTP against `aibomdb serve` in its own process.
    let store = Arc::new(Store::open(&db)?);
    let shapes = Shapes::of(&store)?;
    let Shapes {
        path_deployment,
        path_package,
        purl,
    } = &shapes;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let schema = aibomdb_api::build_schema(store.clone(), aibomdb_api::QueryLimits::default());
    println!(
        "queries     {} runs each; path: {path_deployment} → {path_package}; purl: {purl}",
        args.requests
    );
    let mut in_process = Vec::new();
    for shape in shapes.all() {
        let layer = time_n(args.requests, || shapes.ask_layer(&store, shape))?;
        let answer = shapes.ask_layer(&store, shape)?;
        let query = shapes.graphql(shape);
        let gql = time_n(args.requests, || {
            let r = runtime.block_on(schema.execute(async_graphql::Request::new(query.as_str())));
            if r.errors.is_empty() {
                Ok(0)
            } else {
                bail!("{shape}: {:?}", r.errors)
            }
        })?;
        in_process.push((shape, answer, layer, gql));
    }
    drop(schema);
    runtime.shutdown_timeout(Duration::from_secs(1));
    drop(store);

    evict(&db)?;
    let start = Instant::now();
    let server = Server::start(&aibomdb, &db)?;
    let mut client = crate::api::Client::connect(&server.addr)?;
    let first_body = json!({ "query": shapes.graphql("name-range") }).to_string();
    if client.post(&server.addr, &first_body)? != 200 {
        bail!("first answer failed");
    }
    let cold = start.elapsed();
    f.set("cold_open_first_answer_ms", ms(cold));
    println!(
        "open        `aibomdb serve` started on the store with its file dropped from the page cache → first HTTP answer {:.1} ms (process start included)",
        ms(cold)
    );
    for (shape, answer, layer, gql) in in_process {
        let body = json!({ "query": shapes.graphql(shape) }).to_string();
        let http = time_n(args.requests, || {
            match client.post(&server.addr, &body)? {
                200 => Ok(0),
                status => bail!("{shape}: HTTP {status}"),
            }
        })?;
        for (what, lat) in [("layer", &layer), ("graphql", &gql), ("http", &http)] {
            f.set(&format!("q_{shape}_{what}_p50_ms"), percentile(lat, 0.5));
            f.set(&format!("q_{shape}_{what}_p99_ms"), percentile(lat, 0.99));
        }
        f.set(&format!("q_{shape}_answer"), answer);
        println!(
            "  {shape:<11} {answer:>6} deployments   query layer p50 {:.3} p99 {:.3} ms   GraphQL in process p50 {:.3} p99 {:.3} ms   HTTP p50 {:.3} p99 {:.3} ms",
            percentile(&layer, 0.5),
            percentile(&layer, 0.99),
            percentile(&gql, 0.5),
            percentile(&gql, 0.99),
            percentile(&http, 0.5),
            percentile(&http, 0.99),
        );
    }
    let server_rss = server.peak_rss_mib();
    server.stop();
    f.set("query_peak_rss_mib", server_rss);
    println!(
        "memory      peak RSS: `aibomdb ingest` {ingest_rss:.0} MiB; `aibomdb serve` after all queries {server_rss:.0} MiB; this process while matching {match_rss:.0} MiB"
    );

    // 5. The same on PostgreSQL.
    if let Some(url) = &args.postgres {
        postgres::run(
            &postgres::Input {
                url,
                aibomdb: &aibomdb,
                estate: &estate,
                bytes: written.bytes,
                files: written.files,
                advisories: &advisories,
                shapes: &shapes,
                requests: args.requests,
            },
            &mut f,
        )?;
    }

    // 6. The baselines, same files, same questions.
    if args.baseline {
        let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
            .arg(crate::repo_root().join("benches/baseline_scale.py"))
            .args(["--estate".as_ref(), estate.as_os_str()])
            .args([
                "--work".as_ref(),
                args.work_dir.join("baseline").as_os_str(),
            ])
            .args(["--pypa".as_ref(), pypa.as_os_str()])
            .args(["--runs", &args.requests.min(200).to_string()])
            .args(["--advisory", ADVISORY])
            .args(["--deployment", path_deployment])
            .args(["--package", path_package])
            .args(["--purl", purl])
            .stderr(std::process::Stdio::inherit())
            .output()?;
        if !out.status.success() {
            bail!("baseline failed (pip install kuzu==0.11.3 duckdb packaging pyyaml)");
        }
        let base: Value = serde_json::from_slice(&out.stdout).context("baseline output")?;
        print_side_by_side(&f, &base);
        f.0["baseline"] = base;
    }
    if let Some(path) = &args.json_out {
        let mut file = std::fs::File::create(path)?;
        writeln!(file, "{}", serde_json::to_string_pretty(&f.0)?)?;
        println!("figures written to {}", path.display());
    }
    if !args.keep_estate {
        std::fs::remove_dir_all(&estate)?;
    }
    Ok(())
}

/// `aibomdb --db DB ingest ESTATE` as a user runs it: its wall time, and its
/// peak RSS in MiB from GNU time.
pub(super) fn timed_ingest(
    aibomdb: &Path,
    db: &std::ffi::OsStr,
    estate: &Path,
) -> Result<(Duration, f64)> {
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(aibomdb)
        .arg("--db")
        .arg(db)
        .arg("ingest")
        .arg(estate)
        .args(["--format", "json"])
        .stdout(std::process::Stdio::null())
        .output()
        .context("running aibomdb ingest under /usr/bin/time")?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!(
            "aibomdb ingest failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0);
    Ok((took, rss))
}

/// Figures by name, as JSON.
pub(super) struct Figures(Value);

impl Default for Figures {
    fn default() -> Self {
        Figures(json!({}))
    }
}

impl Figures {
    pub(super) fn set(&mut self, name: &str, value: impl serde::Serialize) {
        self.0[name] = json!(value);
    }

    fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).and_then(Value::as_f64)
    }
}

/// The `aibomdb` binary built beside this one (`cargo build --release -p
/// aibomdb -p aibomdb-bench`).
pub(crate) fn sibling_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} not found: cargo build --release -p aibomdb -p aibomdb-bench",
            path.display()
        );
    }
    Ok(path)
}

/// `aibomdb serve` in its own process, response cache off.
pub(crate) struct Server {
    child: std::process::Child,
    pub(crate) addr: String,
}

impl Server {
    pub(crate) fn start(aibomdb: &Path, db: &Path) -> Result<Server> {
        Self::start_with(aibomdb, db, &[])
    }

    /// As `start`, with more `serve` arguments (tokens).
    pub(crate) fn start_with(aibomdb: &Path, db: &Path, extra: &[&str]) -> Result<Server> {
        use std::io::BufRead;
        let mut child = Command::new(aibomdb)
            .arg("--db")
            .arg(db)
            .args(["serve", "--listen", "127.0.0.1:0", "--cache-entries", "0"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .with_context(|| format!("server said {line:?}"))?
            .to_string();
        Ok(Server { child, addr })
    }

    fn peak_rss_mib(&self) -> f64 {
        vm_hwm_mib(&format!("/proc/{}/status", self.child.id()))
    }

    pub(crate) fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn time_n(n: usize, mut f: impl FnMut() -> Result<usize>) -> Result<Vec<Duration>> {
    // One warm-up, as a server that has answered once.
    f()?;
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f()?;
        lat.push(t.elapsed());
    }
    lat.sort();
    Ok(lat)
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    ms(sorted[i])
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Drops a file's pages from the page cache, so that the next read comes
/// from disk: "cold" without root (GNU dd's documented `iflag=nocache
/// count=0`, which advises the kernel to drop the whole file).
fn evict(path: &Path) -> Result<()> {
    let status = Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()?;
    if !status.success() {
        bail!("dd could not drop {} from the page cache", path.display());
    }
    Ok(())
}

/// Reads every file under `dir` once, so that ingest and the baselines all
/// start from a warm page cache (the same starting line for each).
fn warm(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            std::hint::black_box(std::fs::read(&path)?);
        }
    }
    Ok(())
}

/// Resets this process's peak RSS (VmHWM), so each phase reports its own.
pub(super) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub(super) fn peak_rss_mib() -> f64 {
    vm_hwm_mib("/proc/self/status")
}

/// A process's peak RSS (VmHWM) from its `/proc/…/status`, in MiB.
fn vm_hwm_mib(status: &str) -> f64 {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Ratios next to each figure: how many times the baseline's time (or size)
/// is aibomdb's.
fn print_side_by_side(f: &Figures, base: &Value) {
    let b = |engine: &str, name: &str| {
        base.get(engine)
            .and_then(|e| e.get(name))
            .and_then(Value::as_f64)
    };
    let row = |label: &str, ours: Option<f64>, kuzu: Option<f64>, duck: Option<f64>, unit: &str| {
        let cell = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3} {unit}"));
        let ratio = |v: Option<f64>| match (ours, v) {
            (Some(o), Some(v)) if o > 0.0 => format!("{:.1}×", v / o),
            _ => "—".into(),
        };
        println!(
            "  {label:<38} {:>16} {:>16} {:>16} {:>9} {:>9}",
            cell(ours),
            cell(kuzu),
            cell(duck),
            ratio(kuzu),
            ratio(duck)
        );
    };
    println!();
    println!(
        "side by side (same files, same questions; ratio = baseline ÷ aibomdb, > 1 means aibomdb is faster/smaller)"
    );
    println!(
        "  {:<38} {:>16} {:>16} {:>16} {:>9} {:>9}",
        "", "aibomdb", "Kùzu", "DuckDB", "Kùzu/us", "Duck/us"
    );
    row(
        "ingest (parse + load, durable)",
        f.get("ingest_s"),
        b("kuzu", "ingest_s"),
        b("duckdb", "ingest_s"),
        "s",
    );
    row(
        "full OSV match",
        f.get("full_match_s"),
        b("python", "match_s"),
        b("python", "match_s"),
        "s",
    );
    row(
        "cold open → first answer",
        f.get("cold_open_first_answer_ms"),
        b("kuzu", "cold_open_first_answer_ms"),
        b("duckdb", "cold_open_first_answer_ms"),
        "ms",
    );
    for shape in ["name-range", "advisory", "path", "purl"] {
        for p in ["p50", "p99"] {
            row(
                &format!("{shape} {p} (in process)"),
                f.get(&format!("q_{shape}_layer_{p}_ms")),
                b("kuzu", &format!("q_{shape}_{p}_ms")),
                b("duckdb", &format!("q_{shape}_{p}_ms")),
                "ms",
            );
        }
        println!(
            "  {:<38} answers: aibomdb {} deployments, Kùzu {}, DuckDB {}",
            "",
            f.get(&format!("q_{shape}_answer")).unwrap_or(f64::NAN),
            b("kuzu", &format!("q_{shape}_answer")).unwrap_or(f64::NAN),
            b("duckdb", &format!("q_{shape}_answer")).unwrap_or(f64::NAN)
        );
    }
    row(
        "store on disk",
        f.get("db_mib"),
        b("kuzu", "db_mib"),
        b("duckdb", "db_mib"),
        "MiB",
    );
    let ours_rss = [
        f.get("ingest_peak_rss_mib"),
        f.get("match_peak_rss_mib"),
        f.get("query_peak_rss_mib"),
    ]
    .into_iter()
    .flatten()
    .fold(0.0, f64::max);
    row(
        "peak RSS (whole process)",
        Some(ours_rss),
        b("python", "peak_rss_mib"),
        b("python", "peak_rss_mib"),
        "MiB",
    );
    if let Some(parse) = b("python", "parse_s") {
        println!(
            "  baseline detail: Python json parse + CSV {parse:.2} s of each ingest figure; OSV records read with PyYAML in {:.2} s (not counted)",
            b("python", "advisory_read_s").unwrap_or(f64::NAN)
        );
    }
}
