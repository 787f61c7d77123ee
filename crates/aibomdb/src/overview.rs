//! `aibomdb overview` (the estate at a glance, as the web page's home view
//! shows it) and `aibomdb search` (the page's search box, ranked).

use std::process::ExitCode;

use aibomdb_store::Store;
use anyhow::Result;
use clap::Args;

use crate::OutputFormat;
use crate::table::Table;

#[derive(Args)]
pub(crate) struct OverviewArgs {
    /// How many entries each list keeps (1–100).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    top: u16,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct SearchArgs {
    /// A package name or its start, an advisory id or alias, or part of a
    /// deployment's name.
    text: String,
    /// How many entries each list keeps (1–200).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=200))]
    limit: u16,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

fn time(secs: u64) -> String {
    aibomdb_policy::time::format(i64::try_from(secs).unwrap_or(i64::MAX))
}

pub(crate) fn overview(store: &Store, args: OverviewArgs) -> Result<ExitCode> {
    let o = aibomdb_query::overview(store, usize::from(args.top))?;
    if let OutputFormat::Json = args.format {
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(ExitCode::SUCCESS);
    }
    let c = &o.counts;
    println!(
        "{} deployments, {} current documents, {} packages, {} models, {} datasets, {} advisories loaded",
        c.deployments, c.documents, c.packages, c.models, c.datasets, c.advisories_loaded
    );
    let s = &o.advisories_by_severity;
    println!(
        "matched advisories open somewhere: {} critical, {} high, {} medium, {} low, {} unknown ({} in KEV; {} matched in all)",
        s.critical, s.high, s.medium, s.low, s.unknown, o.kev_advisories, o.matched_advisories
    );
    println!(
        "(deployment, advisory) pairs: {} open, {} suppressed by VEX; {} deployments exposed",
        o.open_pairs, o.suppressed_pairs, o.exposed_deployments
    );
    println!("ranking: {}", o.ranking);
    println!("\ntop exposures");
    let mut t = Table::new(&[
        "rank",
        "advisory",
        "severity",
        "KEV",
        "deployments",
        "suppressed",
        "fix",
        "packages",
    ]);
    for r in &o.top_exposures {
        let e = &r.exposure;
        t.row(vec![
            r.rank.to_string(),
            e.advisory.clone(),
            e.score.map_or_else(
                || e.severity.as_str().to_string(),
                |x| format!("{} {x}", e.severity.as_str()),
            ),
            if e.kev { "yes" } else { "" }.to_string(),
            e.open_deployments.to_string(),
            e.suppressed_deployments.to_string(),
            if e.fix_available { "yes" } else { "no" }.to_string(),
            more(e.packages.join(" "), e.package_count, e.packages.len()),
        ]);
    }
    print!("{t}");
    println!("\nriskiest deployments");
    let mut t = Table::new(&[
        "risk",
        "deployment",
        "open",
        "critical",
        "high",
        "medium",
        "low",
        "unknown",
        "KEV",
    ]);
    for r in &o.riskiest_deployments {
        let d = &r.exposure;
        t.row(vec![
            r.risk.to_string(),
            d.deployment.clone(),
            r.open.to_string(),
            d.critical.to_string(),
            d.high.to_string(),
            d.medium.to_string(),
            d.low.to_string(),
            d.unknown.to_string(),
            d.kev.to_string(),
        ]);
    }
    print!("{t}");
    if !o.models_with_findings.is_empty() {
        println!("\nmodels with findings");
        let mut t = Table::new(&["model", "findings", "kinds", "deployments"]);
        for m in &o.models_with_findings {
            t.row(vec![
                m.purl.clone(),
                m.findings.to_string(),
                m.kinds.join(", "),
                more(
                    m.deployments.join(", "),
                    m.deployment_count,
                    m.deployments.len(),
                ),
            ]);
        }
        print!("{t}");
    }
    println!("\nrecent ingests");
    let mut t = Table::new(&["ingested", "id", "deployment", "format", "current", "path"]);
    for d in &o.recent_documents {
        t.row(vec![
            time(d.ingested_at),
            d.id.to_string(),
            d.deployment.clone(),
            d.format.clone(),
            if d.current { "yes" } else { "no" }.to_string(),
            d.path.clone(),
        ]);
    }
    print!("{t}");
    if !o.recent_syncs.is_empty() {
        println!("\nrecent syncs");
        let mut t = Table::new(&["at", "feed"]);
        for x in &o.recent_syncs {
            t.row(vec![time(x.at), x.feed.clone()]);
        }
        print!("{t}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn search(store: &Store, args: SearchArgs) -> Result<ExitCode> {
    let r = aibomdb_query::search(store, &args.text, usize::from(args.limit))?;
    if let OutputFormat::Json = args.format {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["package", "exact", "deployments", "versions"]);
    for p in &r.packages {
        t.row(vec![
            p.purl.clone(),
            if p.exact { "yes" } else { "" }.to_string(),
            p.deployments.to_string(),
            p.versions.to_string(),
        ]);
    }
    print!("{t}");
    if !r.deployments.is_empty() {
        println!("\ndeployments: {}", r.deployments.join(", "));
    }
    if !r.advisories.is_empty() {
        println!("advisories: {}", r.advisories.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// A list cut short says how many more there are.
fn more(listed: String, count: usize, shown: usize) -> String {
    if count > shown {
        format!("{listed} (+{} more)", count - shown)
    } else {
        listed
    }
}
