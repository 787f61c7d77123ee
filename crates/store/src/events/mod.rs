//! The events a change causes: which deployments' exposures an advisory
//! load, an ingest, a VEX statement or a deletion opens or resolves, judged
//! by VEX as the reports judge them. `notify.rs` keeps them in the outbox.
//!
//! One logic for both back ends: it reads through [`ChangeView`] (the
//! store as the change leaves it, inside the write transaction) and
//! [`EventView`] (the store as it was, for VEX verdicts before the change).
//! redb's views are in `redb.rs`; PostgreSQL gives its own.

pub(crate) mod redb;

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::notify::{EventKind, MatchEvent};
use crate::vex::{VexResolver, VexSource};
use crate::{DocumentId, PackageId, PackageRecord, Result};

/// What judging an exposure by VEX reads, before or after a change.
pub trait EventView {
    /// What a [`VexResolver`] reads.
    fn vex_source(&self) -> &dyn VexSource;
    /// An advisory's id first, then its aliases and upstream ids (as the
    /// reports give them to the resolver); just the id when it is unknown.
    fn identifiers_of(&self, advisory: &str) -> Result<Vec<String>>;
    /// Whether the store holds any VEX statement.
    fn has_statements(&self) -> Result<bool>;
}

/// What the events of a change read of the store as the change leaves it.
pub trait ChangeView: EventView {
    /// The packages a document lists, by id (from its rows).
    fn document_package_ids(&self, document: DocumentId) -> Result<Vec<PackageId>>;
    /// Per package given, its affected matches: (advisory, ecosystem).
    fn affected_matches(&self, packages: &[PackageId]) -> Result<Vec<Vec<(String, String)>>>;
    /// Per package, the deployments whose current documents list it.
    fn current_holders(
        &self,
        packages: &BTreeSet<PackageId>,
    ) -> Result<HashMap<PackageId, BTreeSet<String>>>;
    /// The advisories any of these identifier spellings answer to.
    fn advisories_named(&self, spellings: &BTreeSet<String>) -> Result<BTreeSet<String>>;
    /// The affected matches of these advisories: (package, advisory, ecosystem).
    fn affected_of_advisories(&self, advisories: &BTreeSet<String>) -> Result<Vec<Exposure>>;
    /// The identifiers the statements of `documents` name.
    fn statement_ids_of(&self, documents: &HashSet<DocumentId>) -> Result<BTreeSet<String>>;
    /// The identifiers the statements name that target a BOM by one of
    /// `serials` (normalised, see [`links_any`]): BOM-Links.
    fn statement_ids_linking(&self, serials: &BTreeSet<String>) -> Result<BTreeSet<String>>;
    /// The records of these packages, in one read where the back end can.
    fn packages(&self, ids: &BTreeSet<PackageId>) -> Result<HashMap<PackageId, PackageRecord>>;
}

/// An affected (package, advisory, ecosystem) match edge that appeared
/// (`opened`) or disappeared (`resolved`).
pub type MatchChange = (PackageId, String, String, EventKind);

/// One affected match of a document: (package, advisory, ecosystem).
pub type Exposure = (PackageId, String, String);

fn event(
    at: u64,
    kind: EventKind,
    cause: &str,
    deployment: &str,
    (package, advisory, ecosystem): &Exposure,
    purl: String,
) -> MatchEvent {
    MatchEvent {
        seq: 0,
        at,
        kind,
        cause: cause.to_string(),
        deployment: deployment.to_string(),
        advisory: advisory.clone(),
        package: *package,
        purl,
        ecosystem: ecosystem.clone(),
    }
}

/// The purls (package keys) of these packages, read at once.
fn purls(
    view: &dyn ChangeView,
    packages: impl IntoIterator<Item = PackageId>,
) -> Result<HashMap<PackageId, String>> {
    let ids: BTreeSet<PackageId> = packages.into_iter().collect();
    Ok(view
        .packages(&ids)?
        .into_iter()
        .map(|(id, p)| (id, p.key))
        .collect())
}

/// Events for match edges that changed estate-wide (an advisory load): one
/// per deployment whose current documents hold the package.
pub fn events_for_matches(
    view: &dyn ChangeView,
    changes: &[MatchChange],
    cause: &str,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    let packages: BTreeSet<PackageId> = changes.iter().map(|c| c.0).collect();
    let holders = view.current_holders(&packages)?;
    // Only of packages some deployment holds: the rest make no event.
    let held = packages
        .into_iter()
        .filter(|p| holders.get(p).is_some_and(|d| !d.is_empty()));
    let purls = purls(view, held)?;
    let mut out = Vec::new();
    for (package, advisory, ecosystem, kind) in changes {
        let Some(deployments) = holders.get(package).filter(|d| !d.is_empty()) else {
            continue;
        };
        let purl = purls.get(package).cloned().unwrap_or_default();
        let exposure = (*package, advisory.clone(), ecosystem.clone());
        for deployment in deployments {
            out.push(event(at, *kind, cause, deployment, &exposure, purl.clone()));
        }
    }
    Ok(out)
}

/// The events of an advisory load: those of the match edges it changed
/// (`changes`, see [`events_for_matches`]) as VEX leaves them, and, for each
/// record it `updated` whose identifiers changed (an alias added or
/// dropped), the exposures whose verdict turns because a statement names
/// the identifier: `resolved` where one now suppresses, `opened` where none
/// does any more, with the load's cause.
pub fn load_events(
    before: &dyn EventView,
    after: &dyn ChangeView,
    changes: &[MatchChange],
    updated: &[String],
    cause: &str,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    let raw = events_for_matches(after, changes, cause, at)?;
    let skip: HashSet<(String, String, PackageId)> = raw
        .iter()
        .map(|e| (e.deployment.clone(), e.advisory.clone(), e.package))
        .collect();
    let mut judge = VexJudge::new(before, after);
    let mut events = judge.filter(raw)?;
    if updated.is_empty() || !judge.any_statements()? {
        return Ok(events);
    }
    let mut renamed = BTreeSet::new();
    for id in updated {
        let was: BTreeSet<String> = before.identifiers_of(id)?.into_iter().collect();
        let is: BTreeSet<String> = after.identifiers_of(id)?.into_iter().collect();
        if was != is {
            renamed.insert(id.clone());
        }
    }
    events.extend(judge.turned(&renamed, &skip, cause, at, None)?);
    Ok(events)
}

/// Events for one deployment whose document `old` was superseded by `new`:
/// exposures the new document brings that no other current document of the
/// deployment already held, and exposures that left with the old one.
pub fn events_for_supersession(
    view: &dyn ChangeView,
    deployment: &str,
    other_current: &[DocumentId],
    old: Option<DocumentId>,
    new: DocumentId,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    let mut elsewhere: HashSet<PackageId> = HashSet::new();
    for doc in other_current {
        elsewhere.extend(view.document_package_ids(*doc)?);
    }
    // Both sides from the stored matches of each document's packages (those
    // of the new one are written already): one source, so a match that an
    // advisory load made under another lookup name is on both sides.
    let exposures = |doc: DocumentId| -> Result<HashSet<Exposure>> {
        let packages = view.document_package_ids(doc)?;
        let mut out = HashSet::new();
        for (package, matches) in packages.iter().zip(view.affected_matches(&packages)?) {
            for (advisory, ecosystem) in matches {
                out.insert((*package, advisory, ecosystem));
            }
        }
        Ok(out)
    };
    let before = match old {
        Some(old) => exposures(old)?,
        None => HashSet::new(),
    };
    let new = &exposures(new)?;
    let purls = purls(
        view,
        new.symmetric_difference(&before)
            .map(|e| e.0)
            .filter(|p| !elsewhere.contains(p)),
    )?;
    let mut out = Vec::new();
    let mut push = |e: &Exposure, kind| {
        if !elsewhere.contains(&e.0) {
            let purl = purls.get(&e.0).cloned().unwrap_or_default();
            out.push(event(at, kind, "ingest", deployment, e, purl));
        }
    };
    let mut opened: Vec<&Exposure> = new.difference(&before).collect();
    opened.sort();
    for e in opened {
        push(e, EventKind::Opened);
    }
    let mut resolved: Vec<&Exposure> = before.difference(new).collect();
    resolved.sort();
    for e in resolved {
        push(e, EventKind::Resolved);
    }
    Ok(out)
}

/// Judges a change's events by VEX with the resolver the reports use: what
/// the store holds now (`before`, the committed state) and what it will
/// hold once the write transaction commits (`after`). An exposure is open
/// when its match is affected and no covering statement suppresses it.
pub struct VexJudge<'a> {
    before_view: &'a dyn EventView,
    after_view: &'a dyn ChangeView,
    before: VexResolver<'a>,
    after: VexResolver<'a>,
    identifiers: HashMap<(bool, String), Vec<String>>,
    packages: HashMap<PackageId, Option<PackageRecord>>,
}

impl<'a> VexJudge<'a> {
    pub fn new(before: &'a dyn EventView, after: &'a dyn ChangeView) -> Self {
        VexJudge {
            before_view: before,
            after_view: after,
            before: VexResolver::over_view(before.vex_source()),
            after: VexResolver::over_view(after.vex_source()),
            identifiers: HashMap::new(),
            packages: HashMap::new(),
        }
    }

    /// Reads the records of packages not read yet, at once.
    fn read_packages(&mut self, packages: &BTreeSet<PackageId>) -> Result<()> {
        let missing: BTreeSet<PackageId> = packages
            .iter()
            .copied()
            .filter(|p| !self.packages.contains_key(p))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut found = self.after_view.packages(&missing)?;
        for p in missing {
            self.packages.insert(p, found.remove(&p));
        }
        Ok(())
    }

    fn package(&mut self, package: PackageId) -> Result<Option<&PackageRecord>> {
        if !self.packages.contains_key(&package) {
            let record = self.after_view.vex_source().package(package)?;
            self.packages.insert(package, record);
        }
        Ok(self.packages[&package].as_ref())
    }

    /// Whether a statement suppresses (deployment, package, advisory):
    /// `after` the change, or before it.
    fn suppressed(
        &mut self,
        after: bool,
        deployment: &str,
        package: PackageId,
        advisory: &str,
    ) -> Result<bool> {
        let key = (after, advisory.to_string());
        if !self.identifiers.contains_key(&key) {
            let ids = match after {
                true => self.after_view.identifiers_of(advisory)?,
                false => self.before_view.identifiers_of(advisory)?,
            };
            self.identifiers.insert(key.clone(), ids);
        }
        let Some(record) = self.package(package)?.cloned() else {
            return Ok(false);
        };
        let identifiers = &self.identifiers[&key];
        let resolver = match after {
            true => &mut self.after,
            false => &mut self.before,
        };
        Ok(resolver
            .verdict(deployment, &record, identifiers)?
            .is_some_and(|v| v.suppresses()))
    }

    /// Whether the store holds any VEX statement, before or after the change
    /// (an estate without VEX has its events judged for nothing).
    fn any_statements(&self) -> Result<bool> {
        Ok(self.after_view.has_statements()? || self.before_view.has_statements()?)
    }

    /// Drops the events VEX makes moot: an opened exposure a statement
    /// suppresses once the change commits, a resolved one a statement
    /// already suppressed (it was not open).
    pub fn filter(&mut self, events: Vec<MatchEvent>) -> Result<Vec<MatchEvent>> {
        if events.is_empty() || !self.any_statements()? {
            return Ok(events);
        }
        self.read_packages(&events.iter().map(|e| e.package).collect())?;
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let after = e.kind == EventKind::Opened;
            if !self.suppressed(after, &e.deployment, e.package, &e.advisory)? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Events for the exposures whose VEX verdict the change turns: for
    /// every affected match of an advisory the `named` identifiers (those
    /// of the statements the change adds or takes away) answer to, in every
    /// deployment whose current documents hold the package after the change,
    /// `resolved` where a statement now suppresses it and `opened` where
    /// none does any more. `skip`: (deployment, advisory, package) the change
    /// evented already (a package the document brought or took away).
    pub fn vex_events(
        &mut self,
        named: &BTreeSet<String>,
        skip: &HashSet<(String, String, PackageId)>,
        cause: &str,
        at: u64,
    ) -> Result<Vec<MatchEvent>> {
        if named.is_empty() {
            return Ok(Vec::new());
        }
        self.vex_events_in(named, skip, cause, at, None)
    }

    /// [`Self::vex_events`], in `only` these deployments when given.
    fn vex_events_in(
        &mut self,
        named: &BTreeSet<String>,
        skip: &HashSet<(String, String, PackageId)>,
        cause: &str,
        at: u64,
        only: Option<&BTreeSet<String>>,
    ) -> Result<Vec<MatchEvent>> {
        if named.is_empty() {
            return Ok(Vec::new());
        }
        let spelled: BTreeSet<String> = named.iter().flat_map(|n| spellings(n)).collect();
        let advisories = self.after_view.advisories_named(&spelled)?;
        self.turned(&advisories, skip, cause, at, only)
    }

    /// Events for the affected matches of `advisories` whose VEX verdict
    /// differs before and after the change, in every deployment whose
    /// current documents hold the package after it (see [`Self::vex_events`]),
    /// or `only` in these.
    fn turned(
        &mut self,
        advisories: &BTreeSet<String>,
        skip: &HashSet<(String, String, PackageId)>,
        cause: &str,
        at: u64,
        only: Option<&BTreeSet<String>>,
    ) -> Result<Vec<MatchEvent>> {
        if advisories.is_empty() {
            return Ok(Vec::new());
        }
        let view = self.after_view;
        let exposures = view.affected_of_advisories(advisories)?;
        let packages: BTreeSet<PackageId> = exposures.iter().map(|(p, _, _)| *p).collect();
        let holders = view.current_holders(&packages)?;
        self.read_packages(&packages)?;
        let mut out = Vec::new();
        for exposure in &exposures {
            let (package, advisory, _) = exposure;
            for deployment in holders.get(package).into_iter().flatten() {
                if only.is_some_and(|o| !o.contains(deployment))
                    || skip.contains(&(deployment.clone(), advisory.clone(), *package))
                {
                    continue;
                }
                let was = self.suppressed(false, deployment, *package, advisory)?;
                let is = self.suppressed(true, deployment, *package, advisory)?;
                if was == is {
                    continue;
                }
                let purl = self
                    .package(*package)?
                    .map_or_else(String::new, |p| p.key.clone());
                let kind = if is {
                    EventKind::Resolved
                } else {
                    EventKind::Opened
                };
                out.push(event(at, kind, cause, deployment, exposure, purl));
            }
        }
        Ok(out)
    }
}

/// The spellings under which the advisory index may hold an identifier a
/// statement names (statements are compared case-insensitively; GHSA ids
/// are lower case after the prefix).
fn spellings(name: &str) -> BTreeSet<String> {
    let name = name.trim();
    let mut out = BTreeSet::from([
        name.to_string(),
        name.to_ascii_uppercase(),
        name.to_ascii_lowercase(),
    ]);
    // By bytes: an id is whatever a document wrote, multi-byte characters
    // included.
    if let (Some(prefix), Some(rest)) = (name.get(..5), name.get(5..))
        && prefix.eq_ignore_ascii_case("GHSA-")
        && !rest.is_empty()
    {
        out.insert(format!("GHSA-{}", rest.to_ascii_lowercase()));
    }
    out
}

/// The open exposures of one deployment as `view` holds them (its current
/// documents' affected matches that no statement suppresses), as `resolved`
/// events: what deleting it ends. Read before anything is deleted.
pub fn exposures_ending(
    view: &dyn ChangeView,
    deployment: &str,
    cause: &str,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    let mut packages = BTreeSet::new();
    for doc in view.vex_source().current_documents(deployment)? {
        packages.extend(view.document_package_ids(doc)?);
    }
    let packages: Vec<PackageId> = packages.into_iter().collect();
    let mut found: BTreeSet<Exposure> = BTreeSet::new();
    for (package, matches) in packages.iter().zip(view.affected_matches(&packages)?) {
        for (advisory, ecosystem) in matches {
            found.insert((*package, advisory, ecosystem));
        }
    }
    let mut judge = VexJudge::new(view, view);
    let mut out = Vec::new();
    for exposure in found {
        let (package, advisory, _) = &exposure;
        if judge.suppressed(false, deployment, *package, advisory)? {
            continue;
        }
        let purl = judge
            .package(*package)?
            .map_or_else(String::new, |p| p.key.clone());
        out.push(event(
            at,
            EventKind::Resolved,
            cause,
            deployment,
            &exposure,
            purl,
        ));
    }
    Ok(out)
}

/// Whether a statement targets a BOM by one of `serials` (normalised with
/// `aibomdb_graph::normalise_serial`): a BOM-Link to a package or a
/// `bom-ref` in it.
pub fn links_any(statement: &aibomdb_graph::VexStatement, serials: &BTreeSet<String>) -> bool {
    use aibomdb_graph::VexTarget;
    statement.targets.iter().any(|t| match t {
        VexTarget::Package {
            serial: Some(serial),
            ..
        }
        | VexTarget::BomRef { serial, .. } => {
            serials.contains(&aibomdb_graph::normalise_serial(serial))
        }
        _ => false,
    })
}

/// What VEX statements may judge differently once a written document is
/// current: the serials of it and of the document it superseded (a
/// BOM-Link to either covers the deployment, or its `bom-ref`s, only while
/// that document is current), the deployments whose subject changed (their
/// own statements about the product, and links to any of their documents,
/// then target other packages), and the deployments written to: the only
/// ones where what a document's serial or subject decides can change.
#[allow(clippy::type_complexity)]
fn coverage_moved(
    after: &dyn ChangeView,
    written: &[(&crate::NewDocument, &crate::IngestOutcome)],
) -> Result<(BTreeSet<String>, BTreeSet<String>, BTreeSet<String>)> {
    let mut serials = BTreeSet::new();
    let mut subject_moved = BTreeSet::new();
    let mut written_to = BTreeSet::new();
    let source = after.vex_source();
    for (_, outcome) in written {
        let crate::IngestOutcome::Ingested {
            document,
            superseded,
            ..
        } = outcome
        else {
            continue;
        };
        let Some(new) = source.document(*document)? else {
            continue;
        };
        let old = match superseded {
            Some(old) => source.document(*old)?,
            None => None,
        };
        let subject_of = |d: &crate::DocumentRecord| {
            (
                d.subject_package,
                d.subject.as_ref().and_then(|s| s.reference.clone()),
            )
        };
        let old_subject = old.as_ref().map(subject_of).unwrap_or_default();
        if subject_of(&new) != old_subject {
            subject_moved.insert(new.deployment.clone());
        }
        for serial in std::iter::once(&new)
            .chain(old.as_ref())
            .filter_map(|d| d.serial.as_deref())
        {
            insert_serial(&mut serials, serial);
        }
        written_to.insert(new.deployment);
    }
    Ok((serials, subject_moved, written_to))
}

/// A serial as the index holds it; an empty one names no BOM.
fn insert_serial(serials: &mut BTreeSet<String>, serial: &str) {
    if !serial.trim().is_empty() {
        serials.insert(aibomdb_graph::normalise_serial(serial));
    }
}

/// The events of an ingest group: the exposures its documents brought or
/// took away (`raw`, from [`events_for_supersession`]) as VEX leaves them,
/// and the exposures whose verdict the statements it added (or took away
/// with a superseded document) turn, with cause `vex`.
pub fn vex_judged(
    before: &dyn EventView,
    after: &dyn ChangeView,
    written: &[(&crate::NewDocument, &crate::IngestOutcome)],
    raw: Vec<MatchEvent>,
) -> Result<Vec<MatchEvent>> {
    let mut named = BTreeSet::new();
    let mut gone = HashSet::new();
    for (doc, outcome) in written {
        let crate::IngestOutcome::Ingested { superseded, .. } = outcome else {
            continue;
        };
        for s in &doc.facts.vex {
            named.insert(s.vulnerability.clone());
            named.extend(s.aliases.iter().cloned());
        }
        if let Some(old) = superseded {
            gone.insert(*old);
        }
    }
    // A superseded document's statements stop counting: the verdicts they
    // gave may turn too.
    let mut with_statements = HashSet::new();
    for old in gone {
        if let Some(record) = after.vex_source().document(old)?
            && record.vex_statements > 0
        {
            with_statements.insert(old);
        }
    }
    if !with_statements.is_empty() {
        named.extend(after.statement_ids_of(&with_statements)?);
    }
    // A document that becomes current, or stops being, moves what BOM-Links
    // and statements about the product cover in its own deployment, without
    // a statement changing: those statements are judged there only.
    let (mut serials, subject_moved, written_to) = coverage_moved(after, written)?;
    let mut own = HashSet::new();
    for deployment in &subject_moved {
        for doc in after.vex_source().current_documents(deployment)? {
            let Some(record) = after.vex_source().document(doc)? else {
                continue;
            };
            if record.vex_statements > 0 {
                own.insert(doc);
            }
            // A link to any current document may target the new subject.
            if let Some(serial) = &record.serial {
                insert_serial(&mut serials, serial);
            }
        }
    }
    let mut named_here = BTreeSet::new();
    if !own.is_empty() {
        named_here.extend(after.statement_ids_of(&own)?);
    }
    // An ingest adds statements, never removes one: those after are all.
    if !serials.is_empty() && after.has_statements()? {
        named_here.extend(after.statement_ids_linking(&serials)?);
    }
    let mut skip: HashSet<(String, String, PackageId)> = raw
        .iter()
        .map(|e| (e.deployment.clone(), e.advisory.clone(), e.package))
        .collect();
    let at = raw.first().map_or_else(crate::unix_now, |e| e.at);
    let mut judge = VexJudge::new(before, after);
    let mut events = judge.filter(raw)?;
    events.extend(judge.vex_events(&named, &skip, "vex", at)?);
    skip.extend(
        events
            .iter()
            .map(|e| (e.deployment.clone(), e.advisory.clone(), e.package)),
    );
    events.extend(judge.vex_events_in(&named_here, &skip, "vex", at, Some(&written_to))?);
    Ok(events)
}
