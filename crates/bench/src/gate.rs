//! `aibomdb-bench gate`: every rule of `examples/policy.toml` over a whole
//! synthetic estate (the `scale` generator's CycloneDX files, ingested by
//! the CLI, PyPA advisories loaded), each rule alone and all together, next
//! to the baseline of the two gates that existed before `gate`: `match`
//! over every deployment and `query models` over every model.

use std::time::{Duration, Instant};

use aibomdb_policy::Policy;
use aibomdb_store::Store;
use anyhow::{Context, Result, bail};

use crate::estate::{self, EstateSpec};

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut spec = EstateSpec {
        deployments: 2_000,
        packages: 300,
        transformers_share: 0.3,
        seed: 42,
    };
    let mut models_share = 0.2;
    let mut runs = 3;
    let mut reuse: Option<std::path::PathBuf> = None;
    let mut only: Option<String> = None;
    let mut no_check = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--deployments" => spec.deployments = value()?.parse()?,
            "--packages" => spec.packages = value()?.parse()?,
            "--models-share" => models_share = value()?.parse()?,
            "--runs" => runs = value()?.parse()?,
            // A store an earlier run of this bench left (advisories loaded):
            // for measuring the gate again without ingesting again.
            "--reuse" => reuse = Some(value()?.into()),
            // One line of the table (a rule's name, `all rules`), for
            // profiling; `estate`: the estate counted; `http`: only
            // `POST /v1/gate` and its baseline.
            "--only" => only = Some(value()?.clone()),
            // The estate counted, warm only: without the cold run and the
            // check against the full report (for profiling).
            "--no-check" => no_check = true,
            other => bail!("unknown argument {other}"),
        }
    }
    let root = crate::repo_root();
    let reused = reuse.is_some();
    let (db, written, store) = match reuse {
        Some(db) => {
            let store = Store::open(&db)?;
            (db, crate::scale::Written::default(), store)
        }
        None => {
            let (db, written, advisories) = estate::ingested(&spec, models_share, "gate-bench")?;
            let store = Store::open(&db)?;
            aibomdb_osv::load_advisories(&store, &advisories)?;
            (db, written, store)
        }
    };
    let deployments = aibomdb_policy::all_deployments(&store)?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    if reused {
        let stats = store.stats()?;
        println!(
            "gate benchmark (release build, {cores} cores): the store {} as it was left ({} deployments, {} package occurrences); best of {runs} runs",
            db.display(),
            deployments.len(),
            stats.occurrences,
        );
    } else {
        println!(
            "gate benchmark (release build, {cores} cores): {} deployments x {} packages ({} files, {:.0} MB), model lineage in {:.0} %, PyPA advisories loaded; best of {runs} runs",
            deployments.len(),
            spec.packages,
            written.files,
            written.bytes as f64 / 1e6,
            models_share * 100.0
        );
    }

    let best = |f: &mut dyn FnMut() -> Result<usize>| -> Result<(Duration, usize)> {
        let mut best = Duration::MAX;
        let mut n = 0;
        for _ in 0..runs {
            let start = Instant::now();
            n = f()?;
            best = best.min(start.elapsed());
        }
        Ok((best, n))
    };
    let text = std::fs::read_to_string(root.join("examples/policy.toml"))?;
    let at = aibomdb_policy::time::parse("2026-12-01").unwrap_or_default();
    let report = |name: &str, d: Duration, violations: usize| {
        println!(
            "{name:<28} {:>9.1} ms  {:>7.3} ms/deployment  {violations} violations",
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3 / deployments.len().max(1) as f64
        );
    };
    // Each rule alone, then the whole policy.
    let policy = Policy::parse("examples/policy.toml", &text)?;
    let mut alone: Vec<(&str, Policy)> = Vec::new();
    for rule in [
        "vulnerabilities",
        "pinning",
        "freshness",
        "models",
        "licenses",
        "evidence",
    ] {
        let mut p = policy.clone();
        p.vulnerabilities = p.vulnerabilities.filter(|_| rule == "vulnerabilities");
        p.pinning = p.pinning.filter(|_| rule == "pinning");
        p.freshness = p.freshness.filter(|_| rule == "freshness");
        p.models = p.models.filter(|_| rule == "models");
        p.licenses = p.licenses.filter(|_| rule == "licenses");
        p.evidence = p.evidence.filter(|_| rule == "evidence");
        p.custom.clear();
        alone.push((rule, p));
    }
    let mut custom = policy.clone();
    custom.vulnerabilities = None;
    custom.pinning = None;
    custom.freshness = None;
    custom.models = None;
    custom.licenses = None;
    custom.evidence = None;
    alone.push(("custom (CEL)", custom));
    let mut without_evidence = policy.clone();
    without_evidence.evidence = None;
    alone.push(("all but evidence", without_evidence));
    let policy_all = policy.clone();
    alone.push(("all rules", policy));
    alone.retain(|(name, _)| only.as_deref().is_none_or(|o| o == *name));
    for (name, p) in &alone {
        let (d, n) = best(&mut || {
            let r = aibomdb_policy::evaluate(&store, p, &deployments, at)?;
            Ok(r.deployments
                .iter()
                .flat_map(|d| &d.rules)
                .map(|r| r.violations.len())
                .sum())
        })?;
        report(name, d, n);
    }
    if only.as_deref().is_none_or(|o| o == "estate") {
        estate(
            &store,
            &policy_all,
            &deployments,
            at,
            no_check,
            &best,
            &report,
        )?;
    }
    let http_only = only.as_deref() == Some("http");
    if only.is_some() && !http_only {
        return Ok(());
    }
    if !http_only {
        estate_baselines(&store, &deployments, &best, &report)?;
    }

    // One deployment over HTTP: `POST /v1/gate` with the stored policy, as a
    // pipeline asks it, next to the GraphQL question a pipeline asked before
    // (`match` for one deployment), on `aibomdb serve` in its own process.
    store.put_policy(&aibomdb_store::StoredPolicy {
        name: "release".into(),
        text: text.clone(),
        added_at: 0,
    })?;
    drop(store);
    let server = crate::scale::Server::start(&crate::scale::sibling_binary("aibomdb")?, &db)?;
    let requests = 300;
    let mut gate_lat = Vec::with_capacity(requests);
    let mut match_lat = Vec::with_capacity(requests);
    let mut client = crate::api::Client::connect(&server.addr)?;
    // A server that has been answering a while: the same number of requests
    // first about *other* deployments, so what the estate shares is in the
    // gate's caches, and what the measured deployments alone make is not.
    let measured = |i: usize| (i * 7919) % deployments.len();
    let asked: std::collections::HashSet<usize> = (0..requests).map(measured).collect();
    let warm: Vec<&String> = (0..deployments.len())
        .map(|i| (i * 7919 + 1) % deployments.len())
        .filter(|i| !asked.contains(i))
        .take(requests)
        .map(|i| &deployments[i])
        .collect();
    for d in &warm {
        let body = serde_json::json!({"stored": "release", "deployment": d, "at": "2026-12-01"})
            .to_string();
        client.post_to(&server.addr, "/v1/gate", &body)?;
    }
    for i in 0..requests {
        let d = &deployments[measured(i)];
        let body = serde_json::json!({"stored": "release", "deployment": d, "at": "2026-12-01"})
            .to_string();
        let start = Instant::now();
        let status = client.post_to(&server.addr, "/v1/gate", &body)?;
        gate_lat.push(start.elapsed());
        if status != 200 {
            bail!("POST /v1/gate answered {status}");
        }
        let q = serde_json::json!({"query": "query($d:String!){deployment(name:$d){advisories{advisory severity open}}}", "variables": {"d": d}}).to_string();
        let start = Instant::now();
        client.post(&server.addr, &q)?;
        match_lat.push(start.elapsed());
    }
    // The whole estate counted, from the same server: the first request
    // (after the one-deployment requests above) and then warm.
    let body =
        serde_json::json!({"stored": "release", "all": true, "at": "2026-12-01"}).to_string();
    let mut estate_lat = Vec::new();
    for _ in 0..4 {
        let start = Instant::now();
        let status = client.post_to(&server.addr, "/v1/gate", &body)?;
        estate_lat.push(start.elapsed());
        if status != 200 {
            bail!("POST /v1/gate {{\"all\": true}} answered {status}");
        }
    }
    server.stop();
    let warm_best = estate_lat[1..].iter().min().copied().unwrap_or_default();
    println!(
        "POST /v1/gate {{\"all\": true}}  first {:.0} ms, then best of {} {:.0} ms ({} deployments counted)",
        estate_lat[0].as_secs_f64() * 1e3,
        estate_lat.len() - 1,
        warm_best.as_secs_f64() * 1e3,
        deployments.len()
    );
    for (name, mut lat) in [
        ("POST /v1/gate (all rules)", gate_lat),
        ("baseline: GraphQL advisories", match_lat),
    ] {
        lat.sort();
        let p = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
        println!(
            "{name:<28} p50 {:.2} ms  p99 {:.2} ms  ({requests} requests, one keep-alive connection, after {} about other deployments)",
            p(0.5),
            p(0.99),
            warm.len()
        );
    }
    Ok(())
}

/// Best of the runs: (time, what the last run counted).
type Best<'a> = dyn Fn(&mut dyn FnMut() -> Result<usize>) -> Result<(Duration, usize)> + 'a;

/// The gates that existed before `gate`, over the same estate.
fn estate_baselines(
    store: &Store,
    deployments: &[String],
    best: &Best<'_>,
    report: &dyn Fn(&str, Duration, usize),
) -> Result<()> {
    println!("baseline: the gates before `gate`, over the same estate");
    // One deployment at a time, as `match --deployment` is run per
    // pipeline: the whole estate's rows at once do not fit in memory at
    // 10,000 deployments (8 M matches).
    let (d, n) = best(&mut || {
        let mut open = 0;
        for name in deployments {
            open += aibomdb_osv::deployment_matches(store, Some(name))?
                .iter()
                .filter(|r| r.is_open())
                .count();
        }
        Ok(open)
    })?;
    report("match (each deployment)", d, n);
    let (d, n) = best(&mut || {
        Ok(aibomdb_query::models(store, None)?
            .iter()
            .filter(|m| !m.findings.is_empty())
            .count())
    })?;
    report("query models --risky", d, n);
    Ok(())
}

/// Every rule over the estate as verdicts and counts (`gate --all
/// --counts`), checked against the full evaluation, deployment by
/// deployment and rule by rule: the same outcomes, the same numbers of
/// violations at each level, the same waived matches.
fn estate(
    store: &Store,
    policy: &Policy,
    deployments: &[String],
    at: i64,
    no_check: bool,
    best: &Best<'_>,
    report: &dyn Fn(&str, Duration, usize),
) -> Result<()> {
    let cache = aibomdb_policy::GateCache::default();
    let (d, n) = best(&mut || {
        let r = aibomdb_policy::evaluate_estate(store, policy, deployments, at, &cache)?;
        Ok(r.deployments
            .iter()
            .flat_map(|d| &d.rules)
            .map(|r| r.tally.deny + r.tally.warn)
            .sum())
    })?;
    report("all rules, counted", d, n);
    if no_check {
        return Ok(());
    }
    // A cold cache too: what one `aibomdb gate --all --counts` pays.
    // The cache is let go of after the clock stops, as the CLI leaves it
    // to the process's exit.
    let cold = aibomdb_policy::GateCache::default();
    let start = Instant::now();
    let counted = aibomdb_policy::evaluate_estate(store, policy, deployments, at, &cold)?;
    report("all rules, counted, cold", start.elapsed(), n);
    drop(cold);
    let full = aibomdb_policy::evaluate(store, policy, deployments, at)?;
    for (c, f) in counted.deployments.iter().zip(&full.deployments) {
        if c.deployment != f.deployment || c.passed != f.passed || c.rules.len() != f.rules.len() {
            bail!(
                "{}: the counted verdict differs from the full one",
                f.deployment
            );
        }
        for (cr, fr) in c.rules.iter().zip(&f.rules) {
            let level = |l| fr.violations.iter().filter(|v| v.level == l).count();
            let same = cr.rule == fr.rule
                && cr.outcome == fr.outcome
                && cr.tally.deny == level(aibomdb_policy::Enforcement::Deny)
                && cr.tally.warn == level(aibomdb_policy::Enforcement::Warn)
                && cr.tally.waived == fr.waived.len();
            if !same {
                bail!(
                    "{}: rule {} counted {:?} ({:?}), the full evaluation has {} violations ({:?})",
                    f.deployment,
                    fr.rule,
                    cr.tally,
                    cr.outcome,
                    fr.violations.len(),
                    fr.outcome
                );
            }
        }
    }
    println!(
        "{:<28} every one of {} deployments: the same outcomes and counts as the full evaluation",
        "",
        full.deployments.len()
    );
    Ok(())
}
