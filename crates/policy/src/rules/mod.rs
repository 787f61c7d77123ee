//! The built-in rules. Each reads what it needs of one deployment's current
//! documents (read once, in [`Context`]) and returns its verdict.

mod cel_reads;
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
use std::sync::{Arc, Mutex};

use aibomdb_osv::{AdvisoryCache, MatchReader, MatchRow};
use aibomdb_query::PublishedDigests;
use aibomdb_store::{DocumentRecord, DocumentRef, PackageRecord, Store};

use crate::catalog::{Catalog, Listed};
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
    /// Packages and facts decoded once for every deployment read.
    pub(crate) catalog: Catalog,
    /// The catalogs of an estate's tally, one per worker (see `evidence`).
    pub(crate) local_catalogs: Mutex<Vec<crate::catalog::LocalCatalog>>,
    /// Packages' advisory matches, weighed.
    pub(crate) weighed: Mutex<vulnerabilities::Memo>,
    /// TR-03183-2 components measured, kept for the next evaluation: a
    /// worker takes it whole and puts back the larger of it and its own (the
    /// keys are content, so what is measured never goes stale).
    ///
    /// One per worker of an evaluation split among the cores: worker `i`
    /// is given the same share of an estate each time, so what it measured
    /// is what it needs next time.
    evidence: Mutex<Vec<aibomdb_export::EvidenceMemo>>,
    /// `for = "package"` CEL answers, kept likewise (see [`custom::Answers`]).
    custom: Mutex<Vec<custom::Answers>>,
    /// (generation, whether any VEX statement names an advisory, by id):
    /// asked for each match weighed, a store read each time otherwise.
    pub(crate) vex_named: Mutex<(u64, HashMap<String, bool>)>,
    /// Policies parsed from text (stored or inline), by (source, text): a
    /// server asked about one deployment at a time parses once.
    policies: Mutex<Vec<(String, String, Arc<Policy>)>>,
}

/// How many parsed policies [`GateCache::policy`] keeps.
const POLICIES_KEPT: usize = 16;

impl GateCache {
    /// The policy `text` read as `source`, parsed once while kept (the
    /// parse depends on nothing else: a policy given as text names no file).
    pub fn policy(
        &self,
        source: &str,
        text: &str,
        parse: impl FnOnce() -> Result<Policy, PolicyError>,
    ) -> Result<Arc<Policy>, PolicyError> {
        if let Some((_, _, p)) = lock(&self.policies)
            .iter()
            .find(|(s, t, _)| s == source && t == text)
        {
            return Ok(p.clone());
        }
        let parsed = Arc::new(parse()?);
        let mut kept = lock(&self.policies);
        // Another request may have parsed it meanwhile: kept once.
        if let Some((_, _, p)) = kept.iter().find(|(s, t, _)| s == source && t == text) {
            return Ok(p.clone());
        }
        if kept.len() >= POLICIES_KEPT {
            kept.remove(0);
        }
        kept.push((source.to_string(), text.to_string(), parsed.clone()));
        Ok(parsed)
    }
}

/// A lock even after a worker panicked while holding it: every cache here
/// is rebuilt from the store, so what a panic left behind is only a cache.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl GateCache {
    /// Keeps worker `worker`'s catalog for the next estate tally, only while
    /// the store is as the tally read it: checked and kept under the lock
    /// `sync` clears it under, so a catalog of an older store is never put
    /// back after the clear.
    pub(crate) fn keep_local_catalog(
        &self,
        generation: u64,
        worker: usize,
        catalog: crate::catalog::LocalCatalog,
    ) {
        let seen = lock(&self.generation);
        if *seen == Some(generation) {
            let mut kept = lock(&self.local_catalogs);
            if kept.len() <= worker {
                kept.resize_with(worker + 1, Default::default);
            }
            kept[worker] = catalog;
        }
    }

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
            self.catalog.clear();
            lock(&self.local_catalogs).clear();
            *lock(&self.weighed) = (now, HashMap::new());
            // Only to let go of what deleted documents alone made.
            lock(&self.evidence).clear();
            *lock(&self.vex_named) = (now, HashMap::new());
            *seen = Some(now);
        }
        now
    }
}

/// One worker's view: its own VEX reads, the shared cache for the rest.
pub(crate) struct Shared<'a> {
    matches: RefCell<MatchReader<'a>>,
    /// `for = "package"` CEL answers by what the expression reads.
    custom: RefCell<custom::Memo>,
    /// Matches weighed at a generation the shared cache is no longer of.
    stale_weighed: RefCell<HashMap<aibomdb_store::PackageId, Arc<[vulnerabilities::Weighed]>>>,
    /// TR-03183-2 components measured, by how they are made.
    evidence: RefCell<aibomdb_export::EvidenceMemo>,
    cache: &'a GateCache,
    generation: u64,
    worker: usize,
}

impl<'a> Shared<'a> {
    /// The view of worker `worker` of an evaluation.
    pub(crate) fn new(
        store: &'a Store,
        cache: &'a GateCache,
        generation: u64,
        worker: usize,
    ) -> Self {
        fn take<T: Default>(slots: &mut [T], worker: usize) -> T {
            slots
                .get_mut(worker)
                .map(std::mem::take)
                .unwrap_or_default()
        }
        Shared {
            matches: RefCell::new(MatchReader::with_cache(
                store,
                &cache.advisories,
                generation,
            )),
            custom: RefCell::new(custom::Memo::with(take(&mut lock(&cache.custom), worker))),
            stale_weighed: RefCell::default(),
            evidence: RefCell::new(take(&mut lock(&cache.evidence), worker)),
            cache,
            generation,
            worker,
        }
    }
}

impl Shared<'_> {
    /// Hands the measured components and the CEL answers back to the cache
    /// for the next evaluation, into this worker's place, each unless
    /// another evaluation's (running at once) is larger.
    pub(crate) fn give_back(&self) {
        fn put<T: Default>(slots: &mut Vec<T>, worker: usize, mine: T, len: impl Fn(&T) -> usize) {
            if slots.len() <= worker {
                slots.resize_with(worker + 1, T::default);
            }
            if len(&mine) > len(&slots[worker]) {
                slots[worker] = mine;
            }
        }
        put(
            &mut lock(&self.cache.evidence),
            self.worker,
            self.evidence.take(),
            aibomdb_export::EvidenceMemo::len,
        );
        put(
            &mut lock(&self.cache.custom),
            self.worker,
            std::mem::take(&mut self.custom.borrow_mut().answers),
            custom::Answers::len,
        );
    }
}

/// One deployment's current documents, each with the packages it lists.
pub(crate) struct Context<'a, 'c> {
    pub store: &'a Store,
    pub deployment: &'a str,
    pub at: i64,
    pub documents: Vec<(DocumentRecord, Vec<Listed<'c>>)>,
    /// Each document's source path, shared by the violations that name it.
    pub paths: Vec<Arc<str>>,
    shared: &'a Shared<'a>,
    /// The deployment's advisory matches, read once for every rule that asks.
    matches: OnceCell<Vec<MatchRow>>,
    models: OnceCell<Vec<aibomdb_query::ModelView>>,
}

impl Context<'_, '_> {
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
            Ok(aibomdb_query::is_described(self.store, p)?)
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
        let listed: Vec<(DocumentRef, Vec<&PackageRecord>)> = self
            .documents
            .iter()
            .map(|(d, ps)| {
                let doc = DocumentRef {
                    id: d.id,
                    deployment: d.deployment.clone(),
                    source_path: d.source_path.clone(),
                };
                (doc, ps.iter().map(|l| l.package).collect())
            })
            .collect();
        let rows = self
            .shared
            .matches
            .borrow_mut()
            .matches_among(&listed, None)?;
        Ok(self.matches.get_or_init(|| rows))
    }

    /// Whether any current document describes a model or dataset: the model
    /// views are only built when there is one to see.
    pub(crate) fn has_models(&self) -> bool {
        self.documents.iter().any(|(_, packages)| {
            packages.iter().any(|l| {
                l.fact.model.is_some() || l.fact.kind.as_deref() == Some("machine-learning-model")
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
            let documents: Vec<_> = self
                .documents
                .iter()
                .map(|(d, listed)| {
                    let rows = listed.iter().map(|l| (l.package, l.fact)).collect();
                    (d, rows)
                })
                .collect();
            aibomdb_query::models_of_listed(self.store, &documents, &mut published)?
        } else {
            Vec::new()
        };
        Ok(self.models.get_or_init(|| views))
    }
}

/// One deployment's current documents, and what each lists (as `listing`
/// gives it), in the same order.
pub(crate) fn read_documents<T>(
    store: &Store,
    deployment: &str,
    mut listing: impl FnMut(aibomdb_store::DocumentId) -> Result<Vec<T>, PolicyError>,
) -> Result<(Vec<DocumentRecord>, Vec<Vec<T>>), PolicyError> {
    let (mut documents, mut listings) = (Vec::new(), Vec::new());
    for id in store.current_documents(deployment)? {
        if let Some(doc) = store.document(id)? {
            listings.push(listing(id)?);
            documents.push(doc);
        }
    }
    Ok((documents, listings))
}

impl<'a, 'c> Context<'a, 'c> {
    pub(crate) fn new(
        store: &'a Store,
        shared: &'a Shared<'a>,
        deployment: &'a str,
        at: i64,
        documents: Vec<(DocumentRecord, Vec<Listed<'c>>)>,
    ) -> Self {
        let paths = documents
            .iter()
            .map(|(d, _)| Arc::from(d.source_path.as_str()))
            .collect();
        Context {
            store,
            deployment,
            at,
            documents,
            paths,
            shared,
            matches: OnceCell::new(),
            models: OnceCell::new(),
        }
    }
}

pub(crate) fn evaluate<'a>(
    store: &'a Store,
    shared: &'a Shared<'a>,
    policy: &Policy,
    deployment: &'a str,
    at: i64,
) -> Result<Vec<RuleVerdict>, PolicyError> {
    let (records, held) = read_documents(store, deployment, |id| {
        shared.cache.catalog.listing(store, id)
    })?;
    let documents = records
        .into_iter()
        .zip(&held)
        .map(|(d, h)| (d, crate::catalog::Held::listed(h)))
        .collect();
    let ctx = Context::new(store, shared, deployment, at, documents);
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
    for v in &mut out {
        attach_paths(&ctx, v)?;
    }
    Ok(out)
}

/// What a worker of an estate's tally keeps between deployments: counts
/// and judgements that depend on a package or fact alone.
#[derive(Default)]
pub(crate) struct TallyMemo {
    vulnerabilities: vulnerabilities::Counts,
    /// Release times stated by facts, parsed.
    released: freshness::Released,
    /// Licence judgements by fact.
    licences: licenses::Judged,
    /// What a one-fact TR-03183-2 component lacks, by slot and lockfile.
    evidence: Vec<Option<u32>>,
    /// What `pinning` finds of each row apart from its document.
    pinning: crate::catalog::BySlot<pinning::RowPins>,
    /// CEL's standard library, set up once.
    cel: cel::Context<'static, 'static>,
}

/// The tally of every rule of `policy` over one deployment, in the order
/// [`evaluate`] gives its verdicts: the same judgements, counted. A rule
/// whose violations are few (or whose subjects are models, which each
/// deployment sees against its own lineage) is evaluated as
/// [`evaluate`] does and its violations counted.
pub(crate) fn tally(
    ctx: &Context,
    policy: &Policy,
    memo: &mut TallyMemo,
) -> Result<Vec<crate::estate::RuleTally>, PolicyError> {
    use crate::estate::{RuleTally, Tally};
    let mut out = Vec::new();
    let mut push = |rule: &str, level: Enforcement, tally: Tally| {
        out.push(RuleTally {
            rule: rule.to_string(),
            level,
            outcome: tally.outcome(),
            tally,
        })
    };
    if let Some(r) = &policy.vulnerabilities {
        push(
            "vulnerabilities",
            r.level,
            vulnerabilities::tally(ctx, r, &mut memo.vulnerabilities)?,
        );
    }
    if let Some(r) = &policy.pinning {
        push(
            "pinning",
            r.level,
            pinning::tally(ctx, r, &mut memo.pinning)?,
        );
    }
    if let Some(r) = &policy.freshness {
        push(
            "freshness",
            r.level,
            freshness::tally(ctx, r, &mut memo.released),
        );
    }
    if let Some(r) = &policy.models {
        push("models", r.level, Tally::of(&models::check(ctx, r)?));
    }
    if let Some(r) = &policy.licenses {
        push(
            "licenses",
            r.level,
            licenses::tally(ctx, r, &mut memo.licences),
        );
    }
    if let Some(r) = &policy.evidence {
        push(
            "evidence",
            r.level,
            evidence::tally(ctx, r, &mut memo.evidence)?,
        );
    }
    if let Some(r) = &policy.drift {
        push("drift", r.level, Tally::of(&drift::check(ctx, r)?));
    }
    if let Some(r) = &policy.secrets {
        push("secrets", r.level, Tally::of(&secrets::check(ctx, r)?));
    }
    if !policy.custom.is_empty() {
        for (rule, tally) in
            policy
                .custom
                .iter()
                .zip(custom::tally(ctx, &policy.custom, &memo.cel)?)
        {
            push(&format!("custom:{}", rule.name), rule.level, tally);
        }
    }
    Ok(out)
}

/// A violation's text: shared when it already is, copied once otherwise.
pub(crate) trait Text {
    fn shared(self) -> Arc<str>;
}

impl Text for Arc<str> {
    fn shared(self) -> Arc<str> {
        self
    }
}

impl Text for &Arc<str> {
    fn shared(self) -> Arc<str> {
        self.clone()
    }
}

impl Text for String {
    fn shared(self) -> Arc<str> {
        self.into()
    }
}

impl Text for &String {
    fn shared(self) -> Arc<str> {
        self.as_str().into()
    }
}

impl Text for &str {
    fn shared(self) -> Arc<str> {
        self.into()
    }
}

/// A violation of `subject` at `level` (capped later by the rule's level).
pub(crate) fn violation(
    level: Enforcement,
    subject: impl Text,
    message: impl Text,
    document: Option<&str>,
    package: Option<&str>,
) -> Violation {
    Violation {
        level,
        offence: Arc::new(crate::Offence {
            subject: subject.shared(),
            message: message.shared(),
            package: package.map(Arc::from),
        }),
        document: document.map(Arc::from),
        path: None,
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
/// through the document the violation names, else the first document that
/// lists the package. The paths are walked up each document's tree from the
/// rows the deployment's listing already holds: no store read.
fn attach_paths(ctx: &Context, verdict: &mut RuleVerdict) -> Result<(), PolicyError> {
    let wanted: Vec<usize> = verdict
        .violations
        .iter()
        .enumerate()
        .filter(|(_, v)| v.offence.package.is_some())
        .map(|(i, _)| i)
        .take(PATHS_PER_RULE)
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let keys: std::collections::HashSet<&str> = wanted
        .iter()
        .filter_map(|&i| verdict.violations[i].offence.package.as_deref())
        .collect();
    // Per package key: (document index, position) of each document listing
    // it, in the documents' order.
    let mut at: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (d, (_, listed)) in ctx.documents.iter().enumerate() {
        for (i, l) in listed.iter().enumerate() {
            if let Some(key) = keys.get(l.package.key.as_str()) {
                at.entry(key).or_default().push((d, i));
            }
        }
    }
    let chosen: Vec<(usize, (usize, usize))> = wanted
        .into_iter()
        .filter_map(|i| {
            let v = &verdict.violations[i];
            // A model or base named by a violation but listed by no document
            // (a base model known only from lineage) has no path to show.
            let found = v.offence.package.as_deref().and_then(|p| at.get(p))?;
            let best = found
                .iter()
                .find(|(d, _)| Some(&*ctx.paths[*d]) == v.document.as_deref())
                .or(found.first())?;
            Some((i, *best))
        })
        .collect();
    let mut made: HashMap<(usize, usize), Arc<[aibomdb_store::PathStep]>> = HashMap::new();
    for (i, best) in chosen {
        let path = match made.get(&best) {
            Some(p) => p.clone(),
            None => {
                let p: Arc<[_]> = path_in_document(&ctx.documents[best.0], best.1)?.into();
                made.insert(best, p.clone());
                p
            }
        };
        verdict.violations[i].path = Some(path);
    }
    Ok(())
}

/// The path to the package at `index` of a document's listing, as the
/// store's blast radius gives it (`kit::path_steps`).
fn path_in_document(
    (doc, listed): &(DocumentRecord, Vec<Listed>),
    index: usize,
) -> Result<Vec<aibomdb_store::PathStep>, PolicyError> {
    // Rows by position; a row left out of the listing ends the walk.
    let by_position = |position: usize| -> Option<&Listed> {
        listed
            .binary_search_by_key(&position, |l| l.position as usize)
            .ok()
            .map(|i| &listed[i])
    };
    let target = &listed[index];
    let chain = doc.subject_package.and_then(|subject| {
        aibomdb_store::kit::chain_to_subject(target.position as usize, subject, |at| {
            by_position(at).map(|l| (l.package.id, l.parent))
        })
    });
    let chain: Option<Vec<(aibomdb_store::PackageId, u8)>> = chain.map(|c| {
        c.into_iter()
            .filter_map(|(at, kind)| by_position(at).map(|l| (l.package.id, kind)))
            .collect()
    });
    let holder = aibomdb_store::kit::Holder {
        deployment: &doc.deployment,
        source_path: &doc.source_path,
        current: doc.is_current(),
        subject: doc.subject_package,
    };
    let key_of = |id: aibomdb_store::PackageId| -> Result<String, aibomdb_store::StoreError> {
        let i = listed
            .binary_search_by_key(&id, |l| l.package.id)
            .map_err(|_| aibomdb_store::StoreError::Corrupt {
                table: "document_rows",
                key: doc.id.to_string(),
                message: format!("the path names package {id}, which the document does not list"),
            })?;
        Ok(listed[i].package.key.clone())
    };
    Ok(aibomdb_store::kit::path_steps(
        &holder,
        doc.id,
        &target.package.key,
        chain.as_deref(),
        key_of,
    )?)
}

/// `n thing` / `n things`.
pub(crate) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
