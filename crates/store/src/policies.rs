//! Gate policies kept in the store by name, so that CI, the API and the
//! dashboard evaluate the same text. The store keeps the text; checking it
//! is the policy crate's job, done before it is stored.

use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use crate::tables::POLICIES;
use crate::{RedbStore, Result, decode, encode};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    pub name: String,
    /// The TOML as given.
    pub text: String,
    /// Seconds since the epoch when it was stored.
    pub added_at: u64,
}

impl RedbStore {
    /// Stores (or replaces) the policy `name`.
    pub fn put_policy(&self, policy: &StoredPolicy) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(POLICIES)?;
            let mut buf = Vec::new();
            encode(policy, &mut buf);
            table.insert(policy.name.as_str(), buf.as_slice())?;
        }
        txn.commit()?;
        self.bump();
        Ok(())
    }

    pub fn policy(&self, name: &str) -> Result<Option<StoredPolicy>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, POLICIES)? else {
            return Ok(None);
        };
        table
            .get(name)?
            .map(|v| decode(v.value(), "policies", name))
            .transpose()
    }

    pub fn policies(&self) -> Result<Vec<StoredPolicy>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, POLICIES)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push(decode(v.value(), "policies", k.value())?);
        }
        Ok(out)
    }

    /// Removes the policy `name`; false when there was none.
    pub fn remove_policy(&self, name: &str) -> Result<bool> {
        let txn = self.db.begin_write()?;
        let removed = {
            let mut table = txn.open_table(POLICIES)?;
            table.remove(name)?.is_some()
        };
        txn.commit()?;
        if removed {
            self.bump();
        }
        Ok(removed)
    }
}
