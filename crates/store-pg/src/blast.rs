//! The graph's walks on PostgreSQL: the blast radius and its paths, who
//! holds a digest, model lineage and approvals, and a deployment's report.

use std::collections::HashMap;

use aibomdb_graph::PackageKey;
use aibomdb_store::kit::{self, DocRows, Holder};
use aibomdb_store::{
    Approval, DeploymentHit, DeploymentReport, DigestHit, DocumentId, DocumentRecord, FactId,
    LineageEdge, PackageId, PackageRecord,
};
use tokio_postgres::Row;

use crate::read::{id, ids, missing_fact, uid};
use crate::store::{PgStore, Result};

/// A (document, package) pair to make a hit of, with what the hit shows
/// of the document.
struct HitRow {
    deployment: std::sync::Arc<str>,
    document: DocumentId,
    source_path: std::sync::Arc<str>,
    current: bool,
    subject: Option<PackageId>,
    key: String,
    package: PackageId,
}

impl PgStore {
    /// The blast radius: one hit per (document, package), ordered by
    /// deployment, document and key (redb's rank order), with the total.
    /// Who lists the packages comes from the one index of `occurrences`;
    /// each document's deployment and currency from the heads (`heads.rs`),
    /// so no hit costs a join.
    pub(crate) fn using_page(
        &self,
        keys: &[PackageKey],
        include_history: bool,
        only: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DeploymentHit>)> {
        let keys: Vec<&str> = keys.iter().map(PackageKey::as_str).collect();
        self.block_on(async {
            const LISTED: &str = "SELECT o.document_id, o.package_id, k.key FROM packages k \
                 JOIN occurrences o ON o.package_id = k.id WHERE k.key = ANY($1)";
            // Heads first: an occurrence of a document newer than the heads
            // is left out, rather than a superseded document dropped before
            // its successor's occurrences were read.
            self.catch_up_heads().await?;
            let rows = match only {
                None => self.rows(LISTED, &[&keys]).await?,
                // One partition: the deployment's.
                Some(name) => {
                    self.rows(
                        &format!(
                            "{LISTED} AND o.deployment_id = \
                             (SELECT id FROM deployments WHERE name = $2)"
                        ),
                        &[&keys, &name],
                    )
                    .await?
                }
            };
            let mut docs: Vec<DocumentId> = rows.iter().map(|r| uid(r, 0)).collect();
            docs.sort_unstable();
            docs.dedup();
            let mut heads: HashMap<DocumentId, crate::heads::Head> = HashMap::new();
            self.each_head(&docs, |doc, head| {
                if (include_history || head.current) && only.is_none_or(|d| d == &*head.deployment)
                {
                    heads.insert(doc, head.clone());
                }
            })
            .await?;
            let mut found: Vec<HitRow> = rows
                .iter()
                .filter_map(|r| {
                    let document = uid(r, 0);
                    let head = heads.get(&document)?;
                    Some(HitRow {
                        deployment: head.deployment.clone(),
                        document,
                        source_path: head.source_path.clone(),
                        current: head.current,
                        subject: head.subject,
                        key: r.get(2),
                        package: uid(r, 1),
                    })
                })
                .collect();
            found.sort_by(|a, b| {
                (&*a.deployment, a.document, &a.key).cmp(&(&*b.deployment, b.document, &b.key))
            });
            let total = found.len();
            let page: Vec<HitRow> = found.into_iter().skip(offset).take(limit).collect();
            Ok((total, self.hits(&page).await?))
        })
    }

    /// Hits from the (document, package) pairs of `rows`: what the document
    /// said of the package and the path to it come from the document's
    /// rows, as on redb.
    async fn hits(&self, rows: &[HitRow]) -> Result<Vec<DeploymentHit>> {
        let mut doc_ids: Vec<DocumentId> = rows.iter().map(|r| r.document).collect();
        doc_ids.sort_unstable();
        doc_ids.dedup();
        let doc_rows = self.hit_rows(&doc_ids).await?;
        // Per hit: the package's row and its chain from the subject.
        let mut found = Vec::with_capacity(rows.len());
        let (mut fact_ids, mut chain_ids) = (Vec::new(), Vec::new());
        for r in rows {
            let (doc, package, subject) = (r.document, r.package, r.subject);
            let Some(listing) = doc_rows.get(&doc) else {
                continue;
            };
            let Some(position) = listing.position(package) else {
                continue;
            };
            let row = &listing.packages[position];
            let chain = kit::path_to_subject(listing, position, subject);
            fact_ids.push(row.fact);
            chain_ids.extend(subject);
            chain_ids.extend(chain.iter().flatten().map(|(p, _)| *p));
            found.push((r, row, chain));
        }
        fact_ids.sort_unstable();
        fact_ids.dedup();
        chain_ids.sort_unstable();
        chain_ids.dedup();
        let facts = self.facts_of(&fact_ids).await?;
        let keys = self.keys_of(&chain_ids).await?;
        let mut out = Vec::with_capacity(found.len());
        for (r, row, chain) in found {
            let shared = facts.get(&row.fact).ok_or_else(|| missing_fact(row.fact))?;
            let fact = kit::fact_with_bits(shared.clone(), row.direct, row.scope);
            out.push(kit::hit(
                Holder {
                    deployment: &r.deployment,
                    source_path: &r.source_path,
                    current: r.current,
                    subject: r.subject,
                },
                r.document,
                &r.key,
                &fact,
                chain.as_deref(),
                |id| Ok(keys.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))),
            )?);
        }
        Ok(out)
    }

    pub(crate) fn paths_within(
        &self,
        documents: &[&DocumentRecord],
        targets: &[PackageId],
    ) -> Result<Vec<DeploymentHit>> {
        let doc_ids: Vec<DocumentId> = documents.iter().map(|d| d.id).collect();
        self.block_on(async {
            let rows = self
                .rows(
                    "SELECT p.name, d.id, d.source_path, d.current, d.subject_package, k.key, \
                     o.package_id FROM occurrences o JOIN documents d ON d.id = o.document_id \
                     JOIN deployments p ON p.id = d.deployment_id \
                     JOIN packages k ON k.id = o.package_id \
                     WHERE o.document_id = ANY($1) AND o.package_id = ANY($2)",
                    &[&ids(&doc_ids), &ids(targets)],
                )
                .await?;
            // In the order of `documents`, then of `targets`.
            let mut ordered: Vec<&Row> = rows.iter().collect();
            let doc_rank: HashMap<DocumentId, usize> =
                doc_ids.iter().enumerate().map(|(i, d)| (*d, i)).collect();
            let target_rank: HashMap<PackageId, usize> =
                targets.iter().enumerate().map(|(i, t)| (*t, i)).collect();
            ordered.sort_by_key(|r| (doc_rank[&uid(r, 1)], target_rank[&uid(r, 6)]));
            let ordered: Vec<HitRow> = ordered
                .into_iter()
                .map(|r| {
                    let (deployment, source_path): (&str, &str) = (r.get(0), r.get(2));
                    HitRow {
                        deployment: deployment.into(),
                        document: uid(r, 1),
                        source_path: source_path.into(),
                        current: r.get(3),
                        subject: r.get::<_, Option<i64>>(4).map(|s| s as u64),
                        key: r.get(5),
                        package: uid(r, 6),
                    }
                })
                .collect();
            self.hits(&ordered).await
        })
    }

    pub(crate) fn digest_hits(&self, sha256: &str) -> Result<Vec<DigestHit>> {
        let sha = sha256.trim().to_ascii_lowercase();
        let rows = self.query(
            "SELECT g.package_id, g.document_id, g.path, k.record, p.name, d.current \
             FROM digests g JOIN packages k ON k.id = g.package_id \
             LEFT JOIN documents d ON d.id = g.document_id \
             LEFT JOIN deployments p ON p.id = d.deployment_id \
             WHERE g.sha256 = $1 ORDER BY g.package_id, g.document_id",
            &[&sha],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let path: String = r.get(2);
            out.push(DigestHit {
                package: kit::decode(r.get(3), "packages", &uid(&r, 0).to_string())?,
                document: uid(&r, 1),
                deployment: r.get::<_, Option<String>>(4).unwrap_or_default(),
                current: r.get::<_, Option<bool>>(5).unwrap_or(false),
                path: (!path.is_empty()).then_some(path),
            });
        }
        out.sort_by_key(|h| (!h.current, h.document));
        Ok(out)
    }

    pub(crate) fn model_node_records(&self, node: &str) -> Result<Vec<PackageRecord>> {
        self.query(
            "SELECT k.id, k.record FROM model_nodes m JOIN packages k ON k.id = m.package_id \
             WHERE m.node = $1 ORDER BY m.package_id",
            &[&node],
        )?
        .iter()
        .map(|r| kit::decode(r.get(1), "packages", &uid(r, 0).to_string()))
        .collect()
    }

    /// Lineage edges out of `package` (`forwards`) or into it, in current
    /// documents.
    pub(crate) fn lineage(&self, package: PackageId, forwards: bool) -> Result<Vec<LineageEdge>> {
        self.block_on(async {
            let sql = if forwards {
                "SELECT o.document_id, d.rows, NULL::bigint FROM occurrences o \
                 JOIN documents d ON d.id = o.document_id \
                 WHERE o.package_id = $1 AND d.current ORDER BY o.document_id"
            } else {
                "SELECT e.document_id, d.rows, e.from_package FROM lineage_edges e \
                 JOIN documents d ON d.id = e.document_id \
                 WHERE e.to_package = $1 AND d.current ORDER BY e.from_package, e.document_id"
            };
            let rows = self.rows(sql, &[&id(package)]).await?;
            let mut out = Vec::new();
            for r in rows {
                let doc = uid(&r, 0);
                let doc_rows = kit::decode_rows(r.get(1), doc)?;
                if forwards {
                    out.extend(kit::lineage_out(&doc_rows, package, doc));
                } else {
                    let from = r.get::<_, i64>(2) as u64;
                    out.extend(kit::lineage_in(&doc_rows, from, package, doc));
                }
            }
            Ok(out)
        })
    }

    pub(crate) fn approvals_of(&self, model_purl: &str) -> Result<Vec<Approval>> {
        self.query(
            "SELECT sha256, approval FROM approvals WHERE model_purl = $1 ORDER BY sha256",
            &[&model_purl],
        )?
        .iter()
        .map(|r| kit::decode(r.get(1), "approvals", r.get::<_, &str>(0)))
        .collect()
    }

    pub(crate) fn report(&self, name: &str) -> Result<Option<DeploymentReport>> {
        self.block_on(async {
            let rows = self
                .rows(
                    "SELECT d.id, d.record, d.rows FROM documents d \
                     JOIN deployments p ON p.id = d.deployment_id WHERE p.name = $1 ORDER BY d.id",
                    &[&name],
                )
                .await?;
            if rows.is_empty()
                && self
                    .rows("SELECT 1 FROM deployments WHERE name = $1", &[&name])
                    .await?
                    .is_empty()
            {
                return Ok(None);
            }
            let mut documents: Vec<DocumentRecord> = Vec::with_capacity(rows.len());
            let mut current: Vec<(DocumentRecord, DocRows)> = Vec::new();
            for r in &rows {
                let doc = uid(r, 0);
                let record: DocumentRecord = kit::decode(r.get(1), "documents", &doc.to_string())?;
                documents.push(record.clone());
                if record.is_current() {
                    current.push((record, kit::decode_rows(r.get(2), doc)?));
                }
            }
            let mut package_ids: Vec<PackageId> = Vec::new();
            let mut fact_ids: Vec<FactId> = Vec::new();
            for (_, doc_rows) in &current {
                package_ids.extend(doc_rows.packages.iter().map(|p| p.id));
                fact_ids.extend(doc_rows.packages.iter().map(|p| p.fact));
            }
            package_ids.sort_unstable();
            package_ids.dedup();
            fact_ids.sort_unstable();
            fact_ids.dedup();
            let keys = self.keys_of(&package_ids).await?;
            let facts = self.facts_of(&fact_ids).await?;
            let mut views = Vec::with_capacity(current.len());
            for (record, doc_rows) in current {
                views.push(kit::document_view(
                    record,
                    &doc_rows,
                    |row| {
                        let shared = facts.get(&row.fact).ok_or_else(|| missing_fact(row.fact))?;
                        Ok(kit::fact_with_bits(shared.clone(), row.direct, row.scope))
                    },
                    |id| Ok(keys.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))),
                )?);
            }
            Ok(Some(kit::report(name, &documents, &views)))
        })
    }
}
