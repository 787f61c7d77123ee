//! What a blast-radius answer needs of each document it ranks (deployment,
//! whether current, subject, path), kept in memory by a serving process as
//! the redb store keeps its heads: a hit then costs a lookup here, not a
//! join per hit in the database (992 hits took 5 ms more that way at
//! 10,000 deployments).
//!
//! The cache is brought up to date when the write counter has moved: the
//! documents written since (ids are handed out in commit order under the
//! writers' lock, so they are those above the highest id held), and the
//! currency of the documents of their deployments (a new document
//! supersedes an older one of its own deployment only). A deleted
//! deployment's documents stay behind, harmless: no occurrence names them
//! any more. A process that does not follow the counter (a one-shot
//! command) reads the heads of the documents it needs instead.

use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aibomdb_store::{DocumentId, PackageId};

use crate::read::{id, ids};
use crate::store::{PgStore, Result};

/// One document as a hit shows it.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) deployment: Arc<str>,
    pub(crate) current: bool,
    pub(crate) subject: Option<PackageId>,
    pub(crate) source_path: Arc<str>,
}

/// The heads a serving process holds, as of a write counter.
#[derive(Default)]
pub(crate) struct Heads {
    generation: Option<u64>,
    /// The highest document id held.
    max_id: DocumentId,
    docs: FxHashMap<DocumentId, Head>,
}

const SELECT: &str = "SELECT d.id, d.deployment_id, p.name, d.current, d.subject_package, \
                      d.source_path FROM documents d JOIN deployments p ON p.id = d.deployment_id";

fn head_of(r: &tokio_postgres::Row) -> (DocumentId, i32, Head) {
    let name: &str = r.get(2);
    let path: &str = r.get(5);
    (
        r.get::<_, i64>(0) as u64,
        r.get(1),
        Head {
            deployment: name.into(),
            current: r.get(3),
            subject: r.get::<_, Option<i64>>(4).map(|s| s as u64),
            source_path: path.into(),
        },
    )
}

impl PgStore {
    /// Brings the cached heads up to the write counter, when this process
    /// keeps them: a reader that then reads occurrences sees no document
    /// the heads are older than (one newer is simply not among them).
    pub(crate) async fn catch_up_heads(&self) -> Result<()> {
        if self.following.load(Ordering::Acquire) {
            self.each_head(&[], |_, _| {}).await?;
        }
        Ok(())
    }

    /// Calls `each` with the head of every document of `docs` that exists,
    /// in the order of `docs`: from the cache when this process follows the
    /// write counter, else from the database.
    pub(crate) async fn each_head(
        &self,
        docs: &[DocumentId],
        mut each: impl FnMut(DocumentId, &Head),
    ) -> Result<()> {
        if !self.following.load(Ordering::Acquire) {
            let rows = self
                .rows(&format!("{SELECT} WHERE d.id = ANY($1)"), &[&ids(docs)])
                .await?;
            let found: HashMap<DocumentId, Head> = rows
                .iter()
                .map(head_of)
                .map(|(doc, _, head)| (doc, head))
                .collect();
            for doc in docs {
                if let Some(head) = found.get(doc) {
                    each(*doc, head);
                }
            }
            return Ok(());
        }
        let mut heads = self.heads.lock().await;
        let now = self.generation.load(Ordering::Acquire);
        if heads.generation != Some(now) {
            self.catch_up(&mut heads).await?;
            heads.generation = Some(now);
        }
        for doc in docs {
            if let Some(head) = heads.docs.get(doc) {
                each(*doc, head);
            }
        }
        Ok(())
    }

    /// Reads what was written since the cache was last brought up to date,
    /// and changes the cache only once every read has succeeded: a read
    /// that fails half-way leaves it as it was, to be caught up next time.
    async fn catch_up(&self, heads: &mut Heads) -> Result<()> {
        let fresh = self
            .rows(
                &format!("{SELECT} WHERE d.id > $1 ORDER BY d.id"),
                &[&id(heads.max_id)],
            )
            .await?;
        if fresh.is_empty() && heads.generation.is_some() {
            // A write that added no document (advisories, a deletion,
            // a policy) changes no head that a hit can reach.
            return Ok(());
        }
        let first_load = heads.generation.is_none();
        let mut touched: HashSet<i32> = HashSet::new();
        let mut added = Vec::with_capacity(fresh.len());
        for r in &fresh {
            let (doc, deployment, head) = head_of(r);
            touched.insert(deployment);
            added.push((doc, head));
        }
        // The documents the new ones may have superseded.
        let mut currency = Vec::new();
        if !first_load && !touched.is_empty() {
            let touched: Vec<i32> = touched.into_iter().collect();
            for r in self
                .rows(
                    "SELECT id, current FROM documents WHERE deployment_id = ANY($1)",
                    &[&touched],
                )
                .await?
            {
                currency.push((r.get::<_, i64>(0) as u64, r.get::<_, bool>(1)));
            }
        }
        for (doc, head) in added {
            heads.max_id = heads.max_id.max(doc);
            heads.docs.insert(doc, head);
        }
        for (doc, current) in currency {
            if let Some(head) = heads.docs.get_mut(&doc) {
                head.current = current;
            }
        }
        Ok(())
    }
}
