//! `aibomdb-bench dashboard`: the web page's overview on a large estate
//! (default 10,000 deployments of 300 packages, PyPA's advisories matched):
//! the overview by the CLI (a process per run), over GraphQL at server start (waiting
//! for the first computation) and once the server has it ready, and the
//! page itself in Chromium (`tests/browser/timing.mjs`: ms from navigation
//! until the overview is on screen). Baseline, in the same run: the one
//! question the page's home view asked before the overview, `{deployments}`.

use std::time::Instant;

use aibomdb_store::Store;
use anyhow::{Context, Result, bail};

use crate::estate::{self, EstateSpec};

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut spec = EstateSpec {
        deployments: 10_000,
        packages: 300,
        transformers_share: 0.3,
        seed: 42,
    };
    let mut runs = 5;
    let mut reuse: Option<std::path::PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--deployments" => spec.deployments = value()?.parse()?,
            "--packages" => spec.packages = value()?.parse()?,
            "--runs" => runs = value()?.parse::<usize>()?.max(1),
            // A store an earlier run left (advisories loaded).
            "--reuse" => reuse = Some(value()?.into()),
            other => bail!("unknown argument {other}"),
        }
    }
    let db = match reuse {
        Some(db) => db,
        None => {
            let (db, _, advisories) = estate::ingested(&spec, 0.2, "dashboard-bench")?;
            aibomdb_osv::load_advisories(&Store::open(&db)?, &advisories)?;
            db
        }
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    {
        let store = Store::open(&db)?;
        let stats = store.stats()?;
        println!(
            "dashboard benchmark (release build, {cores} cores): {} ({} deployments, {} package occurrences, {} advisories)",
            db.display(),
            stats.deployments,
            stats.occurrences,
            store.advisory_count()?
        );
    }
    // The CLI, as a user runs it (the binary's allocator, a fresh process
    // each time: open, compute, print).
    let binary = crate::scale::sibling_binary("aibomdb")?;
    let mut cli = Vec::new();
    let mut answer = serde_json::Value::Null;
    for _ in 0..runs {
        let start = Instant::now();
        let out = std::process::Command::new(&binary)
            .arg("--db")
            .arg(&db)
            .args(["overview", "--format", "json"])
            .output()?;
        cli.push(start.elapsed().as_secs_f64() * 1e3);
        if !out.status.success() {
            bail!("aibomdb overview: {}", String::from_utf8_lossy(&out.stderr));
        }
        answer = serde_json::from_slice(&out.stdout)?;
    }
    let first_cli = cli[0];
    cli.sort_by(f64::total_cmp);
    println!(
        "aibomdb overview (CLI, whole run)  {first_cli:>9.1} ms first, {:>7.1} ms p50  ({} matched advisories, {} open (deployment, advisory) pairs, {} exposed deployments)",
        cli[cli.len() / 2],
        answer["matched_advisories"],
        answer["open_pairs"],
        answer["exposed_deployments"]
    );

    // One server: its refresher computes the overview at start; a request
    // then waits for that computation, later ones find it ready.
    let server = crate::scale::Server::start(&crate::scale::sibling_binary("aibomdb")?, &db)?;
    let mut client = crate::api::Client::connect(&server.addr)?;
    let timed = |client: &mut crate::api::Client, q: &str| -> Result<f64> {
        let body = serde_json::json!({ "query": q }).to_string();
        let start = Instant::now();
        let (status, answer) = client.query(&server.addr, &body)?;
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        // A refusal (complexity, timeout) is not an answer to time.
        let answer: serde_json::Value = serde_json::from_slice(&answer)?;
        if status != 200 || answer.get("errors").is_some() {
            bail!("{q}: HTTP {status}: {answer}");
        }
        Ok(elapsed)
    };
    let page_query = std::fs::read_to_string(crate::repo_root().join("web/app.js"))?;
    if !page_query.contains("overview(top:10)") {
        bail!("web/app.js no longer asks overview(top:10): update this benchmark");
    }
    // A query text of its own each time, so that the response cache (keyed
    // on the text) does not answer: what is timed is the overview's.
    let overview = |top: usize| {
        format!(
            "{{overview(top:{top}){{counts{{deployments documents packages models datasets advisoriesLoaded}} advisoriesBySeverity{{critical high medium low unknown}} kevAdvisories matchedAdvisories openPairs suppressedPairs exposedDeployments topExposures{{rank advisory severity openDeployments packages}} riskiestDeployments{{risk deployment open}} modelsWithFindings{{purl findings}} recentDocuments{{id deployment}} recentSyncs{{feed at}}}}}}"
        )
    };
    let at_start = timed(&mut client, &overview(99))?;
    let baseline_cold = timed(&mut client, "{deployments}")?;
    let mut ready = Vec::new();
    let mut baseline = Vec::new();
    for i in 0..runs.max(1) {
        ready.push(timed(&mut client, &overview(20 + i))?);
        baseline.push(timed(&mut client, "{deployments}")?);
    }
    // The chart the page asks for once the overview is on screen (never
    // cached: it ends at now).
    let history = match timed(&mut client, "{exposureHistory(days:30){at open}}") {
        Ok(ms) => format!("{ms:.1} ms"),
        Err(e) => format!("failed: {e}"),
    };
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "GraphQL overview at server start   {at_start:>9.1} ms (waits for the first computation)"
    );
    println!(
        "GraphQL overview, computed before  {:>9.2} ms p50 (response cache not used)",
        median(&mut ready)
    );
    println!(
        "GraphQL exposureHistory(days:30)   {history:>12} (loaded after the overview is on screen)"
    );
    println!(
        "baseline: GraphQL {{deployments}}    {baseline_cold:>9.1} ms first, {:>7.2} ms p50 after",
        median(&mut baseline)
    );

    // The page: the first load's request misses the response cache.
    let script = crate::repo_root().join("tests/browser/timing.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .arg(format!("http://{}/", server.addr))
        .arg(runs.to_string())
        .output()
        .context("node (npm ci --prefix tests/browser)")?;
    server.stop();
    if !out.status.success() {
        bail!("timing.mjs: {}", String::from_utf8_lossy(&out.stderr));
    }
    let loads: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
    let rendered: Vec<f64> = loads
        .iter()
        .filter_map(|l| l["renderedMs"].as_f64())
        .collect();
    if rendered.is_empty() {
        bail!("timing.mjs measured nothing");
    }
    let mut after: Vec<f64> = rendered[1..].to_vec();
    println!(
        "page: overview on screen           {:>9.1} ms first load, {:>7.1} ms p50 after (target < 300 ms)",
        rendered[0],
        if after.is_empty() {
            f64::NAN
        } else {
            median(&mut after)
        }
    );
    Ok(())
}
