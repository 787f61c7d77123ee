//! What people decide and record, on PostgreSQL: stored policies, releases
//! and their evidence files, observations of what runs, model approvals,
//! the KEV and EPSS catalogs, and the removal of a deployment. Each write
//! is one transaction behind the writers' lock.

use aibomdb_store::kit::{self, DocRows};
use aibomdb_store::{
    Approval, EnrichmentSource, EpssScore, KevEntry, Observation, Release, StoreError, StoredPolicy,
};
use tokio_postgres::Transaction;

use crate::advisories::bump_generation;
use crate::store::{Pg, PgStore, Result};
use crate::txn::lock_writers;

/// Which counter a write raises: the write counter (answers about the graph
/// change) or `meta.notify_generation` (only answers about notifications do:
/// targets, the delivery log).
pub(crate) enum Raises {
    Generation,
    Notifications,
}

impl PgStore {
    /// Runs `work` in a write transaction behind the writers' lock, and
    /// commits what it did (bumping the generations) when it says it wrote.
    pub(crate) fn write_txn<T>(
        &self,
        work: impl AsyncFnOnce(&Transaction<'_>) -> Result<(T, bool)>,
    ) -> Result<T> {
        self.txn_raising(Raises::Generation, work)
    }

    /// [`PgStore::write_txn`], raising the counter `raises` names.
    pub(crate) fn txn_raising<T>(
        &self,
        raises: Raises,
        work: impl AsyncFnOnce(&Transaction<'_>) -> Result<(T, bool)>,
    ) -> Result<T> {
        let mut writer = self.writer()?;
        let (value, raised) = self.block_on(async {
            let txn = crate::txn::begin(&mut writer).await?;
            lock_writers(&txn).await?;
            let (value, wrote) = work(&txn).await?;
            let mut raised = None;
            if wrote {
                raised = Some(match raises {
                    Raises::Generation => bump_generation(&txn).await?,
                    Raises::Notifications => {
                        let row = txn
                            .query_one(
                                "INSERT INTO meta (key, value) VALUES ('notify_generation', 1) \
                                 ON CONFLICT (key) DO UPDATE SET value = meta.value + 1 \
                                 RETURNING value",
                                &[],
                            )
                            .await
                            .pg()?;
                        row.get::<_, i64>(0) as u64
                    }
                });
                txn.commit().await.pg()?;
            }
            Ok::<_, StoreError>((value, raised))
        })?;
        match raises {
            Raises::Generation => self.committed(raised),
            Raises::Notifications => {
                if let Some(n) = raised {
                    self.notify_generation
                        .fetch_max(n, std::sync::atomic::Ordering::AcqRel);
                }
            }
        }
        Ok(value)
    }

    /// One statement in a write transaction: whether it touched a row.
    fn write_one(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<bool> {
        self.write_txn(async |txn| {
            let n = txn.execute(sql, params).await.pg()?;
            Ok((n > 0, n > 0))
        })
    }

    pub(crate) fn store_policy(&self, policy: &StoredPolicy) -> Result<()> {
        self.write_one(
            "INSERT INTO policies (name, policy) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET policy = EXCLUDED.policy",
            &[&policy.name, &kit::encode(policy)],
        )
        .map(|_| ())
    }

    pub(crate) fn drop_policy(&self, name: &str) -> Result<bool> {
        self.write_one("DELETE FROM policies WHERE name = $1", &[&name])
    }

    pub(crate) fn put_approval(&self, model_purl: &str, approval: &Approval) -> Result<()> {
        self.write_one(
            "INSERT INTO approvals (model_purl, sha256, approval) VALUES ($1, $2, $3) \
             ON CONFLICT (model_purl, sha256) DO UPDATE SET approval = EXCLUDED.approval",
            &[&model_purl, &approval.sha256, &kit::encode(approval)],
        )
        .map(|_| ())
    }

    pub(crate) fn store_release(
        &self,
        release: &Release,
        files: &[(String, Vec<u8>)],
    ) -> Result<Release> {
        self.write_txn(async |txn| Ok((put_release(txn, release, files).await?, true)))
    }

    pub(crate) fn evidence(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let rows = self.block_on(self.rows(
            "SELECT body FROM evidence_files WHERE sha256 = $1",
            &[&sha256],
        ))?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    pub(crate) fn append_observations(&self, batch: &[Observation]) -> Result<Vec<Observation>> {
        self.write_txn(async |txn| {
            let stored = put_observations(txn, batch).await?;
            let wrote = !stored.is_empty();
            Ok((stored, wrote))
        })
    }

    pub(crate) fn observations_of(&self, deployment: &str) -> Result<Vec<Observation>> {
        let rows = self.block_on(self.rows(
            "SELECT seq, observation FROM observations WHERE deployment = $1 ORDER BY seq",
            &[&deployment],
        ))?;
        rows.iter()
            .map(|r| kit::decode(r.get(1), "observations", &r.get::<_, i64>(0).to_string()))
            .collect()
    }

    pub(crate) fn replace_kev(
        &self,
        source: &EnrichmentSource,
        entries: &[KevEntry],
    ) -> Result<()> {
        let rows: Vec<(String, Vec<u8>)> = entries
            .iter()
            .map(|e| (e.cve.clone(), kit::encode(e)))
            .collect();
        self.write_txn(async |txn| {
            Ok((
                replace_catalog(txn, "kev", "entry", source, &rows).await?,
                true,
            ))
        })
    }

    pub(crate) fn replace_epss(
        &self,
        source: &EnrichmentSource,
        scores: &[(String, EpssScore)],
    ) -> Result<()> {
        let rows: Vec<(String, Vec<u8>)> = scores
            .iter()
            .map(|(cve, s)| (cve.clone(), kit::encode(s)))
            .collect();
        self.write_txn(async |txn| {
            Ok((
                replace_catalog(txn, "epss", "score", source, &rows).await?,
                true,
            ))
        })
    }

    /// Removes a deployment, with the events it causes: the exposures it
    /// had open end, and the verdicts its VEX statements gave elsewhere turn.
    pub(crate) fn delete(&self, name: &str) -> Result<bool> {
        use aibomdb_store::events::{self, ChangeView};
        self.write_steps(|txn| {
            let now = kit::now();
            let view = crate::events::PgView::new(self, txn);
            let evented = self.block_on(crate::events::events_wanted(self, txn))?;
            // What the deletion ends, judged before anything goes.
            let (mut ending, named) = match evented {
                true => {
                    let documents: std::collections::HashSet<u64> = self
                        .block_on(txn.query(
                            "SELECT d.id FROM documents d JOIN deployments p \
                             ON p.id = d.deployment_id WHERE p.name = $1",
                            &[&name],
                        ))
                        .pg()?
                        .iter()
                        .map(|r| r.get::<_, i64>(0) as u64)
                        .collect();
                    (
                        events::exposures_ending(&view, name, "delete", now)?,
                        view.statement_ids_of(&documents)?,
                    )
                }
                false => Default::default(),
            };
            if !self.block_on(delete_deployment(txn, name))? {
                return Ok((false, None));
            }
            // Its statements no longer cover other deployments' matches.
            if evented {
                ending.extend(self.with_primary(|before| {
                    events::VexJudge::new(before, &view).vex_events(
                        &named,
                        &std::collections::HashSet::new(),
                        "delete",
                        now,
                    )
                })?);
            }
            Ok((true, Some(ending)))
        })
    }
}

async fn put_release(
    txn: &Transaction<'_>,
    release: &Release,
    files: &[(String, Vec<u8>)],
) -> Result<Release> {
    let rows = txn
        .query(
            "SELECT name, release FROM releases WHERE deployment = $1",
            &[&release.deployment],
        )
        .await
        .pg()?;
    let mut last = 0;
    for r in &rows {
        let name: &str = r.get(0);
        if name == release.name {
            return Err(StoreError::Conflict(format!(
                "deployment {:?} already has a release named {:?}; releases are never changed",
                release.deployment, release.name
            )));
        }
        let stored: Release = kit::decode(r.get(1), "releases", name)?;
        last = last.max(stored.sequence);
    }
    let mut stored = release.clone();
    stored.sequence = last + 1;
    txn.execute(
        "INSERT INTO releases (deployment, name, release) VALUES ($1, $2, $3)",
        &[&stored.deployment, &stored.name, &kit::encode(&stored)],
    )
    .await
    .pg()?;
    for (sha, bytes) in files {
        txn.execute(
            "INSERT INTO evidence_files (sha256, body) VALUES ($1, $2) \
             ON CONFLICT (sha256) DO UPDATE SET body = EXCLUDED.body",
            &[sha, bytes],
        )
        .await
        .pg()?;
    }
    Ok(stored)
}

/// Each observation gets the next sequence number of its deployment.
async fn put_observations(
    txn: &Transaction<'_>,
    batch: &[Observation],
) -> Result<Vec<Observation>> {
    let mut next: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut stored = Vec::with_capacity(batch.len());
    for o in batch {
        let seq = match next.get(&o.deployment) {
            Some(n) => *n,
            None => {
                let r = txn
                    .query_one(
                        "SELECT coalesce(max(seq), 0) FROM observations WHERE deployment = $1",
                        &[&o.deployment],
                    )
                    .await
                    .pg()?;
                r.get::<_, i64>(0) as u64 + 1
            }
        };
        next.insert(o.deployment.clone(), seq + 1);
        let mut row = o.clone();
        row.sequence = seq;
        txn.execute(
            "INSERT INTO observations (deployment, seq, observation) VALUES ($1, $2, $3)",
            &[&row.deployment, &(seq as i64), &kit::encode(&row)],
        )
        .await
        .pg()?;
        stored.push(row);
    }
    Ok(stored)
}

/// Replaces a catalog keyed by CVE and records where it came from: readers
/// see the old catalog or the new, never a mix.
async fn replace_catalog(
    txn: &Transaction<'_>,
    table: &str,
    column: &str,
    source: &EnrichmentSource,
    rows: &[(String, Vec<u8>)],
) -> Result<()> {
    txn.execute(&format!("DELETE FROM {table}"), &[])
        .await
        .pg()?;
    // A CVE listed twice: the later row stands, as in redb.
    let mut last: std::collections::HashMap<&str, usize> = Default::default();
    for (i, (cve, _)) in rows.iter().enumerate() {
        last.insert(cve.as_str(), i);
    }
    let mut cves: Vec<&str> = Vec::with_capacity(last.len());
    let mut bodies: Vec<&[u8]> = Vec::with_capacity(last.len());
    for (i, (cve, body)) in rows.iter().enumerate() {
        if last[cve.as_str()] == i {
            cves.push(cve);
            bodies.push(body);
        }
    }
    txn.execute(
        &format!(
            "INSERT INTO {table} (cve, {column}) SELECT * FROM unnest($1::text[], $2::bytea[])"
        ),
        &[&cves, &bodies],
    )
    .await
    .pg()?;
    txn.execute(
        "INSERT INTO enrichment_sources (name, source) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source",
        &[&source.name, &kit::encode(source)],
    )
    .await
    .pg()?;
    Ok(())
}

/// Removes a deployment: its documents, their rows and indexes, its
/// releases and observations. Packages, facts and matches stay, as in redb.
async fn delete_deployment(txn: &Transaction<'_>, name: &str) -> Result<bool> {
    let Some(found) = txn
        .query_opt(
            "SELECT id FROM deployments WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await
        .pg()?
    else {
        return Ok(false);
    };
    let deployment: i32 = found.get(0);
    // What `stats` counts goes down by the rows removed.
    let (mut occurrences, mut edges) = (0i64, 0i64);
    let mut documents = Vec::new();
    for r in txn
        .query(
            "SELECT id, rows FROM documents WHERE deployment_id = $1",
            &[&deployment],
        )
        .await
        .pg()?
    {
        let id: i64 = r.get(0);
        let rows: DocRows = kit::decode_rows(r.get(1), id as u64)?;
        occurrences += rows.packages.len() as i64;
        edges += rows.edges.len() as i64;
        documents.push(id);
    }
    for sql in [
        "DELETE FROM digests WHERE document_id = ANY($1)",
        "DELETE FROM lineage_edges WHERE document_id = ANY($1)",
        "DELETE FROM vex_statements WHERE document_id = ANY($1)",
    ] {
        txn.execute(sql, &[&documents]).await.pg()?;
    }
    txn.execute(
        "DELETE FROM occurrences WHERE deployment_id = $1",
        &[&deployment],
    )
    .await
    .pg()?;
    txn.execute(
        "DELETE FROM documents WHERE deployment_id = $1",
        &[&deployment],
    )
    .await
    .pg()?;
    // Evidence files stay: another release may keep the same bytes.
    txn.execute("DELETE FROM releases WHERE deployment = $1", &[&name])
        .await
        .pg()?;
    txn.execute("DELETE FROM observations WHERE deployment = $1", &[&name])
        .await
        .pg()?;
    txn.execute("DELETE FROM deployments WHERE id = $1", &[&deployment])
        .await
        .pg()?;
    txn.execute(
        "UPDATE meta SET value = value - CASE key WHEN 'occurrence_rows' THEN $1::int8 \
         ELSE $2::int8 END WHERE key IN ('occurrence_rows', 'edge_rows')",
        &[&occurrences, &edges],
    )
    .await
    .pg()?;
    Ok(true)
}
