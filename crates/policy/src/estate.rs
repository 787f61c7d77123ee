//! The gate over a whole estate, as verdicts and counts: for each
//! deployment, each rule's outcome and how many violations it found at each
//! level, without the violations themselves. An estate of 10,000
//! deployments holds millions of them (nearly all the same advisory
//! matches, repeated in every deployment that lists a package); building
//! and holding them all is what made the whole-estate gate take seconds.
//! A deployment's offending nodes, with their paths, are one
//! [`crate::evaluate`] away (`aibomdb gate --deployment NAME`).
//!
//! The counts are the same judgements as [`crate::evaluate`] makes (the
//! rules share them: VEX, waivers and their expiry, levels capped by the
//! rule's own): a test compares the two on every deployment of the corpus.

use serde::Serialize;

use aibomdb_store::Store;

use crate::catalog::LocalCatalog;
use crate::rules::{self, GateCache, Shared, TallyMemo};
use crate::{Enforcement, Outcome, Policy, PolicyError, RuleVerdict};

/// How many violations one rule found in one deployment, by the level they
/// count at (after the rule's own level caps them), and how many matches a
/// waiver took out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub deny: usize,
    pub warn: usize,
    pub waived: usize,
}

impl Tally {
    /// Counts one violation found at `found`, capped at `rule` (a rule at
    /// `warn` never denies; what ends at `allow` is not counted).
    pub(crate) fn add(&mut self, found: Enforcement, rule: Enforcement) {
        match found.at_most(rule) {
            Enforcement::Deny => self.deny += 1,
            Enforcement::Warn => self.warn += 1,
            Enforcement::Allow => {}
        }
    }

    /// The counts of a verdict's violations (already capped).
    pub(crate) fn of(verdict: &RuleVerdict) -> Tally {
        let mut t = Tally {
            waived: verdict.waived.len(),
            ..Tally::default()
        };
        for v in &verdict.violations {
            t.add(v.level, Enforcement::Deny);
        }
        t
    }

    /// As [`crate::rules`]' `verdict` decides it from the violations.
    pub fn outcome(&self) -> Outcome {
        if self.deny > 0 {
            Outcome::Fail
        } else if self.warn > 0 {
            Outcome::Warn
        } else {
            Outcome::Pass
        }
    }
}

/// One rule's verdict on one deployment, counted.
#[derive(Debug, Clone, Serialize)]
pub struct RuleTally {
    pub rule: String,
    pub level: Enforcement,
    pub outcome: Outcome,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeploymentTally {
    pub deployment: String,
    pub passed: bool,
    pub rules: Vec<RuleTally>,
}

/// The verdicts of a policy over many deployments, counted.
#[derive(Debug, Clone, Serialize)]
pub struct EstateReport {
    pub policy: String,
    /// The instant the policy was evaluated as of (RFC 3339).
    pub at: String,
    pub passed: bool,
    pub deployments: Vec<DeploymentTally>,
}

/// Evaluates `policy` over each of `deployments` as of `at` (Unix seconds),
/// counting each rule's violations instead of listing them. Deployments are
/// split among the machine's cores; each worker keeps its own copies of the
/// packages it reads and of what it judged of them.
pub fn evaluate_estate(
    store: &Store,
    policy: &Policy,
    deployments: &[String],
    at: i64,
    cache: &GateCache,
) -> Result<EstateReport, PolicyError> {
    let generation = cache.sync(store);
    let out = crate::split(deployments, |worker, names| {
        tally_chunk(store, policy, names, at, cache, generation, worker)
    })?;
    Ok(EstateReport {
        policy: policy.name.clone().unwrap_or_else(|| policy.source.clone()),
        at: crate::time::format(at),
        passed: out.iter().all(|d| d.passed),
        deployments: out,
    })
}

fn tally_chunk(
    store: &Store,
    policy: &Policy,
    names: &[String],
    at: i64,
    cache: &GateCache,
    generation: u64,
    worker: usize,
) -> Result<Vec<DeploymentTally>, PolicyError> {
    let shared = Shared::new(store, cache, generation, worker);
    let mut catalog: LocalCatalog = rules::lock(&cache.local_catalogs)
        .get_mut(worker)
        .map(std::mem::take)
        .unwrap_or_default();
    let mut memo = TallyMemo::default();
    let mut out = Vec::with_capacity(names.len());
    let result = (|| {
        for name in names {
            // Asked by each worker for its share: at 10,000 deployments the
            // lookups are a few per cent of the whole.
            if !store.has_deployment(name)? {
                return Err(PolicyError::NoDeployment(name.clone()));
            }
            let (records, rows) =
                rules::read_documents(store, name, |id| catalog.listing(store, id))?;
            let documents = records
                .into_iter()
                .zip(&rows)
                .map(|(d, r)| (d, catalog.listed(r)))
                .collect();
            let ctx = rules::Context::new(store, &shared, name, at, documents);
            let rules = rules::tally(&ctx, policy, &mut memo)?;
            out.push(DeploymentTally {
                deployment: name.clone(),
                passed: rules.iter().all(|r| r.outcome != Outcome::Fail),
                rules,
            });
        }
        Ok(())
    })();
    shared.give_back();
    cache.keep_local_catalog(generation, worker, catalog);
    result.map(|()| out)
}
