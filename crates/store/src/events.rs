//! The events a change causes: which deployments' exposures an advisory
//! load, an ingest, a VEX statement or a deletion opens or resolves, judged
//! by VEX as the reports judge them. `notify.rs` keeps them in the outbox.

use std::collections::{BTreeSet, HashMap, HashSet};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::notify::{EventKind, MatchChange, MatchEvent};
use crate::records::DocHead;
use crate::tables::*;
use crate::vex::VexResolver;
use crate::{PackageId, RedbStore, Result, decode};

/// Events for match edges that changed estate-wide (an advisory load): one
/// per deployment whose current documents hold the package.
pub(crate) fn events_for_matches(
    txn: &redb::WriteTransaction,
    changes: &[MatchChange],
    cause: &str,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    let postings = txn.open_table(POSTINGS)?;
    let heads = txn.open_table(DOCUMENT_HEADS)?;
    let packages = txn.open_table(PACKAGES)?;
    let mut out = Vec::new();
    for (package, advisory, ecosystem, kind) in changes {
        let (package, kind) = (*package, *kind);
        let mut deployments = BTreeSet::new();
        for doc in crate::occurrences::documents_of(&postings, package)? {
            if let Some(v) = heads.get(doc)? {
                let head: DocHead = decode(v.value(), "document_heads", &doc.to_string())?;
                if head.current {
                    deployments.insert(head.deployment);
                }
            }
        }
        if deployments.is_empty() {
            continue;
        }
        let purl = purl_of(&packages, package)?;
        for deployment in deployments {
            out.push(MatchEvent {
                seq: 0,
                at,
                kind,
                cause: cause.to_string(),
                deployment,
                advisory: advisory.to_string(),
                package,
                purl: purl.clone(),
                ecosystem: ecosystem.to_string(),
            });
        }
    }
    Ok(out)
}

fn purl_of(packages: &redb::Table<u64, &[u8]>, package: PackageId) -> Result<String> {
    Ok(match packages.get(package)? {
        Some(v) => {
            let record: crate::PackageRecord = decode(v.value(), "packages", &package.to_string())?;
            record.key
        }
        None => String::new(),
    })
}

/// One affected match of a document: (package, advisory, ecosystem).
pub(crate) type Exposure = (PackageId, String, String);

/// Events for one deployment whose document `old` was superseded by `new`:
/// exposures the new document brings that no other current document of the
/// deployment already held, and exposures that left with the old one.
pub(crate) fn events_for_supersession(
    txn: &redb::WriteTransaction,
    deployment: &str,
    other_current: &[u64],
    old: Option<u64>,
    new: u64,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    // The document → package rows, not the package → document index: the
    // index of a group commit is written at its end, after every document.
    let doc_rows = txn.open_table(DOCUMENT_ROWS)?;
    let package_ids = |doc: u64| -> Result<Vec<PackageId>> {
        Ok(crate::occurrences::rows_of(&doc_rows, doc)?
            .map(|rows| rows.packages.iter().map(|p| p.id).collect())
            .unwrap_or_default())
    };
    let packages = txn.open_table(PACKAGES)?;
    let mut elsewhere: HashSet<PackageId> = HashSet::new();
    for doc in other_current {
        elsewhere.extend(package_ids(*doc)?);
    }
    let held_elsewhere = |package: PackageId| -> Result<bool> { Ok(elsewhere.contains(&package)) };
    // Both sides from the stored matches of each document's packages (those
    // of the new one are written already): one source, so a match that an
    // advisory load made under another lookup name is on both sides.
    let matches = txn.open_table(MATCHES)?;
    let exposures = |doc: u64| -> Result<HashSet<Exposure>> {
        let mut out = HashSet::new();
        for package in package_ids(doc)? {
            for m in matches.range((package, "")..=(package, "\u{10FFFF}"))? {
                let (k, v) = m?;
                let advisory = k.value().1;
                let stored: crate::advisories::StoredMatch =
                    decode(v.value(), "matches", advisory)?;
                if stored.is_affected() {
                    out.insert((package, advisory.to_string(), stored.ecosystem().into()));
                }
            }
        }
        Ok(out)
    };
    let before = match old {
        Some(old) => exposures(old)?,
        None => HashSet::new(),
    };
    let new = &exposures(new)?;
    let mut out = Vec::new();
    let mut push = |(package, advisory, ecosystem): &Exposure, kind| -> Result<()> {
        if held_elsewhere(*package)? {
            return Ok(());
        }
        out.push(MatchEvent {
            seq: 0,
            at,
            kind,
            cause: "ingest".into(),
            deployment: deployment.to_string(),
            advisory: advisory.clone(),
            package: *package,
            purl: purl_of(&packages, *package)?,
            ecosystem: ecosystem.clone(),
        });
        Ok(())
    };
    let mut opened: Vec<&Exposure> = new.difference(&before).collect();
    opened.sort();
    for e in opened {
        push(e, EventKind::Opened)?;
    }
    let mut resolved: Vec<&Exposure> = before.difference(new).collect();
    resolved.sort();
    for e in resolved {
        push(e, EventKind::Resolved)?;
    }
    Ok(out)
}

/// Judges a change's events by VEX with the resolver the reports use: what
/// the store holds now (`before`, the committed state) and what it will
/// hold once the write transaction commits (`after`). An exposure is open
/// when its match is affected and no covering statement suppresses it.
pub(crate) struct VexJudge<'a> {
    store: &'a RedbStore,
    txn: &'a redb::WriteTransaction,
    before: VexResolver<'a>,
    after: VexResolver<'a>,
    identifiers: HashMap<(bool, String), Vec<String>>,
    packages: HashMap<PackageId, Option<crate::PackageRecord>>,
}

impl<'a> VexJudge<'a> {
    pub(crate) fn new(store: &'a RedbStore, txn: &'a redb::WriteTransaction) -> Self {
        VexJudge {
            store,
            txn,
            before: VexResolver::of(store),
            after: VexResolver::in_txn(txn),
            identifiers: HashMap::new(),
            packages: HashMap::new(),
        }
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
                true => identifiers_of(&self.txn.open_table(ADVISORIES)?, advisory)?,
                false => {
                    let read = self.store.db.begin_read()?;
                    match crate::read_table(&read, ADVISORIES)? {
                        Some(t) => identifiers_of(&t, advisory)?,
                        None => vec![advisory.to_string()],
                    }
                }
            };
            self.identifiers.insert(key.clone(), ids);
        }
        if !self.packages.contains_key(&package) {
            let record = self
                .txn
                .open_table(PACKAGES)?
                .get(package)?
                .map(|v| decode(v.value(), "packages", &package.to_string()))
                .transpose()?;
            self.packages.insert(package, record);
        }
        let Some(record) = &self.packages[&package] else {
            return Ok(false);
        };
        let identifiers = &self.identifiers[&key];
        let resolver = match after {
            true => &mut self.after,
            false => &mut self.before,
        };
        Ok(resolver
            .verdict(deployment, record, identifiers)?
            .is_some_and(|v| v.suppresses()))
    }

    /// Whether the store holds any VEX statement, before or after the change
    /// (an estate without VEX has its events judged for nothing).
    fn any_statements(&self) -> Result<bool> {
        if !self.txn.open_table(VEX_STATEMENTS)?.is_empty()? {
            return Ok(true);
        }
        let read = self.store.db.begin_read()?;
        Ok(match crate::read_table(&read, VEX_STATEMENTS)? {
            Some(t) => !t.is_empty()?,
            None => false,
        })
    }

    /// Drops the events VEX makes moot: an opened exposure a statement
    /// suppresses once the change commits, a resolved one a statement
    /// already suppressed (it was not open).
    pub(crate) fn filter(&mut self, events: Vec<MatchEvent>) -> Result<Vec<MatchEvent>> {
        if events.is_empty() || !self.any_statements()? {
            return Ok(events);
        }
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
    pub(crate) fn vex_events(
        &mut self,
        named: &BTreeSet<String>,
        skip: &HashSet<(String, String, PackageId)>,
        cause: &str,
        at: u64,
    ) -> Result<Vec<MatchEvent>> {
        if named.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.txn;
        let mut advisories = BTreeSet::new();
        {
            let index = txn.open_table(ADVISORY_IDENTIFIERS)?;
            for name in named {
                for spelling in spellings(name) {
                    for e in
                        index.range((spelling.as_str(), "")..=(spelling.as_str(), "\u{10FFFF}"))?
                    {
                        advisories.insert(e?.0.value().1.to_string());
                    }
                }
            }
        }
        // (advisory, package, ecosystem) of the affected matches.
        let mut exposures: Vec<Exposure> = Vec::new();
        {
            let by_advisory = txn.open_table(MATCHES_BY_ADVISORY)?;
            let matches = txn.open_table(MATCHES)?;
            for advisory in &advisories {
                for e in
                    by_advisory.range((advisory.as_str(), 0)..=(advisory.as_str(), u64::MAX))?
                {
                    let package = e?.0.value().1;
                    let Some(v) = matches.get((package, advisory.as_str()))? else {
                        continue;
                    };
                    let stored: crate::advisories::StoredMatch =
                        decode(v.value(), "matches", advisory)?;
                    if stored.is_affected() {
                        exposures.push((package, advisory.clone(), stored.ecosystem().into()));
                    }
                }
            }
        }
        let packages: BTreeSet<PackageId> = exposures.iter().map(|(p, _, _)| *p).collect();
        let holders = current_holders(txn, &packages)?;
        let mut out = Vec::new();
        for (package, advisory, ecosystem) in &exposures {
            for deployment in &holders[package] {
                if skip.contains(&(deployment.clone(), advisory.clone(), *package)) {
                    continue;
                }
                let was = self.suppressed(false, deployment, *package, advisory)?;
                let is = self.suppressed(true, deployment, *package, advisory)?;
                if was == is {
                    continue;
                }
                let purl = self.packages[package]
                    .as_ref()
                    .map_or_else(String::new, |p| p.key.clone());
                out.push(MatchEvent {
                    seq: 0,
                    at,
                    kind: if is {
                        EventKind::Resolved
                    } else {
                        EventKind::Opened
                    },
                    cause: cause.to_string(),
                    deployment: deployment.clone(),
                    advisory: advisory.clone(),
                    package: *package,
                    purl,
                    ecosystem: ecosystem.clone(),
                });
            }
        }
        Ok(out)
    }
}

/// Per package, the deployments whose current documents list it, as the
/// write transaction leaves them (the postings of an ingest group are
/// written before its events are judged).
fn current_holders(
    txn: &redb::WriteTransaction,
    packages: &BTreeSet<PackageId>,
) -> Result<HashMap<PackageId, BTreeSet<String>>> {
    let postings = txn.open_table(POSTINGS)?;
    let heads = txn.open_table(DOCUMENT_HEADS)?;
    let mut out = HashMap::new();
    for package in packages {
        let mut deployments = BTreeSet::new();
        for doc in crate::occurrences::documents_of(&postings, *package)? {
            if let Some(v) = heads.get(doc)? {
                let head: DocHead = decode(v.value(), "document_heads", &doc.to_string())?;
                if head.current {
                    deployments.insert(head.deployment);
                }
            }
        }
        out.insert(*package, deployments);
    }
    Ok(out)
}

/// An advisory's id first, then its aliases and upstream ids (as the
/// reports give them to the resolver).
fn identifiers_of(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Vec<String>> {
    let mut out = vec![id.to_string()];
    if let Some(v) = table.get(id)? {
        let row: crate::records::AdvisoryRow = decode(v.value(), "advisories", id)?;
        out.extend(row.identifiers.into_iter().filter(|i| i != id));
    }
    Ok(out)
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
    if name.len() > 5 && name[..5].eq_ignore_ascii_case("GHSA-") {
        out.insert(format!("GHSA-{}", name[5..].to_ascii_lowercase()));
    }
    out
}

/// Identifiers the statements of `doc` name, read from the statement rows.
pub(crate) fn statement_ids_of(
    txn: &redb::WriteTransaction,
    docs: &HashSet<u64>,
    into: &mut BTreeSet<String>,
) -> Result<()> {
    if docs.is_empty() {
        return Ok(());
    }
    let table = txn.open_table(VEX_STATEMENTS)?;
    for entry in table.iter()? {
        let (k, _) = entry?;
        let (id, doc, _) = k.value();
        if docs.contains(&doc) {
            into.insert(id.to_string());
        }
    }
    Ok(())
}

/// The open exposures of one deployment as the store holds them now (its
/// current documents' affected matches that no statement suppresses), as
/// `resolved` events: what deleting it ends.
pub(crate) fn exposures_ending(
    store: &RedbStore,
    txn: &redb::WriteTransaction,
    deployment: &str,
    cause: &str,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    // Through the store's own reads (the committed state: nothing is
    // deleted yet), not its tables.
    let mut packages = BTreeSet::new();
    for doc in store.current_documents(deployment)? {
        packages.extend(
            store
                .document_package_records(doc)?
                .into_iter()
                .map(|p| p.id),
        );
    }
    let packages: Vec<PackageId> = packages.into_iter().collect();
    let mut found: BTreeSet<Exposure> = BTreeSet::new();
    for (package, matches) in packages.iter().zip(store.matches_for_packages(&packages)?) {
        for m in matches.into_iter().filter(|m| m.status == "affected") {
            found.insert((*package, m.advisory, m.ecosystem));
        }
    }
    let mut judge = VexJudge::new(store, txn);
    let mut out = Vec::new();
    for (package, advisory, ecosystem) in found {
        if judge.suppressed(false, deployment, package, &advisory)? {
            continue;
        }
        let purl = judge.packages[&package]
            .as_ref()
            .map_or_else(String::new, |p| p.key.clone());
        out.push(MatchEvent {
            seq: 0,
            at,
            kind: EventKind::Resolved,
            cause: cause.to_string(),
            deployment: deployment.to_string(),
            advisory,
            package,
            purl,
            ecosystem,
        });
    }
    Ok(out)
}

/// The events of an ingest group: the exposures its documents brought or
/// took away (`raw`, from [`events_for_supersession`]) as VEX leaves them,
/// and the exposures whose verdict the statements it added (or took away
/// with a superseded document) turn, with cause `vex`.
pub(crate) fn vex_judged(
    store: &RedbStore,
    txn: &redb::WriteTransaction,
    docs: &[crate::NewDocument],
    outcomes: &[crate::IngestOutcome],
    raw: Vec<MatchEvent>,
) -> Result<Vec<MatchEvent>> {
    let mut named = BTreeSet::new();
    let mut gone = HashSet::new();
    for (doc, outcome) in docs.iter().zip(outcomes) {
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
    {
        let documents = txn.open_table(DOCUMENTS)?;
        let mut with_statements = HashSet::new();
        for old in gone {
            if let Some(v) = documents.get(old)? {
                let record: crate::DocumentRecord =
                    decode(v.value(), "documents", &old.to_string())?;
                if record.vex_statements > 0 {
                    with_statements.insert(old);
                }
            }
        }
        drop(documents);
        statement_ids_of(txn, &with_statements, &mut named)?;
    }
    let skip: HashSet<(String, String, PackageId)> = raw
        .iter()
        .map(|e| (e.deployment.clone(), e.advisory.clone(), e.package))
        .collect();
    let at = raw.first().map_or_else(crate::unix_now, |e| e.at);
    let mut judge = VexJudge::new(store, txn);
    let mut events = judge.filter(raw)?;
    events.extend(judge.vex_events(&named, &skip, "vex", at)?);
    Ok(events)
}
