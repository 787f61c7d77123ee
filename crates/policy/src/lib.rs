//! The supply-chain policy gate: one policy file, evaluated over what the
//! graph holds for a deployment, answering *may this ship?* Each built-in rule
//! gives a verdict that names the offending nodes with their path from the
//! deployment, so a failed gate says what to fix and where it came in.
//!
//! The same evaluation serves the CLI (`aibomdb gate`) and the API (GraphQL
//! `gate`, `POST /v1/gate`).

mod catalog;
mod estate;
mod file;
pub mod output;
mod rules;
mod scratch;
pub mod time;

use std::sync::Arc;

use aibomdb_store::{PathStep, Store, StoreError};
use serde::Serialize;

pub use estate::{DeploymentTally, EstateReport, RuleTally, Tally, evaluate_estate};
pub use file::{
    Custom, Drift, Enforcement, Evidence, Freshness, Licenses, Models, Pinning, Policy, Secrets,
    Subject, Vulnerabilities, Waiver,
};
pub use rules::GateCache;
pub use scratch::{SCRATCH_DEPLOYMENT, evaluate_document};

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    #[error("{file}:{line}: {}{message}", rule.as_ref().map(|r| format!("[{r}] ")).unwrap_or_default())]
    Invalid {
        file: String,
        line: usize,
        rule: Option<String>,
        message: String,
    },
    #[error("no deployment named {0:?}")]
    NoDeployment(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Query(String),
}

impl From<aibomdb_query::QueryError> for PolicyError {
    fn from(e: aibomdb_query::QueryError) -> Self {
        match e {
            aibomdb_query::QueryError::Store(s) => PolicyError::Store(s),
            other => PolicyError::Query(other.to_string()),
        }
    }
}

/// How a rule came out for one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    /// Only `warn`-level violations.
    Warn,
    Fail,
}

/// One offending node. What it is and why is shared ([`Offence`]): an
/// estate repeats the same violation (an advisory on a package, a package's
/// licence) in every deployment that lists the package, so a violation holds
/// one reference to it beside what is its own (the level, document, path).
#[derive(Debug, Clone)]
pub struct Violation {
    /// `deny` or `warn` (what this one counts as after the rule's level).
    pub level: Enforcement,
    pub offence: Arc<Offence>,
    /// Source path of the document that shows (or fails to show) it.
    pub document: Option<Arc<str>>,
    /// Deployment → document → … → the node, when it is a package. Shared:
    /// several violations of one deployment often name one package (its
    /// advisories), and an estate's report holds millions of violations.
    pub path: Option<Arc<[PathStep]>>,
}

/// What a violation names and says, shared by every violation of it.
#[derive(Debug)]
pub struct Offence {
    /// The node: a purl, an advisory on a purl, a model file, a document.
    pub subject: Arc<str>,
    pub message: Arc<str>,
    /// The package key the path leads to.
    pub(crate) package: Option<Arc<str>>,
}

impl Violation {
    pub fn subject(&self) -> &str {
        &self.offence.subject
    }

    pub fn message(&self) -> &str {
        &self.offence.message
    }

    /// Deployment → document → … → the node; empty when there is none.
    pub fn path(&self) -> &[PathStep] {
        self.path.as_deref().unwrap_or_default()
    }
}

/// As the report has always been written: level, subject, message,
/// document, and the path when there is one.
impl Serialize for Violation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let path = self.path();
        let fields = if path.is_empty() { 4 } else { 5 };
        let mut st = s.serialize_struct("Violation", fields)?;
        st.serialize_field("level", &self.level)?;
        st.serialize_field("subject", &*self.offence.subject)?;
        st.serialize_field("message", &*self.offence.message)?;
        st.serialize_field("document", &self.document)?;
        if !path.is_empty() {
            st.serialize_field("path", path)?;
        }
        st.end()
    }
}

/// A match a waiver took out of the gate, kept in the report.
#[derive(Debug, Clone, Serialize)]
pub struct Waived {
    pub subject: String,
    pub advisory: String,
    pub reason: String,
    pub expires: String,
    /// Line of the waiver in the policy file.
    pub line: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleVerdict {
    pub rule: String,
    pub level: Enforcement,
    pub outcome: Outcome,
    /// What was checked, in one line (counts).
    pub summary: String,
    pub violations: Vec<Violation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waived: Vec<Waived>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeploymentVerdict {
    pub deployment: String,
    pub passed: bool,
    pub rules: Vec<RuleVerdict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub policy: String,
    /// The instant the policy was evaluated as of (RFC 3339).
    pub at: String,
    pub passed: bool,
    pub deployments: Vec<DeploymentVerdict>,
}

/// Violations beyond this many per rule and deployment are still reported,
/// but without a path (each path is a graph walk).
pub const PATHS_PER_RULE: usize = 100;

/// Evaluates `policy` over each of `deployments` as of `at` (Unix seconds).
/// Deployments are split among the machine's cores; each worker keeps what
/// it reads of advisories, VEX and shared models for all of its deployments.
pub fn evaluate(
    store: &Store,
    policy: &Policy,
    deployments: &[String],
    at: i64,
) -> Result<GateReport, PolicyError> {
    evaluate_cached(store, policy, deployments, at, &GateCache::default())
}

/// [`evaluate`] with what an earlier evaluation read of advisories and shared
/// models, while the store has not changed since (a server keeps one cache).
pub fn evaluate_cached(
    store: &Store,
    policy: &Policy,
    deployments: &[String],
    at: i64,
    cache: &GateCache,
) -> Result<GateReport, PolicyError> {
    let generation = cache.sync(store);
    // One lookup each: a request about one deployment does not read the
    // estate's list.
    for name in deployments {
        if !store.has_deployment(name)? {
            return Err(PolicyError::NoDeployment(name.clone()));
        }
    }
    let out = split(deployments, |worker, names| {
        evaluate_chunk(store, policy, names, at, cache, generation, worker)
    })?;
    Ok(GateReport {
        policy: policy.name.clone().unwrap_or_else(|| policy.source.clone()),
        at: time::format(at),
        passed: out.iter().all(|d| d.passed),
        deployments: out,
    })
}

/// `work` over `deployments` split among the machine's cores (worker `i`
/// given the `i`th share), the results in the deployments' order.
pub(crate) fn split<T: Send>(
    deployments: &[String],
    work: impl Fn(usize, &[String]) -> Result<Vec<T>, PolicyError> + Sync,
) -> Result<Vec<T>, PolicyError> {
    let workers = cores().min(deployments.len().div_ceil(WORKER_SHARE).max(1));
    if workers == 1 {
        return work(0, deployments);
    }
    let chunk = deployments.len().div_ceil(workers).max(1);
    let work = &work;
    let results: Vec<Result<Vec<T>, PolicyError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = deployments
            .chunks(chunk)
            .enumerate()
            .map(|(worker, names)| scope.spawn(move || work(worker, names)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(PolicyError::Query("a gate worker panicked".into())))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(deployments.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// The cores this process may use, asked once: the answer reads cgroup files,
/// which costs a noticeable share of a one-deployment request.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Below this many deployments per worker, another thread does not pay.
const WORKER_SHARE: usize = 8;

fn evaluate_chunk(
    store: &Store,
    policy: &Policy,
    names: &[String],
    at: i64,
    cache: &GateCache,
    generation: u64,
    worker: usize,
) -> Result<Vec<DeploymentVerdict>, PolicyError> {
    let shared = rules::Shared::new(store, cache, generation, worker);
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let verdicts = match rules::evaluate(store, &shared, policy, name, at) {
            Ok(v) => v,
            Err(e) => {
                shared.give_back();
                return Err(e);
            }
        };
        out.push(DeploymentVerdict {
            deployment: name.clone(),
            passed: verdicts.iter().all(|v| v.outcome != Outcome::Fail),
            rules: verdicts,
        });
    }
    shared.give_back();
    Ok(out)
}

/// The gate's verdict on one deployment as a release records it, with the
/// whole report (to show when the release is refused).
pub fn release_gate(
    store: &Store,
    policy: &Policy,
    deployment: &str,
    at: i64,
) -> Result<(aibomdb_store::ReleaseGate, GateReport), PolicyError> {
    let report = evaluate(store, policy, &[deployment.to_string()], at)?;
    let gate = aibomdb_store::ReleaseGate {
        policy: report.policy.clone(),
        passed: report.passed,
        failed_rules: report
            .deployments
            .iter()
            .flat_map(|d| &d.rules)
            .filter(|r| r.outcome == Outcome::Fail)
            .map(|r| r.rule.clone())
            .collect(),
        at: report.at.clone(),
    };
    Ok((gate, report))
}

/// Every deployment in the store, by name.
pub fn all_deployments(store: &Store) -> Result<Vec<String>, PolicyError> {
    Ok(store.deployments()?.into_iter().map(|d| d.name).collect())
}
