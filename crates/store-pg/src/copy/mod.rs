//! `aibomdb copy` on PostgreSQL: the database's primary content as
//! [`Record`]s, read from one REPEATABLE READ snapshot in the order the redb
//! store dumps it (so that two dumps of the same content are equal), and
//! records restored into an empty database in one transaction with binary
//! `COPY`, rebuilding `occurrences`, `lineage_edges` and the advisory
//! identifier and key tables from them as ingest and a load do.
//!
//! `dump.rs` reads the records out of a snapshot; `restore.rs` writes them
//! into an empty database.

use aibomdb_store::StoreError;
use aibomdb_store::copy::{Record, Restored};

use crate::store::{Pg, PgStore, Result};
use crate::txn::{begin, lock_writers};

mod dump;
mod restore;

/// Rows fetched per round trip while dumping, and written per `COPY`
/// while restoring: bounded memory whatever the store's size.
const BATCH: usize = 5_000;

impl PgStore {
    /// See [`aibomdb_store::Backend::dump`].
    pub(crate) fn dump_records(&self, sink: &mut dyn FnMut(Record) -> Result<()>) -> Result<()> {
        // The writer's connection: a snapshot transaction on the shared
        // read connection would hold up every other reader's statements.
        let mut client = self.writer()?;
        self.block_on(async {
            let txn = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .pg()?;
            dump::dump(&txn, sink).await?;
            txn.commit().await.pg()
        })
    }

    /// See [`aibomdb_store::Backend::restore`].
    pub(crate) fn restore_records(
        &self,
        records: &mut dyn Iterator<Item = Result<Record>>,
    ) -> Result<Restored> {
        let location = self.db.location().to_string();
        let mut client = self.writer()?;
        let (restored, generation) = self.block_on(async {
            let txn = begin(&mut client).await?;
            lock_writers(&txn).await?;
            restore::refuse_unless_empty(&txn, &location).await?;
            let (restored, occurrences) = restore::restore(&txn, records).await?;
            // Every record and lookup name is new: a writer that read the
            // empty store before is told so under the lock.
            for counter in [
                aibomdb_store::ADVISORIES_VERSION,
                aibomdb_store::PACKAGE_KEYS_VERSION,
            ] {
                crate::txn::raise_counter(&txn, counter).await?;
            }
            let generation = crate::advisories::bump_generation(&txn).await?;
            txn.commit().await.pg()?;
            Ok::<_, StoreError>(((restored, occurrences), generation))
        })?;
        drop(client);
        self.committed(Some(generation));
        let (restored, occurrences) = restored;
        // A bulk write: the next `persist_heads` refreshes the statistics.
        self.written_since_analyze
            .fetch_add(occurrences, std::sync::atomic::Ordering::AcqRel);
        Ok(restored)
    }
}
