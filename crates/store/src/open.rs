//! Opening a store file: refusing what is not one, creating the tables of a
//! new store, and checking the layout version of an existing one.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable};

use crate::migrate::{self, Migration};
use crate::tables::*;
use crate::{CACHE_BYTES, RedbStore, Result, SCHEMA_VERSION, StoreError};

/// redb's file signature (`redb::tree_store::page_store::header::MAGICNUMBER`,
/// private there): its first nine bytes.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// Refuses a path that cannot be a store before redb touches it: a directory,
/// a missing folder, or a non-empty file that is not a redb file (an SBOM
/// given as `--db`, told by its signature from a damaged store, never written).
fn not_a_store(path: &Path) -> Result<()> {
    use std::io::Read;
    let refuse = |message: &str| {
        Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            message: message.to_string(),
        })
    };
    if path.is_dir() {
        return refuse("it is a directory");
    }
    if let Some(folder) = path.parent()
        && !folder.as_os_str().is_empty()
        && !folder.is_dir()
    {
        return refuse("its folder does not exist");
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        // Absent (created next) or unreadable (redb reports why).
        return Ok(());
    };
    let mut head = Vec::with_capacity(REDB_MAGIC.len());
    let read = file
        .by_ref()
        .take(REDB_MAGIC.len() as u64)
        .read_to_end(&mut head);
    match read {
        Ok(0) => Ok(()),
        Ok(_) if head == REDB_MAGIC => Ok(()),
        Ok(_) => refuse("it does not start with redb's file signature"),
        Err(_) => Ok(()),
    }
}

/// redb's own page cache defaults to 1 GiB, which alone would take a server
/// past its memory budget; the OS page cache still holds the file, so a
/// smaller cache costs a copy per miss, not a disk read.
fn open_db(path: &Path) -> Result<redb::Database> {
    redb::Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: path.to_path_buf(),
            },
            redb::DatabaseError::UpgradeRequired(v) => StoreError::NotAStore {
                path: path.to_path_buf(),
                message: format!("redb file format {v}, older than this build reads"),
            },
            other => StoreError::Open {
                path: path.to_path_buf(),
                message: other.to_string(),
            },
        })
}

impl RedbStore {
    /// Opens the store at `path`, creating it (and its tables) if needed. A
    /// store of an earlier layout is migrated first (see `migrate.rs`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        not_a_store(&path)?;
        // The layout is read without opening the file for writing, which
        // would rewrite its header before the copy below is made. A file
        // that needs recovery cannot be opened read-only: redb repairs it
        // when it is opened for writing, and its layout is read then.
        let read_only = match redb::ReadOnlyDatabase::open(&path) {
            Ok(db) => migrate::layout_of(&db)?,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::InUse { path });
            }
            Err(_) => None,
        };
        let plan = match read_only {
            Some(found) if found != SCHEMA_VERSION => Some(migrate::plan(&path, found)?),
            _ => None,
        };
        // The file as it was stays beside the migrated one.
        if let Some(plan) = &plan {
            std::fs::copy(&path, &plan.backup).map_err(|e| StoreError::Open {
                path: path.clone(),
                message: format!(
                    "keeping a copy at {} before migrating layout {}: {e}",
                    plan.backup.display(),
                    plan.from
                ),
            })?;
        }
        let db = open_db(&path)?;
        let plan = match (plan, read_only) {
            (Some(plan), _) => Some(plan),
            // Repaired on this open: its layout is known only now, and the
            // copy is of the repaired file.
            (None, None) => match migrate::layout_of(&db)? {
                Some(found) if found != SCHEMA_VERSION => {
                    let plan = migrate::plan(&path, found)?;
                    std::fs::copy(&path, &plan.backup).map_err(|e| StoreError::Open {
                        path: path.clone(),
                        message: format!("keeping a copy at {}: {e}", plan.backup.display()),
                    })?;
                    Some(plan)
                }
                _ => None,
            },
            (None, Some(_)) => None,
        };
        if let Some(plan) = &plan {
            let txn = db.begin_write()?;
            migrate::run(&txn, plan.from)?;
            txn.commit()?;
            tracing::info!(
                from = plan.from,
                to = SCHEMA_VERSION,
                backup = %plan.backup.display(),
                "store migrated"
            );
        }
        let migration = plan;
        let store = RedbStore {
            db,
            path,
            generation: std::sync::atomic::AtomicU64::new(0),
            heads: std::sync::Mutex::new(None),
            listeners: std::sync::atomic::AtomicUsize::new(0),
            notify_generation: std::sync::atomic::AtomicU64::new(0),
            event_bell: (std::sync::Mutex::new(0), std::sync::Condvar::new()),
            write_cache: std::sync::Mutex::new(Default::default()),
            migration,
        };
        store.init()?;
        Ok(store)
    }

    /// What opening the store at `path` would migrate, without writing to
    /// it: `None` when it is of the current layout (or new).
    pub fn pending_migration(path: impl AsRef<Path>) -> Result<Option<Migration>> {
        let path = path.as_ref();
        not_a_store(path)?;
        if !path.exists() {
            return Ok(None);
        }
        // Read-only: redb rewrites the header of a file it opens for writing.
        let db = redb::ReadOnlyDatabase::open(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: path.to_path_buf(),
            },
            other => StoreError::Open {
                path: path.to_path_buf(),
                message: other.to_string(),
            },
        })?;
        match migrate::layout_of(&db)? {
            Some(found) if found != SCHEMA_VERSION => Ok(Some(migrate::plan(path, found)?)),
            _ => Ok(None),
        }
    }

    /// The migration this handle ran when it opened the store, if any.
    pub fn migration(&self) -> Option<&Migration> {
        self.migration.as_ref()
    }

    fn init(&self) -> Result<()> {
        // Opening an existing store must not write to it: a store that only
        // serves reads stays byte-for-byte as it was.
        {
            let read = self.db.begin_read()?;
            let meta = match read.open_table(META) {
                Ok(t) => Some(t),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(meta) = meta {
                let found = meta.get("schema_version")?.map(|v| v.value());
                if let Some(found) = found {
                    if found != SCHEMA_VERSION {
                        return Err(StoreError::Schema {
                            path: self.path.clone(),
                            found,
                            supported: SCHEMA_VERSION,
                        });
                    }
                    if found == SCHEMA_VERSION {
                        return Ok(());
                    }
                }
            }
        }
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value());
            match found {
                Some(v) if v != SCHEMA_VERSION => {
                    return Err(StoreError::Schema {
                        path: self.path.clone(),
                        found: v,
                        supported: SCHEMA_VERSION,
                    });
                }
                Some(_) => {}
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
            }
            txn.open_table(PACKAGES)?;
            txn.open_table(PACKAGE_BY_KEY)?;
            txn.open_table(PACKAGE_BY_NAME)?;
            txn.open_table(DOCUMENTS)?;
            txn.open_table(DOCUMENT_BY_HASH)?;
            txn.open_table(DEPLOYMENTS)?;
            txn.open_table(DEPLOYMENT_DOCUMENTS)?;
            txn.open_table(DOCUMENT_ROWS)?;
            txn.open_table(FACTS)?;
            txn.open_table(FACT_BY_HASH)?;
            txn.open_table(POSTINGS)?;
            txn.open_table(EDGES_REVERSE)?;
            txn.open_table(ADVISORIES)?;
            txn.open_table(ADVISORY_JSON)?;
            txn.open_table(ADVISORY_IDENTIFIERS)?;
            txn.open_table(ADVISORY_KEYS)?;
            txn.open_table(PACKAGE_KEYS)?;
            txn.open_table(MATCHES)?;
            txn.open_table(MATCHES_BY_ADVISORY)?;
            txn.open_table(VEX_STATEMENTS)?;
            txn.open_table(DOCUMENT_BY_SERIAL)?;
            txn.open_table(DOCUMENT_HEADS)?;
            txn.open_table(MODEL_NODES)?;
            txn.open_table(APPROVALS)?;
            txn.open_table(POLICIES)?;
            txn.open_table(DIGESTS)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Gives the file's free pages back (a copy-on-write store keeps the
    /// pages its past transactions freed). Needs the only handle to the
    /// store; returns whether anything was compacted.
    pub fn compact(&mut self) -> Result<bool> {
        self.db
            .compact()
            .map_err(|e| StoreError::Backend(format!("compaction: {e}")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
