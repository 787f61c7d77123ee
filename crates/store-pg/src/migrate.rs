//! The schema's versioned migrations: SQL files in `migrations/`, embedded in
//! the binary, applied in order in one transaction under an advisory lock
//! (two processes that migrate at once apply each file once), and recorded in
//! `schema_migrations` with their SHA-256, so that a database migrated by a
//! build whose files differ is refused rather than silently trusted.

use aibomdb_store::StoreError;
use sha2::{Digest, Sha256};

use crate::{Database, backend};

/// One migration file.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// Hex SHA-256 of the file as embedded.
    pub fn sha256(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Every migration this build knows, in order. A released file never
/// changes: a change is a new file.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "graph",
        sql: include_str!("../migrations/0001_graph.sql"),
    },
    Migration {
        version: 2,
        name: "copy",
        sql: include_str!("../migrations/0002_copy.sql"),
    },
    Migration {
        version: 3,
        name: "occurrences_by_4",
        sql: include_str!("../migrations/0003_occurrences_by_4.sql"),
    },
];

/// A migration the database records as applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: i32,
    pub name: String,
    /// RFC 3339, UTC.
    pub applied_at: String,
}

/// What the database has, and what this build would apply to it.
pub struct Status {
    pub applied: Vec<Applied>,
    pub pending: Vec<&'static Migration>,
}

/// Taken for the length of a migrating transaction ("aibom" in ASCII).
const MIGRATION_LOCK: i64 = 0x61_6962_6f6d;

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version int PRIMARY KEY,
    name text NOT NULL,
    sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())";

const READ_LEDGER: &str = "SELECT version, name, sha256,
    to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
    FROM schema_migrations ORDER BY version";

type Ledger = Vec<(Applied, String)>;

impl Database {
    /// What is applied and what is pending; writes nothing.
    pub fn status(&self) -> Result<Status, StoreError> {
        let ledger = self.rt().block_on(async {
            let exists: bool = self
                .client
                .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
                .await
                .map_err(backend)?
                .get(0);
            if !exists {
                return Ok(Vec::new());
            }
            read_ledger(&self.client).await
        })?;
        self.status_of(ledger)
    }

    /// Applies every pending migration in one transaction; returns them.
    /// Nothing is applied when any recorded migration disagrees with this
    /// build's files.
    pub fn migrate(&mut self) -> Result<Vec<&'static Migration>, StoreError> {
        let Database {
            rt,
            client,
            location,
            ..
        } = self;
        let Some(rt) = rt.as_ref() else {
            unreachable!("the runtime is taken only when the database is dropped")
        };
        let ledger = rt.block_on(async {
            let txn = client.transaction().await.map_err(backend)?;
            txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(backend)?;
            txn.batch_execute(CREATE_LEDGER).await.map_err(backend)?;
            let ledger = read_ledger(&txn).await?;
            verify(&ledger, location)?;
            let done: Vec<i32> = ledger.iter().map(|(a, _)| a.version).collect();
            for m in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
                txn.batch_execute(m.sql).await.map_err(|e| {
                    StoreError::Backend(format!(
                        "migration {:04}_{}: {}",
                        m.version,
                        m.name,
                        backend(e)
                    ))
                })?;
                txn.execute(
                    "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
                    &[&m.version, &m.name, &m.sha256()],
                )
                .await
                .map_err(backend)?;
            }
            txn.commit().await.map_err(backend)?;
            Ok::<_, StoreError>(ledger)
        })?;
        let done: Vec<i32> = ledger.iter().map(|(a, _)| a.version).collect();
        Ok(MIGRATIONS
            .iter()
            .filter(|m| !done.contains(&m.version))
            .collect())
    }

    fn status_of(&self, ledger: Ledger) -> Result<Status, StoreError> {
        verify(&ledger, &self.location)?;
        let pending = MIGRATIONS
            .iter()
            .filter(|m| !ledger.iter().any(|(a, _)| a.version == m.version))
            .collect();
        Ok(Status {
            applied: ledger.into_iter().map(|(a, _)| a).collect(),
            pending,
        })
    }
}

async fn read_ledger(client: &impl tokio_postgres::GenericClient) -> Result<Ledger, StoreError> {
    Ok(client
        .query(READ_LEDGER, &[])
        .await
        .map_err(backend)?
        .iter()
        .map(|row| {
            (
                Applied {
                    version: row.get(0),
                    name: row.get(1),
                    applied_at: row.get(3),
                },
                row.get(2),
            )
        })
        .collect())
}

/// Every recorded migration must be one of this build's, with the same
/// checksum: a database from a newer build, or one whose files were edited
/// after they were applied, is refused.
fn verify(ledger: &Ledger, location: &str) -> Result<(), StoreError> {
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    for (applied, sha256) in ledger {
        let Some(known) = MIGRATIONS.iter().find(|m| m.version == applied.version) else {
            return Err(StoreError::Schema {
                path: location.into(),
                found: applied.version.max(0) as u64,
                supported: newest.max(0) as u64,
            });
        };
        if known.sha256() != *sha256 {
            return Err(StoreError::Corrupt {
                table: "schema_migrations",
                key: format!("{:04}_{}", applied.version, applied.name),
                message: format!(
                    "applied with SHA-256 {sha256}, but this build's file has {}: the migration was changed after it was applied",
                    known.sha256()
                ),
            });
        }
    }
    Ok(())
}
