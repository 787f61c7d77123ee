//! `aibomdb-bench releases`: runtime observations ingested over HTTP
//! (`POST /v1/observations`, batched, with the write token) and drift
//! computed for every deployment of an estate, each next to its baseline in
//! the same run: one observation per request, and drift asked one
//! deployment at a time through the per-deployment function (what `aibomdb
//! drift --deployment` runs).

use std::time::{Duration, Instant};

use aibomdb_store::Store;
use anyhow::{Context, Result, bail};

use crate::estate::{self, EstateSpec, Rng};

const WRITE: &str = "bench-write-token-0123456789";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut spec = EstateSpec {
        deployments: 10_000,
        packages: 300,
        transformers_share: 0.3,
        seed: 42,
    };
    let mut observations = 50_000;
    let mut batch = 500;
    let mut runs = 3;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--deployments" => spec.deployments = value()?.parse()?,
            "--packages" => spec.packages = value()?.parse()?,
            "--observations" => observations = value()?.parse()?,
            "--batch" => batch = value()?.parse()?,
            "--runs" => runs = value()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let models_share = 0.2;
    // Advisories stay unloaded: releases record open matches, not the cost here.
    let (db, written, _) = estate::ingested(&spec, models_share, "release-bench")?;

    // One release per deployment, as a pipeline makes them.
    let store = Store::open(&db)?;
    let deployments: Vec<String> = store.deployments()?.into_iter().map(|d| d.name).collect();
    let mut rng = Rng(spec.seed);
    let digest = |rng: &mut Rng| {
        format!(
            "sha256:{:016x}{:016x}{:016x}{:016x}",
            rng.next(),
            rng.next(),
            rng.next(),
            rng.next()
        )
    };
    let mut images = Vec::with_capacity(deployments.len());
    let start = Instant::now();
    for name in &deployments {
        let image = format!("registry.example/{name}@{}", digest(&mut rng));
        aibomdb_release::create(
            &store,
            aibomdb_release::NewRelease {
                deployment: name.clone(),
                name: "r1".into(),
                images: vec![image.clone()],
                runners: vec!["vllm==0.6.3".into()],
                approved_by: Some("release-bot".into()),
                at: 1_764_633_600,
                ..Default::default()
            },
        )?;
        images.push(image);
    }
    let created = start.elapsed();
    drop(store);
    println!(
        "releases benchmark (release build, {} cores): {} deployments x {} packages ({} files, {:.0} MB), one release each ({:.1} s to create, {:.2} ms per release)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        deployments.len(),
        spec.packages,
        written.files,
        written.bytes as f64 / 1e6,
        created.as_secs_f64(),
        created.as_secs_f64() * 1e3 / deployments.len().max(1) as f64
    );

    // Observations: what runs is the released image on the released runner,
    // except one deployment in ten, which runs another image or runner.
    let observation = |i: usize, rng: &mut Rng| {
        let d = i % deployments.len();
        let released = images[d]
            .rsplit_once('@')
            .map_or("", |(_, x)| x)
            .to_string();
        let drifted = rng.below(10) == 0;
        serde_json::json!({
            "deployment": deployments[d],
            "image_digests": [if drifted { digest(rng) } else { released }],
            "runners": [if drifted && rng.below(2) == 0 { "vllm==0.7.0" } else { "vllm==0.6.3" }],
            "at": 1_764_633_600 + i as i64,
        })
    };
    let server = crate::scale::Server::start_with(
        &crate::scale::sibling_binary("aibomdb")?,
        &db,
        &["--write-token", WRITE],
    )?;
    let mut client = crate::api::Client::connect(&server.addr)?;
    let mut sent = 0;
    let start = Instant::now();
    while sent < observations {
        let n = batch.min(observations - sent);
        let body =
            serde_json::Value::Array((sent..sent + n).map(|i| observation(i, &mut rng)).collect())
                .to_string();
        let status =
            client.post_authorized(&server.addr, "/v1/observations", &body, Some(WRITE))?;
        if status != 200 {
            bail!("POST /v1/observations answered {status}");
        }
        sent += n;
    }
    let batched = start.elapsed();
    let single = (observations / 10).max(1);
    let start = Instant::now();
    for i in 0..single {
        let body = observation(observations + i, &mut rng).to_string();
        let status =
            client.post_authorized(&server.addr, "/v1/observations", &body, Some(WRITE))?;
        if status != 200 {
            bail!("POST /v1/observations answered {status}");
        }
    }
    let one_by_one = start.elapsed();
    server.stop();
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "POST /v1/observations, batches of {batch}:     {:>9.0} observations/s  ({observations} in {:.2} s, one keep-alive connection)",
        rate(observations, batched),
        batched.as_secs_f64()
    );
    println!(
        "baseline: one observation per request: {:>9.0} observations/s  ({single} in {:.2} s)",
        rate(single, one_by_one),
        one_by_one.as_secs_f64()
    );

    // Drift of every deployment: one pass, next to asking one at a time.
    let store = Store::open(&db)?;
    let mut best = Duration::MAX;
    let mut drifted = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let all = aibomdb_release::drift_all(&store)?;
        best = best.min(start.elapsed());
        drifted = all.iter().filter(|d| d.drifted).count();
    }
    println!(
        "drift, every deployment (one pass):     {:>9.1} ms  ({} deployments, {drifted} drifted; best of {runs})",
        best.as_secs_f64() * 1e3,
        deployments.len()
    );
    let start = Instant::now();
    let mut again = 0;
    for name in &deployments {
        if aibomdb_release::drift(&store, name)?.is_some_and(|d| d.drifted) {
            again += 1;
        }
    }
    let each = start.elapsed();
    if again != drifted {
        bail!("drift one at a time found {again} drifted, the pass {drifted}");
    }
    println!(
        "baseline: drift one deployment at a time: {:>7.1} ms",
        each.as_secs_f64() * 1e3
    );
    Ok(())
}
