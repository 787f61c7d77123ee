//! Reads: each answer in as few statements as it takes, decoded with the
//! store crate's own codecs, so that both back ends answer alike.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use aibomdb_graph::PackageFact;
use aibomdb_store::kit::{self, DocRows};
use aibomdb_store::{
    DocumentId, DocumentRecord, DocumentRef, FactId, MatchRecord, Occurrence, PackageId,
    PackageRecord, PackageVersion, Release, Stats, StoreError, VexRecord,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::store::{Pg, PgStore, Result};

pub(crate) fn id(v: u64) -> i64 {
    v as i64
}

pub(crate) fn ids(v: &[u64]) -> Vec<i64> {
    v.iter().map(|&i| i as i64).collect()
}

pub(crate) fn uid(row: &Row, column: usize) -> u64 {
    row.get::<_, i64>(column) as u64
}

/// The statements naming any of some identifiers (given as
/// [`statement_keys`]), for [`statements`]; the committed store's reads and
/// a write transaction's (`events.rs`) ask alike.
pub(crate) const STATEMENTS_NAMING: &str = "SELECT identifier, document_id, idx, statement \
     FROM vex_statements WHERE identifier = ANY($1)";

/// Documents by their normalised serial number, in id order.
pub(crate) const DOCUMENTS_WITH_SERIAL: &str =
    "SELECT id FROM documents WHERE serial_norm = $1 ORDER BY id";

/// Identifiers as statements are filed under them.
pub(crate) fn statement_keys(identifiers: &[String]) -> Vec<String> {
    identifiers
        .iter()
        .map(|i| i.trim().to_ascii_uppercase())
        .collect()
}

/// The ids in the first column.
pub(crate) fn first_ids(rows: &[Row]) -> Vec<u64> {
    rows.iter().map(|r| uid(r, 0)).collect()
}

impl PgStore {
    /// Runs a read, prepared once per connection: an unprepared statement
    /// costs a second round trip (parse, then bind) every time.
    /// A read on a connection found closed (the database restarted, or
    /// failed over) is made again once on a new connection.
    pub(crate) async fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let client = self.client();
        let epoch = client.epoch();
        match self.rows_on(&client, sql, params).await {
            Err(e) if e.is_closed() || client.is_closed() => {
                drop(client);
                self.reconnect_reads(epoch).await?;
                self.rows_on(&self.client(), sql, params).await.pg()
            }
            answer => answer.pg(),
        }
    }

    async fn rows_on(
        &self,
        client: &crate::store::ReadConnection<'_>,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Vec<Row>, tokio_postgres::Error> {
        let cached = match self.statements.lock() {
            Ok(cache) => cache
                .get(sql)
                .filter(|(epoch, _)| *epoch == client.epoch())
                .map(|(_, s)| s.clone()),
            Err(_) => None,
        };
        let statement = match cached {
            Some(s) => s,
            None => {
                let s = client.prepare(sql).await?;
                if let Ok(mut cache) = self.statements.lock() {
                    cache.insert(sql.to_string(), (client.epoch(), s.clone()));
                }
                s
            }
        };
        client.query(&statement, params).await
    }

    pub(crate) fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.block_on(self.rows(sql, params))
    }

    pub(crate) fn strings(&self, sql: &str, arg: &str) -> Result<Vec<String>> {
        Ok(self.query(sql, &[&arg])?.iter().map(|r| r.get(0)).collect())
    }

    pub(crate) fn blob(&self, sql: &str, arg: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.query(sql, &[&arg])?.first().map(|r| r.get(0)))
    }

    pub(crate) fn count(&self, sql: &str) -> Result<u64> {
        Ok(self.query(sql, &[])?.first().map_or(0, |r| uid(r, 0)))
    }

    pub(crate) fn count_with(&self, sql: &str, arg: &str) -> Result<u64> {
        Ok(self.query(sql, &[&arg])?.first().map_or(0, |r| uid(r, 0)))
    }

    pub(crate) fn decoded<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        arg: &str,
        table: &'static str,
    ) -> Result<Option<T>> {
        self.blob(sql, arg)?
            .map(|b| kit::decode(&b, table, arg))
            .transpose()
    }

    pub(crate) fn all_decoded<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        table: &'static str,
    ) -> Result<Vec<T>> {
        self.query(sql, &[])?
            .iter()
            .map(|r| kit::decode(r.get::<_, &[u8]>(0), table, ""))
            .collect()
    }

    pub(crate) fn advisory_seen_at(&self, advisory: &str) -> Result<Option<u64>> {
        Ok(self
            .query("SELECT seen_at FROM advisories WHERE id = $1", &[&advisory])?
            .first()
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .map(|v| v as u64))
    }

    pub(crate) fn advisories_keyed(&self, keys: &[&str]) -> Result<Vec<(String, String, Vec<u8>)>> {
        let rows = self.query(
            "SELECT k.lookup_key, k.advisory_id, a.json FROM advisory_keys k \
             JOIN advisories a ON a.id = k.advisory_id WHERE k.lookup_key = ANY($1)",
            &[&keys],
        )?;
        // In the order of `keys`, then by advisory id, as redb answers.
        let mut by_key: HashMap<String, Vec<(String, Vec<u8>)>> = HashMap::new();
        for r in rows {
            by_key
                .entry(r.get(0))
                .or_default()
                .push((r.get(1), r.get(2)));
        }
        let mut out = Vec::new();
        for key in keys {
            if let Some(mut found) = by_key.remove(*key) {
                found.sort_by(|a, b| a.0.cmp(&b.0));
                out.extend(
                    found
                        .into_iter()
                        .map(|(id, json)| (key.to_string(), id, json)),
                );
            }
        }
        Ok(out)
    }

    pub(crate) fn matches_of(&self, packages: &[PackageId]) -> Result<Vec<Vec<MatchRecord>>> {
        let rows = self.query(
            "SELECT package_id, advisory_id, record FROM matches WHERE package_id = ANY($1) \
             ORDER BY package_id, advisory_id",
            &[&ids(packages)],
        )?;
        let mut by_package: HashMap<PackageId, Vec<MatchRecord>> = HashMap::new();
        for r in rows {
            let package = uid(&r, 0);
            let advisory: &str = r.get(1);
            by_package
                .entry(package)
                .or_default()
                .push(kit::decode_match(r.get(2), package, advisory)?);
        }
        Ok(packages
            .iter()
            .map(|p| by_package.get(p).cloned().unwrap_or_default())
            .collect())
    }

    pub(crate) fn matched_packages(&self) -> Result<Vec<PackageId>> {
        Ok(self
            .query(
                "SELECT DISTINCT package_id FROM matches ORDER BY package_id",
                &[],
            )?
            .iter()
            .map(|r| uid(r, 0))
            .collect())
    }

    pub(crate) fn matches_naming(&self, advisory: &str) -> Result<Vec<MatchRecord>> {
        self.query(
            "SELECT package_id, record FROM matches WHERE advisory_id = $1 ORDER BY package_id",
            &[&advisory],
        )?
        .iter()
        .map(|r| kit::decode_match(r.get(1), uid(r, 0), advisory))
        .collect()
    }

    pub(crate) fn releases_of(&self, deployment: &str) -> Result<Vec<Release>> {
        let mut out: Vec<Release> = self
            .query(
                "SELECT release FROM releases WHERE deployment = $1 ORDER BY name",
                &[&deployment],
            )?
            .iter()
            .map(|r| kit::decode(r.get::<_, &[u8]>(0), "releases", deployment))
            .collect::<Result<_>>()?;
        out.sort_by_key(|r| r.sequence);
        Ok(out)
    }

    pub(crate) fn vex_statements_for(&self, identifiers: &[String]) -> Result<Vec<VexRecord>> {
        statements(self.query(STATEMENTS_NAMING, &[&statement_keys(identifiers)])?)
    }

    pub(crate) fn every_vex_statement(&self) -> Result<Vec<VexRecord>> {
        let rows = self.query(
            "SELECT identifier, document_id, idx, statement FROM vex_statements \
             ORDER BY identifier, document_id, idx",
            &[],
        )?;
        statements(rows)
    }

    pub(crate) fn serial_documents(&self, serial: &str) -> Result<Vec<DocumentId>> {
        let serial = aibomdb_graph::normalise_serial(serial);
        Ok(first_ids(&self.query(DOCUMENTS_WITH_SERIAL, &[&serial])?))
    }

    pub(crate) fn counts(&self) -> Result<Stats> {
        let r = &self.query(
            "SELECT (SELECT count(*) FROM deployments), (SELECT count(*) FROM documents), \
             (SELECT count(*) FROM documents WHERE current), (SELECT count(*) FROM packages), \
             (SELECT value FROM meta WHERE key = 'occurrence_rows'), \
             (SELECT value FROM meta WHERE key = 'edge_rows'), \
             pg_database_size(current_database())",
            &[],
        )?[0];
        Ok(Stats {
            deployments: uid(r, 0),
            documents: uid(r, 1),
            current_documents: uid(r, 2),
            packages: uid(r, 3),
            occurrences: uid(r, 4),
            dependency_edges: uid(r, 5),
            file_bytes: uid(r, 6),
        })
    }

    pub(crate) fn document_record(&self, document: DocumentId) -> Result<Option<DocumentRecord>> {
        self.query(
            "SELECT record FROM documents WHERE id = $1",
            &[&id(document)],
        )?
        .first()
        .map(|r| kit::decode(r.get(0), "documents", &document.to_string()))
        .transpose()
    }

    pub(crate) fn all_documents(&self) -> Result<Vec<DocumentRecord>> {
        self.all_decoded("SELECT record FROM documents ORDER BY id", "documents")
    }

    /// The current documents among `documents`, by id, from the heads
    /// (`heads.rs`).
    pub(crate) fn current_refs(&self, documents: &[DocumentId]) -> Result<Vec<DocumentRef>> {
        let mut sorted = documents.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut out = Vec::with_capacity(sorted.len());
        self.block_on(self.each_head(&sorted, |id, head| {
            if head.current {
                out.push(DocumentRef {
                    id,
                    deployment: head.deployment.to_string(),
                    source_path: head.source_path.to_string(),
                });
            }
        }))?;
        Ok(out)
    }

    /// Packages whose folded name is `folded` (one ecosystem or all), in
    /// the order of redb's name index, which holds one package per
    /// (name, ecosystem, namespace, version): the last one written.
    async fn by_folded_name(
        &self,
        folded: &str,
        ecosystem: Option<&str>,
    ) -> Result<Vec<PackageRecord>> {
        let ecosystem = ecosystem.map(str::to_ascii_lowercase);
        let rows = self
            .rows(
                "SELECT DISTINCT ON (name_folded, ecosystem, namespace, version) id, record \
                 FROM packages WHERE name_folded = $1 AND ($2::text IS NULL OR ecosystem = $2) \
                 ORDER BY name_folded, ecosystem, namespace, version, id DESC",
                &[&folded, &ecosystem],
            )
            .await?;
        rows.iter()
            .map(|r| kit::decode(r.get(1), "packages", &uid(r, 0).to_string()))
            .collect()
    }

    pub(crate) fn named(&self, name: &str, ecosystem: Option<&str>) -> Result<Vec<PackageRecord>> {
        self.block_on(async {
            let mut out: Vec<PackageRecord> = Vec::new();
            let mut seen = HashSet::new();
            for folded in [name.to_lowercase(), aibomdb_graph::pep503_normalise(name)] {
                if !seen.insert(folded.clone()) {
                    continue;
                }
                for p in self.by_folded_name(&folded, ecosystem).await? {
                    if !out.iter().any(|o| o.id == p.id) {
                        out.push(p);
                    }
                }
            }
            Ok(out)
        })
    }

    pub(crate) fn prefixed(&self, prefix: &str, limit: usize) -> Result<Vec<PackageRecord>> {
        let start = prefix.to_lowercase();
        let end = format!("{start}\u{10FFFF}");
        let limit = limit.min(i64::MAX as usize) as i64;
        self.query(
            "SELECT id, record FROM (SELECT DISTINCT ON (name_folded, ecosystem, namespace, version) \
             id, record, name_folded, ecosystem, namespace, version FROM packages \
             WHERE name_folded >= $1 AND name_folded < $2 \
             ORDER BY name_folded, ecosystem, namespace, version, id DESC) p \
             ORDER BY name_folded, ecosystem, namespace, version LIMIT $3",
            &[&start, &end, &limit],
        )?
        .iter()
        .map(|r| kit::decode(r.get(1), "packages", &uid(r, 0).to_string()))
        .collect()
    }

    pub(crate) fn package_records(&self, wanted: &[PackageId]) -> Result<Vec<PackageRecord>> {
        self.block_on(self.records_of(wanted))
    }

    /// Package records by id, in the order asked; an id with none is left out.
    async fn records_of(&self, wanted: &[PackageId]) -> Result<Vec<PackageRecord>> {
        let rows = self
            .rows(
                "SELECT id, record FROM packages WHERE id = ANY($1)",
                &[&ids(wanted)],
            )
            .await?;
        let by_id: HashMap<u64, &[u8]> = rows.iter().map(|r| (uid(r, 0), r.get(1))).collect();
        wanted
            .iter()
            .filter_map(|id| by_id.get(id).map(|b| (id, b)))
            .map(|(id, b)| kit::decode(b, "packages", &id.to_string()))
            .collect()
    }

    /// Package keys by id (those that exist), from what this process has
    /// read before where it can (`cache.rs`).
    pub(crate) async fn keys_of(&self, wanted: &[PackageId]) -> Result<HashMap<PackageId, String>> {
        let (mut found, missing) = self
            .immutable
            .keys
            .lock()
            .map_err(|_| poisoned())?
            .split(wanted);
        if missing.is_empty() {
            return Ok(found);
        }
        let rows = self
            .rows(
                "SELECT id, key FROM packages WHERE id = ANY($1)",
                &[&ids(&missing)],
            )
            .await?;
        let mut cache = self.immutable.keys.lock().map_err(|_| poisoned())?;
        for r in &rows {
            let (id, key): (u64, String) = (uid(r, 0), r.get(1));
            cache.insert(id, key.clone(), 1);
            found.insert(id, key);
        }
        Ok(found)
    }

    /// Interned facts by id (those that exist), as [`PgStore::keys_of`].
    pub(crate) async fn facts_of(&self, wanted: &[FactId]) -> Result<HashMap<FactId, PackageFact>> {
        let (mut found, missing) = self
            .immutable
            .facts
            .lock()
            .map_err(|_| poisoned())?
            .split(wanted);
        if missing.is_empty() {
            return Ok(found);
        }
        let rows = self
            .rows(
                "SELECT id, body FROM facts WHERE id = ANY($1)",
                &[&ids(&missing)],
            )
            .await?;
        let mut cache = self.immutable.facts.lock().map_err(|_| poisoned())?;
        for r in &rows {
            let id = uid(r, 0);
            let fact: PackageFact = kit::decode(r.get(1), "facts", &id.to_string())?;
            cache.insert(id, fact.clone(), 1);
            found.insert(id, fact);
        }
        Ok(found)
    }

    /// The rows of documents the blast radius reached (each named by an
    /// occurrence just read), as [`PgStore::keys_of`].
    pub(crate) async fn hit_rows(
        &self,
        docs: &[DocumentId],
    ) -> Result<HashMap<DocumentId, Arc<DocRows>>> {
        let (mut found, missing) = self
            .immutable
            .rows
            .lock()
            .map_err(|_| poisoned())?
            .split(docs);
        if missing.is_empty() {
            return Ok(found);
        }
        let rows = self
            .rows(
                "SELECT id, rows FROM documents WHERE id = ANY($1)",
                &[&ids(&missing)],
            )
            .await?;
        let mut cache = self.immutable.rows.lock().map_err(|_| poisoned())?;
        for r in &rows {
            let doc = uid(r, 0);
            let decoded = Arc::new(kit::decode_rows(r.get(1), doc)?);
            cache.insert(
                doc,
                decoded.clone(),
                decoded.packages.len() + decoded.edges.len(),
            );
            found.insert(doc, decoded);
        }
        Ok(found)
    }

    pub(crate) fn facts(&self, wanted: &[FactId]) -> Result<Vec<(FactId, PackageFact)>> {
        let found = self.block_on(self.facts_of(wanted))?;
        wanted
            .iter()
            .map(|id| {
                let fact = found.get(id).ok_or_else(|| missing_fact(*id))?;
                Ok((*id, fact.clone()))
            })
            .collect()
    }

    async fn rows_in(&self, document: DocumentId) -> Result<Option<DocRows>> {
        let rows = self
            .rows("SELECT rows FROM documents WHERE id = $1", &[&id(document)])
            .await?;
        rows.first()
            .map(|r| kit::decode_rows(r.get(0), document))
            .transpose()
    }

    pub(crate) fn rows_of(&self, document: DocumentId) -> Result<Option<DocRows>> {
        self.block_on(self.rows_in(document))
    }

    pub(crate) fn versions_named(
        &self,
        name: &str,
        ecosystem: Option<&str>,
    ) -> Result<Vec<PackageVersion>> {
        let records = self.named(name, ecosystem)?;
        let wanted: Vec<PackageId> = records.iter().map(|p| p.id).collect();
        let rows = self.query(
            "SELECT o.package_id, p.name FROM occurrences o JOIN documents d ON d.id = o.document_id \
             JOIN deployments p ON p.id = d.deployment_id \
             WHERE o.package_id = ANY($1) AND d.current",
            &[&ids(&wanted)],
        )?;
        let mut listing: HashMap<PackageId, (u64, Vec<String>)> = HashMap::new();
        for r in rows {
            let entry = listing.entry(uid(&r, 0)).or_default();
            entry.0 += 1;
            let deployment: String = r.get(1);
            if !entry.1.contains(&deployment) {
                entry.1.push(deployment);
            }
        }
        Ok(records
            .into_iter()
            .map(|package| {
                let (documents, mut deployments) = listing.remove(&package.id).unwrap_or_default();
                deployments.sort();
                PackageVersion {
                    package,
                    documents,
                    deployments,
                }
            })
            .collect())
    }

    /// The documents (current or not) that list each package, in id order.
    pub(crate) fn documents_listing(&self, packages: &[PackageId]) -> Result<Vec<Vec<DocumentId>>> {
        let rows = self.query(
            "SELECT package_id, document_id FROM occurrences WHERE package_id = ANY($1) \
             ORDER BY package_id, document_id",
            &[&ids(packages)],
        )?;
        let mut by_package: HashMap<PackageId, Vec<DocumentId>> = HashMap::new();
        for r in rows {
            by_package.entry(uid(&r, 0)).or_default().push(uid(&r, 1));
        }
        Ok(packages
            .iter()
            .map(|p| by_package.get(p).cloned().unwrap_or_default())
            .collect())
    }

    pub(crate) fn occurrence_of(
        &self,
        document: DocumentId,
        package: PackageId,
    ) -> Result<Option<Occurrence>> {
        self.block_on(async {
            let Some(rows) = self.rows_in(document).await? else {
                return Ok(None);
            };
            let Some(position) = rows.position(package) else {
                return Ok(None);
            };
            let row = &rows.packages[position];
            let facts = self.facts_of(&[row.fact]).await?;
            let shared = facts.get(&row.fact).ok_or_else(|| missing_fact(row.fact))?;
            Ok(Some(Occurrence {
                document,
                package,
                fact: kit::fact_with_bits(shared.clone(), row.direct, row.scope),
            }))
        })
    }

    pub(crate) fn packages_of_document(
        &self,
        document: DocumentId,
    ) -> Result<Vec<(PackageRecord, Occurrence)>> {
        self.block_on(async {
            let Some(rows) = self.rows_in(document).await? else {
                return Ok(Vec::new());
            };
            let package_ids: Vec<PackageId> = rows.packages.iter().map(|r| r.id).collect();
            let fact_ids: Vec<FactId> = rows.packages.iter().map(|r| r.fact).collect();
            let records = self.records_of(&package_ids).await?;
            let facts = self.facts_of(&fact_ids).await?;
            let by_id: HashMap<PackageId, PackageRecord> =
                records.into_iter().map(|p| (p.id, p)).collect();
            let mut out = Vec::with_capacity(rows.packages.len());
            for row in &rows.packages {
                let Some(p) = by_id.get(&row.id) else {
                    continue;
                };
                let fact = facts.get(&row.fact).ok_or_else(|| missing_fact(row.fact))?;
                out.push((
                    p.clone(),
                    Occurrence {
                        document,
                        package: row.id,
                        fact: kit::fact_with_bits(fact.clone(), row.direct, row.scope),
                    },
                ));
            }
            Ok(out)
        })
    }

    pub(crate) fn documents_of_deployment(&self, deployment: &str) -> Result<Vec<DocumentId>> {
        Ok(self
            .query(
                "SELECT d.id FROM documents d JOIN deployments p ON p.id = d.deployment_id \
                 WHERE p.name = $1 ORDER BY d.id",
                &[&deployment],
            )?
            .iter()
            .map(|r| uid(r, 0))
            .collect())
    }

    /// A hash of every table's content, for "nothing was written" checks
    /// (comparable only with another fingerprint of a PostgreSQL store).
    pub(crate) fn fingerprint(&self) -> Result<u64> {
        use sha2::Digest;
        let tables = self.content_tables()?;
        let mut hash = sha2::Sha256::new();
        for table in tables {
            let sql = format!(
                "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t"
            );
            let r = &self.query(&sql, &[])?[0];
            hash.update(table.as_bytes());
            hash.update(r.get::<_, &str>(0).as_bytes());
        }
        let digest = hash.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Ok(u64::from_le_bytes(first))
    }

    /// The store's tables (partitions counted with their parent).
    fn content_tables(&self) -> Result<Vec<String>> {
        Ok(self
            .query(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
                 AND NOT c.relispartition AND c.relname <> 'schema_migrations' ORDER BY c.relname",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    pub(crate) fn sizes(&self) -> Result<BTreeMap<String, (u64, u64)>> {
        let mut out = BTreeMap::new();
        for table in self.content_tables()? {
            // A partitioned table's own size is 0: its partitions hold it.
            let r = &self.query(
                &format!(
                    "SELECT (SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::int8 \
                     FROM pg_partition_tree('{table}')), (SELECT count(*) FROM {table})"
                ),
                &[],
            )?[0];
            let bytes = r.get::<_, i64>(0) as u64;
            let rows = r.get::<_, i64>(1) as u64;
            out.insert(table, (rows, bytes));
        }
        Ok(out)
    }
}

/// VEX statements from rows of (identifier, document, index, statement):
/// each once (a statement is filed under every id it names), in document
/// order, as on redb.
pub(crate) fn statements(rows: Vec<Row>) -> Result<Vec<VexRecord>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in rows {
        let (document, index) = (uid(&r, 1), r.get::<_, i32>(2) as u32);
        if seen.insert((document, index)) {
            let identifier: &str = r.get(0);
            out.push(VexRecord {
                document,
                index,
                statement: kit::decode(r.get(3), "vex_statements", identifier)?,
            });
        }
    }
    out.sort_by_key(|r| (r.document, r.index));
    Ok(out)
}

pub(crate) fn missing_fact(id: FactId) -> StoreError {
    StoreError::Corrupt {
        table: "facts",
        key: id.to_string(),
        message: "a document row names a fact that is not stored".into(),
    }
}

pub(crate) fn poisoned() -> StoreError {
    StoreError::Backend("the writer's connection was poisoned by a panic".into())
}
