//! The built-in rules. Each reads what it needs of one deployment's current
//! documents (read once, in [`Context`]) and returns its verdict.

mod custom;
mod drift;
mod evidence;
mod freshness;
mod licenses;
mod models;
mod pinning;
mod secrets;
mod vulnerabilities;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::sync::Mutex;

use aibomdb_graph::PackageKey;
use aibomdb_osv::{AdvisoryCache, MatchReader, MatchRow};
use aibomdb_query::PublishedDigests;
use aibomdb_store::{DocumentRecord, Occurrence, PackageRecord, Store};

use crate::{Enforcement, Outcome, PATHS_PER_RULE, Policy, PolicyError, RuleVerdict, Violation};

/// What rules read of the store that does not depend on the deployment:
/// advisories, the digests published for shared base models, which base
/// models some document describes. Kept for one evaluation, or by a server
/// between evaluations: it is cleared whenever the store has changed since.
#[derive(Default)]
pub struct GateCache {
    /// The store generation the caches are of.
    generation: Mutex<Option<u64>>,
    advisories: AdvisoryCache,
    published: Mutex<PublishedDigests>,
    /// (generation, base models by versionless purl some document describes).
    described_bases: Mutex<(u64, HashMap<String, bool>)>,
}

/// A lock even after a worker panicked while holding it: every cache here
/// is rebuilt from the store, so what a panic left behind is only a cache.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl GateCache {
    /// Forgets what was read before the store last changed; returns the
    /// generation this evaluation reads at. Values read by an evaluation that
    /// began at an older generation are not kept.
    pub(crate) fn sync(&self, store: &Store) -> u64 {
        let now = store.generation();
        let mut seen = lock(&self.generation);
        if *seen != Some(now) {
            self.advisories.reset(now);
            *lock(&self.published) = PublishedDigests::default();
            *lock(&self.described_bases) = (now, HashMap::new());
            *seen = Some(now);
        }
        now
    }
}

/// One worker's view: its own VEX reads, the shared cache for the rest.
pub(crate) struct Shared<'a> {
    matches: RefCell<MatchReader<'a>>,
    cache: &'a GateCache,
    generation: u64,
}

impl<'a> Shared<'a> {
    pub(crate) fn new(store: &'a Store, cache: &'a GateCache, generation: u64) -> Self {
        Shared {
            matches: RefCell::new(MatchReader::with_cache(
                store,
                &cache.advisories,
                generation,
            )),
            cache,
            generation,
        }
    }
}

/// One deployment's current documents, each with the packages it lists.
pub(crate) struct Context<'a> {
    pub store: &'a Store,
    pub deployment: &'a str,
    pub at: i64,
    pub documents: Vec<(DocumentRecord, Vec<(PackageRecord, Occurrence)>)>,
    shared: &'a Shared<'a>,
    /// The deployment's advisory matches, read once for every rule that asks.
    matches: OnceCell<Vec<MatchRow>>,
    models: OnceCell<Vec<aibomdb_query::ModelView>>,
}

impl Context<'_> {
    /// Whether any document in the store describes the base model `purl`
    /// (or, by `unversioned`, another revision of it).
    pub(crate) fn base_is_described(
        &self,
        purl: &str,
        unversioned: &str,
    ) -> Result<bool, PolicyError> {
        let cached = {
            let d = lock(&self.shared.cache.described_bases);
            (d.0 == self.shared.generation)
                .then(|| d.1.get(unversioned).copied())
                .flatten()
        };
        if let Some(known) = cached {
            return Ok(known);
        }
        let described = |p: &str| -> Result<bool, PolicyError> {
            Ok(!aibomdb_query::model_views(self.store, &[p.to_string()])?.is_empty())
        };
        let known = described(purl)? || described(unversioned)?;
        let mut d = lock(&self.shared.cache.described_bases);
        if d.0 == self.shared.generation {
            d.1.insert(unversioned.to_string(), known);
        }
        Ok(known)
    }

    /// The deployment's advisory matches with their VEX verdicts.
    pub(crate) fn matches(&self) -> Result<&[MatchRow], PolicyError> {
        if let Some(m) = self.matches.get() {
            return Ok(m);
        }
        let listed: Vec<_> = self
            .documents
            .iter()
            .map(|(d, ps)| (d.clone(), ps.iter().map(|(p, _)| p.clone()).collect()))
            .collect();
        let rows = self.shared.matches.borrow_mut().matches_of(&listed)?;
        Ok(self.matches.get_or_init(|| rows))
    }

    /// Whether any current document describes a model or dataset: the model
    /// views are only built when there is one to see.
    pub(crate) fn has_models(&self) -> bool {
        self.documents.iter().any(|(_, packages)| {
            packages.iter().any(|(_, o)| {
                o.fact.model.is_some() || o.fact.kind.as_deref() == Some("machine-learning-model")
            })
        })
    }

    /// The models of the deployment, as `query models` sees them, built
    /// once for every rule that asks.
    pub(crate) fn models(&self) -> Result<&[aibomdb_query::ModelView], PolicyError> {
        if let Some(v) = self.models.get() {
            return Ok(v);
        }
        let views = if self.has_models() {
            // Computed and kept under one lock, which `sync` takes to clear
            // it: what is kept is never older than the last clear.
            let mut published = lock(&self.shared.cache.published);
            aibomdb_query::models_of(self.store, &self.documents, &mut published)?
        } else {
            Vec::new()
        };
        Ok(self.models.get_or_init(|| views))
    }
}

pub(crate) fn evaluate<'a>(
    store: &'a Store,
    shared: &'a Shared<'a>,
    policy: &Policy,
    deployment: &'a str,
    at: i64,
) -> Result<Vec<RuleVerdict>, PolicyError> {
    let mut documents = Vec::new();
    for id in store.current_documents(deployment)? {
        if let Some(doc) = store.document(id)? {
            let packages = store.document_packages(id)?;
            documents.push((doc, packages));
        }
    }
    let ctx = Context {
        store,
        deployment,
        at,
        documents,
        shared,
        matches: OnceCell::new(),
        models: OnceCell::new(),
    };
    let mut out = Vec::new();
    if let Some(r) = &policy.vulnerabilities {
        out.push(vulnerabilities::check(&ctx, r)?);
    }
    if let Some(r) = &policy.pinning {
        out.push(pinning::check(&ctx, r)?);
    }
    if let Some(r) = &policy.freshness {
        out.push(freshness::check(&ctx, r));
    }
    if let Some(r) = &policy.models {
        out.push(models::check(&ctx, r)?);
    }
    if let Some(r) = &policy.licenses {
        out.push(licenses::check(&ctx, r));
    }
    if let Some(r) = &policy.evidence {
        out.push(evidence::check(&ctx, r)?);
    }
    if let Some(r) = &policy.drift {
        out.push(drift::check(&ctx, r)?);
    }
    if let Some(r) = &policy.secrets {
        out.push(secrets::check(&ctx, r)?);
    }
    if !policy.custom.is_empty() {
        out.extend(custom::check(&ctx, &policy.custom)?);
    }
    Ok(out)
}

/// A violation of `subject` at `level` (capped later by the rule's level).
pub(crate) fn violation(
    level: Enforcement,
    subject: impl Into<String>,
    message: impl Into<String>,
    document: Option<&str>,
    package: Option<&str>,
) -> Violation {
    Violation {
        level,
        subject: subject.into(),
        message: message.into(),
        document: document.map(str::to_string),
        path: Vec::new(),
        package: package.map(str::to_string),
    }
}

/// The verdict from its violations: each is capped at the rule's level, and
/// those that end at `allow` are dropped (the summary still counts them).
pub(crate) fn verdict(
    rule: impl Into<String>,
    level: Enforcement,
    summary: String,
    violations: Vec<Violation>,
) -> RuleVerdict {
    let violations: Vec<Violation> = violations
        .into_iter()
        .map(|mut v| {
            v.level = v.level.at_most(level);
            v
        })
        .filter(|v| v.level != Enforcement::Allow)
        .collect();
    let outcome = if violations.iter().any(|v| v.level == Enforcement::Deny) {
        Outcome::Fail
    } else if violations.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Warn
    };
    RuleVerdict {
        rule: rule.into(),
        level,
        outcome,
        summary,
        violations,
        waived: Vec::new(),
    }
}

/// Fills in the path deployment → document → … → package of the first
/// [`PATHS_PER_RULE`] violations that name a package, preferring the path
/// through the document the violation names. One walk of the deployment's
/// path trees serves them all.
pub(crate) fn attach_paths(
    store: &Store,
    deployment: &str,
    verdict: &mut RuleVerdict,
) -> Result<(), PolicyError> {
    let wanted: Vec<usize> = verdict
        .violations
        .iter()
        .enumerate()
        .filter(|(_, v)| v.package.is_some())
        .map(|(i, _)| i)
        .take(PATHS_PER_RULE)
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<PackageKey> = wanted
        .iter()
        .filter_map(|&i| verdict.violations[i].package.clone())
        .map(PackageKey::from_stored)
        .collect();
    keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    keys.dedup_by(|a, b| a.as_str() == b.as_str());
    let (_, hits) = store.paths_in_deployment(deployment, &keys, false, 0, usize::MAX)?;
    let mut by_package: std::collections::HashMap<&str, Vec<&aibomdb_store::DeploymentHit>> =
        std::collections::HashMap::new();
    for h in &hits {
        by_package.entry(h.package.as_str()).or_default().push(h);
    }
    for i in wanted {
        let v = &mut verdict.violations[i];
        let Some(found) = v.package.as_deref().and_then(|p| by_package.get(p)) else {
            continue;
        };
        let best = found
            .iter()
            .find(|h| Some(&h.document_path) == v.document.as_ref())
            .or(found.first());
        if let Some(hit) = best {
            v.path = hit.path.clone();
        }
    }
    Ok(())
}

/// `n thing` / `n things`.
pub(crate) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
