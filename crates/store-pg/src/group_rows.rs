//! A document group's rows, a statement per table: documents and occurrences
//! by binary `COPY`; then lineage, model nodes, digests, lookup names,
//! matches and VEX statements; supersession, deployment records and the
//! `meta` counters.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use aibomdb_store::kit::{self, DocRows};
use aibomdb_store::{DeploymentRecord, DocumentId, DocumentRecord, LookupName};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::read::{id, ids};
use crate::store::{Pg, Result};
use crate::txn::{copy_in, raise_counter};

/// One row of `occurrences`.
pub(crate) struct OccurrenceRow {
    pub(crate) deployment: i32,
    pub(crate) document: i64,
    pub(crate) package: i64,
}

/// What the group writes besides documents and occurrences, collected in
/// memory and written a statement per table.
#[derive(Default)]
pub(crate) struct Rows {
    pub(crate) documents: Vec<(DocumentRecord, i32, DocRows, [u8; 32])>,
    pub(crate) occurrences: Vec<OccurrenceRow>,
    pub(crate) lineage: HashSet<(i64, i64, i64)>,
    pub(crate) model_nodes: HashSet<(String, i64)>,
    pub(crate) digests: HashMap<(String, i64, i64), String>,
    pub(crate) lookup: HashMap<(String, i64), Vec<LookupName>>,
    pub(crate) matches: HashMap<(i64, String), Vec<u8>>,
    pub(crate) vex: HashMap<(String, i64, i32), Vec<u8>>,
    /// Documents stored before this group that a group document supersedes:
    /// (old id, new id).
    pub(crate) superseded: Vec<(DocumentId, DocumentId)>,
    pub(crate) occurrence_count: i64,
    pub(crate) edge_count: i64,
}

/// Who lists what, typed rather than boxed (millions of rows in a bulk
/// ingest), in index order: the unique index's pages are then filled one
/// after another rather than at random.
async fn copy_occurrences(txn: &Transaction<'_>, rows: &[OccurrenceRow]) -> Result<()> {
    let mut order: Vec<&OccurrenceRow> = rows.iter().collect();
    order.sort_unstable_by_key(|o| (o.package, o.document, o.deployment));
    let sink = txn
        .copy_in("COPY occurrences (deployment_id, document_id, package_id) FROM STDIN BINARY")
        .await
        .pg()?;
    let writer = BinaryCopyInWriter::new(sink, &[Type::INT4, Type::INT8, Type::INT8]);
    let mut writer = std::pin::pin!(writer);
    for o in order {
        writer
            .as_mut()
            .write(&[&o.deployment, &o.document, &o.package])
            .await
            .pg()?;
    }
    writer.finish().await.pg()?;
    Ok(())
}

pub(crate) async fn write_rows(
    txn: &Transaction<'_>,
    rows: &Rows,
    deployments: &HashMap<String, (i32, DeploymentRecord)>,
    first_new_package: u64,
) -> Result<()> {
    copy_in(
        txn,
        "COPY documents (id, deployment_id, current, subject_package, source_path, sha256, \
         serial_norm, record, rows) FROM STDIN BINARY",
        &[
            Type::INT8,
            Type::INT4,
            Type::BOOL,
            Type::INT8,
            Type::TEXT,
            Type::BYTEA,
            Type::TEXT,
            Type::BYTEA,
            Type::BYTEA,
        ],
        rows.documents
            .iter()
            .map(|(record, deployment, doc_rows, sha)| {
                let serial = record
                    .serial
                    .as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .map(aibomdb_graph::normalise_serial);
                let row: Vec<Box<dyn ToSql + Sync + Send>> = vec![
                    Box::new(id(record.id)),
                    Box::new(*deployment),
                    Box::new(record.is_current()),
                    Box::new(record.subject_package.map(id)),
                    Box::new(record.source_path.clone()),
                    Box::new(sha.to_vec()),
                    Box::new(serial),
                    Box::new(kit::encode(record)),
                    Box::new(doc_rows.encode()),
                ];
                row
            }),
    )
    .await?;
    copy_occurrences(txn, &rows.occurrences).await?;

    if !rows.lineage.is_empty() {
        let (to, (from, doc)): (Vec<i64>, (Vec<i64>, Vec<i64>)) =
            rows.lineage.iter().map(|&(t, f, d)| (t, (f, d))).unzip();
        txn.execute(
            "INSERT INTO lineage_edges (to_package, from_package, document_id) \
             SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[]) ON CONFLICT DO NOTHING",
            &[&to, &from, &doc],
        )
        .await
        .pg()?;
    }
    if !rows.model_nodes.is_empty() {
        let (node, package): (Vec<&str>, Vec<i64>) = rows
            .model_nodes
            .iter()
            .map(|(n, p)| (n.as_str(), *p))
            .unzip();
        txn.execute(
            "INSERT INTO model_nodes (node, package_id) SELECT * FROM unnest($1::text[], $2::int8[]) \
             ON CONFLICT DO NOTHING",
            &[&node, &package],
        )
        .await
        .pg()?;
    }
    if !rows.digests.is_empty() {
        let mut sha = Vec::new();
        let mut package = Vec::new();
        let mut doc = Vec::new();
        let mut path = Vec::new();
        for ((s, p, d), file) in &rows.digests {
            sha.push(s.as_str());
            package.push(*p);
            doc.push(*d);
            path.push(file.as_str());
        }
        txn.execute(
            "INSERT INTO digests (sha256, package_id, document_id, path) \
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[]) \
             ON CONFLICT (sha256, package_id, document_id) DO UPDATE SET path = EXCLUDED.path",
            &[&sha, &package, &doc, &path],
        )
        .await
        .pg()?;
    }
    if !rows.lookup.is_empty() {
        write_lookup_names(txn, &rows.lookup, first_new_package).await?;
    }
    if !rows.matches.is_empty() {
        let mut package = Vec::new();
        let mut advisory = Vec::new();
        let mut record = Vec::new();
        for ((p, a), r) in &rows.matches {
            package.push(*p);
            advisory.push(a.as_str());
            record.push(r.as_slice());
        }
        crate::advisories::upsert_matches(txn, &package, &advisory, &record).await?;
    }
    if !rows.vex.is_empty() {
        let mut identifier = Vec::new();
        let mut doc = Vec::new();
        let mut index = Vec::new();
        let mut body = Vec::new();
        for ((i, d, x), b) in &rows.vex {
            identifier.push(i.as_str());
            doc.push(*d);
            index.push(*x);
            body.push(b.as_slice());
        }
        txn.execute(
            "INSERT INTO vex_statements (identifier, document_id, idx, statement) \
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int4[], $4::bytea[])",
            &[&identifier, &doc, &index, &body],
        )
        .await
        .pg()?;
    }

    // Documents stored before the group that it supersedes.
    if !rows.superseded.is_empty() {
        let old: Vec<DocumentId> = rows.superseded.iter().map(|(o, _)| *o).collect();
        let mut ids_out = Vec::new();
        let mut records = Vec::new();
        for r in txn
            .query(
                "SELECT id, record FROM documents WHERE id = ANY($1)",
                &[&ids(&old)],
            )
            .await
            .pg()?
        {
            let doc = r.get::<_, i64>(0) as u64;
            let mut record: DocumentRecord = kit::decode(r.get(1), "documents", &doc.to_string())?;
            record.superseded_by = rows
                .superseded
                .iter()
                .rev()
                .find(|(o, _)| *o == doc)
                .map(|(_, new)| *new);
            ids_out.push(id(doc));
            records.push(kit::encode(&record));
        }
        txn.execute(
            "UPDATE documents d SET record = u.record, current = false \
             FROM unnest($1::int8[], $2::bytea[]) u(id, record) WHERE d.id = u.id",
            &[&ids_out, &records],
        )
        .await
        .pg()?;
    }
    let mut deployment_ids = Vec::new();
    let mut records = Vec::new();
    for (deployment_id, record) in deployments.values() {
        deployment_ids.push(*deployment_id);
        records.push(kit::encode(record));
    }
    txn.execute(
        "UPDATE deployments d SET record = u.record \
         FROM unnest($1::int4[], $2::bytea[]) u(id, record) WHERE d.id = u.id",
        &[&deployment_ids, &records],
    )
    .await
    .pg()?;
    txn.execute(
        "UPDATE meta SET value = value + CASE key WHEN 'occurrence_rows' THEN $1::int8 \
         ELSE $2::int8 END WHERE key IN ('occurrence_rows', 'edge_rows')",
        &[&rows.occurrence_count, &rows.edge_count],
    )
    .await
    .pg()?;
    Ok(())
}

/// Merges the names advisories know packages by into what is stored, and
/// raises [`aibomdb_store::PACKAGE_KEYS_VERSION`] when a package stored
/// before this group (below `first_new_package`) gains one: a load that read
/// its candidates earlier reads that key again under the writers' lock.
async fn write_lookup_names(
    txn: &Transaction<'_>,
    lookup: &HashMap<(String, i64), Vec<LookupName>>,
    first_new_package: u64,
) -> Result<()> {
    let (keys, packages): (Vec<&str>, Vec<i64>) =
        lookup.keys().map(|(k, p)| (k.as_str(), *p)).unzip();
    let mut merged: HashMap<(String, i64), Vec<LookupName>> = HashMap::default();
    for r in txn
        .query(
            "SELECT lookup_key, package_id, names FROM package_keys \
             WHERE (lookup_key, package_id) IN (SELECT * FROM unnest($1::text[], $2::int8[]))",
            &[&keys, &packages],
        )
        .await
        .pg()?
    {
        let key: String = r.get(0);
        let names: Vec<LookupName> = kit::decode(r.get(2), "package_keys", &key)?;
        merged.insert((key, r.get(1)), names);
    }
    let mut out_keys = Vec::new();
    let mut out_packages = Vec::new();
    let mut out_names = Vec::new();
    let mut older_gained_keys = false;
    for ((key, package), names) in lookup {
        let list = merged.entry((key.clone(), *package)).or_default();
        for name in names {
            if !list.contains(name) {
                older_gained_keys |= (*package as u64) < first_new_package;
                list.push(name.clone());
            }
        }
        out_keys.push(key.as_str());
        out_packages.push(*package);
        out_names.push(kit::encode(&*list));
    }
    txn.execute(
        "INSERT INTO package_keys (lookup_key, package_id, names) \
         SELECT * FROM unnest($1::text[], $2::int8[], $3::bytea[]) \
         ON CONFLICT (lookup_key, package_id) DO UPDATE SET names = EXCLUDED.names",
        &[&out_keys, &out_packages, &out_names],
    )
    .await
    .pg()?;
    if older_gained_keys {
        raise_counter(txn, aibomdb_store::PACKAGE_KEYS_VERSION).await?;
    }
    Ok(())
}
