//! `aibomdb gate`: one policy file over the graph; exit 1 when a `deny`
//! rule fails, 2 for a bad policy or an unknown deployment.

use std::path::PathBuf;
use std::process::ExitCode;

use aibomdb_policy::{Enforcement, GateReport, Outcome, Policy, PolicyError};
use aibomdb_store::Store;
use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::BadInput;
use crate::table::Table;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GateFormat {
    Table,
    Json,
    Sarif,
    Junit,
}

#[derive(Args)]
pub(crate) struct GateArgs {
    /// The policy file (TOML, `version = 1`; see examples/policy.toml).
    #[arg(long, required_unless_present = "stored")]
    policy: Option<PathBuf>,
    /// A policy stored with `aibomdb policy add`, by name.
    #[arg(long, conflicts_with = "policy")]
    stored: Option<String>,
    /// Deployments to evaluate (repeatable).
    #[arg(long = "deployment", required_unless_present_any = ["all", "document"])]
    deployments: Vec<String>,
    /// Evaluate this SBOM or lockfile as one deployment, against the store's
    /// advisories and approvals, without storing it.
    #[arg(long, conflicts_with_all = ["deployments", "all"])]
    document: Option<PathBuf>,
    /// Evaluate every deployment in the store.
    #[arg(long, conflicts_with = "deployments")]
    all: bool,
    /// Evaluate as of this instant (RFC 3339 or a date): waivers expire
    /// against it, so a run can be repeated exactly.
    #[arg(long)]
    at: Option<String>,
    /// Each deployment's verdict and each rule's count of violations, without
    /// listing them: the whole estate at a glance (table or json). One
    /// deployment's violations and paths: `--deployment NAME` without it.
    #[arg(long, conflicts_with = "document")]
    counts: bool,
    #[arg(long, value_enum, default_value_t = GateFormat::Table)]
    format: GateFormat,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn policy_error(e: PolicyError) -> anyhow::Error {
    match e {
        PolicyError::Store(s) => s.into(),
        other => BadInput(other.to_string()).into(),
    }
}

pub(crate) fn run(store: &Store, args: GateArgs) -> Result<ExitCode> {
    // The policy is checked whole before anything is read from the store.
    let policy = match (&args.policy, &args.stored) {
        (Some(path), _) => Policy::load(path).map_err(policy_error)?,
        (None, Some(name)) => {
            let stored = store.policy(name)?.ok_or_else(|| {
                BadInput(format!(
                    "no stored policy named {name:?} (see `aibomdb policy list`)"
                ))
            })?;
            Policy::from_stored(&stored).map_err(policy_error)?
        }
        (None, None) => return Err(BadInput("give --policy FILE or --stored NAME".into()).into()),
    };
    let at = match &args.at {
        None => aibomdb_policy::time::now(),
        Some(text) => aibomdb_policy::time::parse(text).ok_or_else(|| {
            BadInput(format!(
                "--at {text:?}: not an RFC 3339 time (2027-01-31T00:00:00Z) or a date (2027-01-31)"
            ))
        })?,
    };
    if args.counts && matches!(args.format, GateFormat::Sarif | GateFormat::Junit) {
        return Err(BadInput(
            "--counts lists no violations: give --format table or json (SARIF and JUnit list each violation)"
                .into(),
        )
        .into());
    }
    let report = if let Some(path) = &args.document {
        let prepared = aibomdb_ingest::prepare(path, &aibomdb_ingest::Limits::default())
            .map_err(|e| BadInput(e.to_string()))?;
        aibomdb_policy::evaluate_document(store, &policy, prepared, at).map_err(policy_error)?
    } else {
        let deployments = if args.all {
            let all = aibomdb_policy::all_deployments(store).map_err(policy_error)?;
            if all.is_empty() {
                // Nothing judged is no pass (a mistyped --db is a new, empty store).
                return Err(BadInput("--all: the store has no deployments to judge".into()).into());
            }
            all
        } else {
            args.deployments.clone()
        };
        if args.counts {
            let cache = aibomdb_policy::GateCache::default();
            let counted = aibomdb_policy::evaluate_estate(store, &policy, &deployments, at, &cache)
                .map_err(policy_error)?;
            let text = match args.format {
                GateFormat::Json => serde_json::to_string_pretty(&counted)? + "\n",
                _ => counts_table(&counted),
            };
            crate::write_out(args.out.as_ref(), &text)?;
            // What the estate's evaluation kept (hundreds of MB at 10,000
            // deployments) is left to the process's exit: freeing it piece
            // by piece took a tenth of the run.
            std::mem::forget(cache);
            return Ok(if counted.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        aibomdb_policy::evaluate(store, &policy, &deployments, at).map_err(policy_error)?
    };
    let text = match args.format {
        GateFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        GateFormat::Sarif => {
            serde_json::to_string_pretty(&aibomdb_policy::output::sarif(&report))? + "\n"
        }
        GateFormat::Junit => aibomdb_policy::output::junit(&report),
        GateFormat::Table => table(&report),
    };
    crate::write_out(args.out.as_ref(), &text)?;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One row per deployment, one column per rule: its outcome and counts.
fn counts_table(report: &aibomdb_policy::EstateReport) -> String {
    let mut out = format!("policy {} as of {}\n", report.policy, report.at);
    let Some(first) = report.deployments.first() else {
        return out;
    };
    let mut header = vec!["deployment", "verdict"];
    header.extend(first.rules.iter().map(|r| r.rule.as_str()));
    let mut t = Table::new(&header);
    for d in &report.deployments {
        let mut row = vec![
            d.deployment.clone(),
            if d.passed { "pass" } else { "FAIL" }.to_string(),
        ];
        row.extend(d.rules.iter().map(|r| {
            let (deny, warn, waived) = (r.tally.deny, r.tally.warn, r.tally.waived);
            let mut cell = match r.outcome {
                Outcome::Pass => "pass".to_string(),
                Outcome::Warn => format!("warn {warn}"),
                Outcome::Fail if warn > 0 => format!("FAIL {deny} (+{warn} warn)"),
                Outcome::Fail => format!("FAIL {deny}"),
            };
            if waived > 0 {
                cell.push_str(&format!(", {waived} waived"));
            }
            cell
        }));
        t.row(row);
    }
    out.push_str(&t.to_string());
    let failed = report.deployments.iter().filter(|d| !d.passed).count();
    out.push_str(&format!(
        "{} deployments, {failed} fail; one deployment's violations and paths: aibomdb gate --deployment NAME\n",
        report.deployments.len()
    ));
    out
}

fn table(report: &GateReport) -> String {
    let mut out = format!("policy {} as of {}\n", report.policy, report.at);
    for d in &report.deployments {
        out.push_str(&format!(
            "\n{}: {}\n",
            d.deployment,
            if d.passed { "pass" } else { "FAIL" }
        ));
        let mut t = Table::new(&["rule", "level", "outcome", "summary"]);
        for r in &d.rules {
            t.row(vec![
                r.rule.to_string(),
                format!("{:?}", r.level).to_lowercase(),
                match r.outcome {
                    Outcome::Pass => "pass",
                    Outcome::Warn => "warn",
                    Outcome::Fail => "FAIL",
                }
                .to_string(),
                r.summary.clone(),
            ]);
        }
        out.push_str(&t.to_string());
        for r in &d.rules {
            for v in &r.violations {
                out.push_str(&format!(
                    "  {} {}: {}\n",
                    if v.level == Enforcement::Deny {
                        "deny"
                    } else {
                        "warn"
                    },
                    r.rule,
                    aibomdb_policy::output::violation_text(v)
                ));
            }
            for w in &r.waived {
                out.push_str(&format!(
                    "  waived {}: {} until {} (policy line {}: {})\n",
                    r.rule, w.subject, w.expires, w.line, w.reason
                ));
            }
        }
    }
    out.push_str(&format!(
        "\n{}\n",
        if report.passed {
            "gate passed"
        } else {
            "gate failed: a deny rule did not pass"
        }
    ));
    out
}

#[derive(clap::Subcommand)]
pub(crate) enum PolicyCommand {
    /// Check a policy file and store it under NAME (replacing one of that name).
    Add {
        name: String,
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = crate::OutputFormat::Table)]
        format: crate::OutputFormat,
    },
    /// The stored policies.
    List {
        #[arg(long, value_enum, default_value_t = crate::OutputFormat::Table)]
        format: crate::OutputFormat,
    },
    /// Print a stored policy's text.
    Show { name: String },
    /// Remove a stored policy.
    Remove {
        name: String,
        #[arg(long, value_enum, default_value_t = crate::OutputFormat::Table)]
        format: crate::OutputFormat,
    },
}

pub(crate) fn policy_command(db: &std::path::Path, command: PolicyCommand) -> Result<ExitCode> {
    let store = crate::open(&db.to_path_buf())?;
    match command {
        PolicyCommand::Add { name, file, format } => {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                return Err(BadInput(format!("{name:?} is not a policy name")).into());
            }
            let text = std::fs::read_to_string(&file)
                .map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
            // Checked whole before it is stored, with the file's own name in errors.
            let policy = Policy::parse(&file.display().to_string(), &text).map_err(policy_error)?;
            let stored = aibomdb_store::StoredPolicy {
                name: name.clone(),
                text,
                added_at: aibomdb_policy::time::now().max(0) as u64,
            };
            store.put_policy(&stored)?;
            match format {
                crate::OutputFormat::Json => println!(
                    "{}",
                    serde_json::json!({"name": name, "rules": rule_names(&policy)})
                ),
                crate::OutputFormat::Table => {
                    println!("stored policy {name} ({})", rule_names(&policy).join(", "))
                }
            }
        }
        PolicyCommand::List { format } => {
            let policies = store.policies()?;
            match format {
                crate::OutputFormat::Json => {
                    let rows: Vec<_> = policies
                        .iter()
                        .map(|p| {
                            serde_json::json!({
                                "name": p.name,
                                "added_at": aibomdb_policy::time::format(p.added_at as i64),
                                "bytes": p.text.len(),
                            })
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&rows)?);
                }
                crate::OutputFormat::Table => {
                    let mut t = Table::new(&["name", "added", "bytes"]);
                    for p in &policies {
                        t.row(vec![
                            p.name.clone(),
                            aibomdb_policy::time::format(p.added_at as i64),
                            p.text.len().to_string(),
                        ]);
                    }
                    print!("{t}");
                }
            }
        }
        PolicyCommand::Show { name } => {
            let p = store
                .policy(&name)?
                .ok_or_else(|| BadInput(format!("no stored policy named {name:?}")))?;
            print!("{}", p.text);
        }
        PolicyCommand::Remove { name, format } => {
            if !store.remove_policy(&name)? {
                return Err(BadInput(format!("no stored policy named {name:?}")).into());
            }
            match format {
                crate::OutputFormat::Json => println!("{}", serde_json::json!({"removed": name})),
                crate::OutputFormat::Table => println!("removed policy {name}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn rule_names(p: &Policy) -> Vec<String> {
    let mut out: Vec<String> = [
        p.vulnerabilities.is_some().then_some("vulnerabilities"),
        p.pinning.is_some().then_some("pinning"),
        p.freshness.is_some().then_some("freshness"),
        p.models.is_some().then_some("models"),
        p.licenses.is_some().then_some("licenses"),
        p.evidence.is_some().then_some("evidence"),
        p.drift.is_some().then_some("drift"),
        p.secrets.is_some().then_some("secrets"),
    ]
    .into_iter()
    .flatten()
    .map(str::to_string)
    .collect();
    out.extend(p.custom.iter().map(|c| format!("custom:{}", c.name)));
    out
}
