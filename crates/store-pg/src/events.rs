//! The events of a change on PostgreSQL: the store crate's event logic
//! (`aibomdb_store::events`) reading through [`PgView`], over the write
//! transaction (the store as the change leaves it) or over the primary's
//! read connection (as it was: the writers' lock keeps other writers out
//! meanwhile). Each read is one statement, run to completion on the
//! store's runtime from the writing thread, between the write's own
//! statements (never inside them: `block_on` does not nest).

use std::collections::{BTreeSet, HashMap, HashSet};

use aibomdb_store::events::{ChangeView, EventView, Exposure};
use aibomdb_store::kit;
use aibomdb_store::records::{AdvisoryRow, DeploymentRecord};
use aibomdb_store::{
    DocumentId, DocumentRecord, IngestOutcome, MatchEvent, NewDocument, PackageId, PackageRecord,
    VexRecord, VexSource,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row, Transaction};

use crate::read::{id, ids};
use crate::store::{Pg, PgStore, Result};

/// Reads for the events of a change, on one connection or transaction.
pub(crate) struct PgView<'a, C: GenericClient + Sync> {
    store: &'a PgStore,
    client: &'a C,
}

impl<'a, C: GenericClient + Sync> PgView<'a, C> {
    pub(crate) fn new(store: &'a PgStore, client: &'a C) -> Self {
        PgView { store, client }
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.store.block_on(self.client.query(sql, params)).pg()
    }

    fn doc_rows(&self, document: DocumentId) -> Result<Option<kit::DocRows>> {
        self.query("SELECT rows FROM documents WHERE id = $1", &[&id(document)])?
            .first()
            .map(|r| kit::decode_rows(r.get(0), document))
            .transpose()
    }
}

fn uid(row: &Row, column: usize) -> u64 {
    row.get::<_, i64>(column) as u64
}

impl<C: GenericClient + Sync> VexSource for PgView<'_, C> {
    fn document(&self, document: DocumentId) -> Result<Option<DocumentRecord>> {
        self.query(
            "SELECT record FROM documents WHERE id = $1",
            &[&id(document)],
        )?
        .first()
        .map(|r| kit::decode(r.get(0), "documents", &document.to_string()))
        .transpose()
    }

    fn current_documents(&self, deployment: &str) -> Result<Vec<DocumentId>> {
        let rows = self.query(
            "SELECT record FROM deployments WHERE name = $1",
            &[&deployment],
        )?;
        let Some(r) = rows.first() else {
            return Ok(Vec::new());
        };
        let record: DeploymentRecord = kit::decode(r.get(0), "deployments", deployment)?;
        let mut out: Vec<DocumentId> = record.current.into_iter().map(|(_, d)| d).collect();
        out.sort_unstable();
        Ok(out)
    }

    fn vex_for(&self, identifiers: &[String]) -> Result<Vec<VexRecord>> {
        crate::read::statements(self.query(
            crate::read::STATEMENTS_NAMING,
            &[&crate::read::statement_keys(identifiers)],
        )?)
    }

    fn documents_with_serial(&self, serial: &str) -> Result<Vec<DocumentId>> {
        let serial = aibomdb_graph::normalise_serial(serial);
        Ok(crate::read::first_ids(
            &self.query(crate::read::DOCUMENTS_WITH_SERIAL, &[&serial])?,
        ))
    }

    fn package(&self, package: PackageId) -> Result<Option<PackageRecord>> {
        self.query("SELECT record FROM packages WHERE id = $1", &[&id(package)])?
            .first()
            .map(|r| kit::decode(r.get(0), "packages", &package.to_string()))
            .transpose()
    }

    fn refs_of(&self, document: DocumentId) -> Result<HashMap<String, String>> {
        let mut map = HashMap::new();
        let Some(rows) = self.doc_rows(document)? else {
            return Ok(map);
        };
        let packages: Vec<u64> = rows.packages.iter().map(|r| r.id).collect();
        let facts: Vec<u64> = rows.packages.iter().map(|r| r.fact).collect();
        let mut keys = HashMap::new();
        for r in self.query(
            "SELECT id, key FROM packages WHERE id = ANY($1)",
            &[&ids(&packages)],
        )? {
            keys.insert(uid(&r, 0), r.get::<_, String>(1));
        }
        let mut refs: HashMap<u64, Vec<String>> = HashMap::new();
        for r in self.query(
            "SELECT id, body FROM facts WHERE id = ANY($1)",
            &[&ids(&facts)],
        )? {
            let fact: aibomdb_graph::PackageFact =
                kit::decode(r.get(1), "facts", &uid(&r, 0).to_string())?;
            refs.insert(uid(&r, 0), fact.refs);
        }
        for row in &rows.packages {
            let (Some(key), Some(found)) = (keys.get(&row.id), refs.get(&row.fact)) else {
                continue;
            };
            for r in found {
                map.insert(r.clone(), key.clone());
            }
        }
        Ok(map)
    }
}

impl<C: GenericClient + Sync> EventView for PgView<'_, C> {
    fn vex_source(&self) -> &dyn VexSource {
        self
    }

    fn identifiers_of(&self, advisory: &str) -> Result<Vec<String>> {
        let mut out = vec![advisory.to_string()];
        if let Some(r) = self
            .query("SELECT record FROM advisories WHERE id = $1", &[&advisory])?
            .first()
        {
            let row: AdvisoryRow = kit::decode(r.get(0), "advisories", advisory)?;
            out.extend(row.identifiers.into_iter().filter(|i| i != advisory));
        }
        Ok(out)
    }

    fn has_statements(&self) -> Result<bool> {
        Ok(self.query("SELECT EXISTS (SELECT 1 FROM vex_statements)", &[])?[0].get(0))
    }
}

impl<C: GenericClient + Sync> ChangeView for PgView<'_, C> {
    fn document_package_ids(&self, document: DocumentId) -> Result<Vec<PackageId>> {
        Ok(self
            .doc_rows(document)?
            .map(|rows| rows.packages.iter().map(|p| p.id).collect())
            .unwrap_or_default())
    }

    fn affected_matches(&self, packages: &[PackageId]) -> Result<Vec<Vec<(String, String)>>> {
        let mut by_package: HashMap<PackageId, Vec<(String, String)>> = HashMap::new();
        for r in self.query(
            "SELECT package_id, advisory_id, record FROM matches WHERE package_id = ANY($1) \
             ORDER BY package_id, advisory_id",
            &[&ids(packages)],
        )? {
            let package = uid(&r, 0);
            let m = kit::decode_match(r.get(2), package, r.get(1))?;
            if m.status == "affected" {
                by_package
                    .entry(package)
                    .or_default()
                    .push((m.advisory, m.ecosystem));
            }
        }
        Ok(packages
            .iter()
            .map(|p| by_package.remove(p).unwrap_or_default())
            .collect())
    }

    fn current_holders(
        &self,
        packages: &BTreeSet<PackageId>,
    ) -> Result<HashMap<PackageId, BTreeSet<String>>> {
        let wanted: Vec<i64> = packages.iter().map(|p| id(*p)).collect();
        let mut out: HashMap<PackageId, BTreeSet<String>> =
            packages.iter().map(|p| (*p, BTreeSet::new())).collect();
        for r in self.query(
            "SELECT DISTINCT o.package_id, p.name FROM occurrences o \
             JOIN documents d ON d.id = o.document_id \
             JOIN deployments p ON p.id = o.deployment_id \
             WHERE o.package_id = ANY($1) AND d.current",
            &[&wanted],
        )? {
            out.entry(uid(&r, 0)).or_default().insert(r.get(1));
        }
        Ok(out)
    }

    fn advisories_named(&self, spellings: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        let names: Vec<&str> = spellings.iter().map(String::as_str).collect();
        Ok(self
            .query(
                "SELECT DISTINCT advisory_id FROM advisory_identifiers WHERE identifier = ANY($1)",
                &[&names],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn affected_of_advisories(&self, advisories: &BTreeSet<String>) -> Result<Vec<Exposure>> {
        let names: Vec<&str> = advisories.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        for r in self.query(
            "SELECT package_id, advisory_id, record FROM matches WHERE advisory_id = ANY($1) \
             ORDER BY advisory_id, package_id",
            &[&names],
        )? {
            let m = kit::decode_match(r.get(2), uid(&r, 0), r.get(1))?;
            if m.status == "affected" {
                out.push((m.package, m.advisory, m.ecosystem));
            }
        }
        Ok(out)
    }

    fn packages(&self, wanted: &BTreeSet<PackageId>) -> Result<HashMap<PackageId, PackageRecord>> {
        let wanted: Vec<i64> = wanted.iter().map(|p| id(*p)).collect();
        self.query(
            "SELECT id, record FROM packages WHERE id = ANY($1)",
            &[&wanted],
        )?
        .iter()
        .map(|r| {
            let package = uid(r, 0);
            Ok((
                package,
                kit::decode(r.get(1), "packages", &package.to_string())?,
            ))
        })
        .collect()
    }

    fn statement_ids_linking(&self, serials: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        if serials.is_empty() {
            return Ok(out);
        }
        // No index by target: every statement is read (one query a group).
        for r in self.query("SELECT identifier, statement FROM vex_statements", &[])? {
            let identifier: String = r.get(0);
            let statement: aibomdb_graph::VexStatement =
                kit::decode(r.get(1), "vex_statements", &identifier)?;
            if aibomdb_store::events::links_any(&statement, serials) {
                out.insert(identifier);
            }
        }
        Ok(out)
    }

    fn statement_ids_of(&self, documents: &HashSet<DocumentId>) -> Result<BTreeSet<String>> {
        let wanted: Vec<i64> = documents.iter().map(|d| id(*d)).collect();
        Ok(self
            .query(
                "SELECT DISTINCT identifier FROM vex_statements WHERE document_id = ANY($1)",
                &[&wanted],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }
}

impl PgStore {
    /// The events of an ingest group, as redb makes them: per document
    /// written, the exposures it brought or took away in its deployment as
    /// it stood then, judged by VEX with the statements the group adds.
    pub(crate) fn group_events(
        &self,
        txn: &Transaction<'_>,
        docs: &[NewDocument],
        group: &crate::write::GroupWritten,
    ) -> Result<Vec<aibomdb_store::MatchEvent>> {
        let after = crate::events::PgView::new(self, txn);
        let now = kit::now();
        let mut raw = Vec::new();
        for e in &group.evented {
            raw.extend(aibomdb_store::events::events_for_supersession(
                &after,
                &e.deployment,
                &e.others,
                e.superseded,
                e.document,
                now,
            )?);
        }
        let written: Vec<(&NewDocument, &IngestOutcome)> =
            group.written.iter().map(|(i, o)| (&docs[*i], o)).collect();
        self.with_primary(|before| aibomdb_store::events::vex_judged(before, &after, &written, raw))
    }
}

/// Whether a write should record events: a webhook target is configured,
/// or a live listener (a GraphQL subscription of some server) keeps a
/// heartbeat in `listeners`.
pub(crate) async fn events_wanted(store: &PgStore, txn: &Transaction<'_>) -> Result<bool> {
    if store.local_listeners() > 0 {
        return Ok(true);
    }
    let row = txn
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM notify_targets) OR EXISTS (SELECT 1 FROM listeners \
             WHERE count > 0 AND heartbeat > now() - make_interval(secs => $1))",
            &[&crate::notify::LISTENER_LEASE.as_secs_f64()],
        )
        .await
        .pg()?;
    Ok(row.get(0))
}

/// Appends events to the outbox in `txn`, numbering them from
/// `meta.next_event_seq`.
pub(crate) async fn append_events(txn: &Transaction<'_>, events: &mut [MatchEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let count = events.len() as i64;
    let first = txn
        .query_one(
            "UPDATE meta SET value = value + $1 WHERE key = 'next_event_seq' RETURNING value - $1",
            &[&count],
        )
        .await
        .pg()?
        .get::<_, i64>(0) as u64;
    let mut seqs = Vec::with_capacity(events.len());
    let mut bodies = Vec::with_capacity(events.len());
    for (n, e) in events.iter_mut().enumerate() {
        e.seq = first + n as u64;
        seqs.push(e.seq as i64);
        bodies.push(kit::encode(&*e));
    }
    txn.execute(
        "INSERT INTO outbox (seq, event) SELECT * FROM unnest($1::int8[], $2::bytea[])",
        &[&seqs, &bodies],
    )
    .await
    .pg()?;
    Ok(())
}
