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
    #[arg(long)]
    policy: PathBuf,
    /// Deployments to evaluate (repeatable).
    #[arg(long = "deployment", required_unless_present = "all")]
    deployments: Vec<String>,
    /// Evaluate every deployment in the store.
    #[arg(long, conflicts_with = "deployments")]
    all: bool,
    /// Evaluate as of this instant (RFC 3339 or a date): waivers expire
    /// against it, so a run can be repeated exactly.
    #[arg(long)]
    at: Option<String>,
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
    let policy = Policy::load(&args.policy).map_err(policy_error)?;
    let at = match &args.at {
        None => aibomdb_policy::time::now(),
        Some(text) => aibomdb_policy::time::parse(text).ok_or_else(|| {
            BadInput(format!(
                "--at {text:?}: not an RFC 3339 time (2027-01-31T00:00:00Z) or a date (2027-01-31)"
            ))
        })?,
    };
    let deployments = if args.all {
        aibomdb_policy::all_deployments(store).map_err(policy_error)?
    } else {
        args.deployments.clone()
    };
    let report =
        aibomdb_policy::evaluate(store, &policy, &deployments, at).map_err(policy_error)?;
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
