//! Exploitation data joined to advisories by CVE alias: CISA's Known
//! Exploited Vulnerabilities catalog. A load replaces the catalog whole, in
//! one transaction, and records which version it was.

use redb::ReadableDatabase;
use serde::{Deserialize, Serialize};

use crate::tables::{ENRICHMENT_SOURCES, EPSS, KEV};
use crate::{Result, Store, decode, encode};

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    pub cve: String,
    pub vendor: String,
    pub product: String,
    pub name: String,
    /// `YYYY-MM-DD`.
    pub date_added: String,
    /// `YYYY-MM-DD`: remediation due for US federal agencies.
    pub due_date: Option<String>,
    /// `Known` or `Unknown`.
    pub ransomware: String,
}

/// A CVE's EPSS score: the probability of exploitation activity in the next
/// 30 days, and its percentile among all scored CVEs (FIRST's daily CSV).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpssScore {
    pub epss: f64,
    pub percentile: f64,
}

/// Which catalog was loaded, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichmentSource {
    /// `kev`.
    pub name: String,
    /// The catalog's own version (`catalogVersion`).
    pub version: String,
    /// The catalog's release time as it states it.
    pub released: String,
    pub entries: u64,
    /// Seconds since the epoch when it was loaded.
    pub loaded_at: u64,
    /// The file or URL it came from.
    pub origin: String,
}

impl Store {
    /// Replaces the KEV catalog with `entries`, in one transaction.
    pub fn put_kev(&self, source: &EnrichmentSource, entries: &[KevEntry]) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(KEV)?;
            table.retain(|_, _| false)?;
            let mut buf = Vec::new();
            for e in entries {
                buf.clear();
                encode(e, &mut buf);
                table.insert(e.cve.as_str(), buf.as_slice())?;
            }
            let mut sources = txn.open_table(ENRICHMENT_SOURCES)?;
            buf.clear();
            encode(source, &mut buf);
            sources.insert(source.name.as_str(), buf.as_slice())?;
        }
        txn.commit()?;
        self.bump();
        Ok(())
    }

    /// The KEV entry of a CVE, if the loaded catalog lists it.
    pub fn kev(&self, cve: &str) -> Result<Option<KevEntry>> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(KEV) {
            Ok(t) => t,
            // A store from before KEV was kept has none.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        table
            .get(cve)?
            .map(|v| decode(v.value(), "kev", cve))
            .transpose()
    }

    /// Replaces the EPSS scores with `scores`, in one transaction.
    pub fn put_epss(
        &self,
        source: &EnrichmentSource,
        scores: &[(String, EpssScore)],
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(EPSS)?;
            table.retain(|_, _| false)?;
            let mut buf = Vec::new();
            for (cve, score) in scores {
                buf.clear();
                encode(score, &mut buf);
                table.insert(cve.as_str(), buf.as_slice())?;
            }
            let mut sources = txn.open_table(ENRICHMENT_SOURCES)?;
            buf.clear();
            encode(source, &mut buf);
            sources.insert(source.name.as_str(), buf.as_slice())?;
        }
        txn.commit()?;
        self.bump();
        Ok(())
    }

    /// The EPSS score of a CVE, if the loaded scores have it.
    pub fn epss(&self, cve: &str) -> Result<Option<EpssScore>> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(EPSS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        table
            .get(cve)?
            .map(|v| decode(v.value(), "epss", cve))
            .transpose()
    }

    /// What enrichment catalog of that name was loaded, if any.
    pub fn enrichment_source(&self, name: &str) -> Result<Option<EnrichmentSource>> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(ENRICHMENT_SOURCES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        table
            .get(name)?
            .map(|v| decode(v.value(), "enrichment_sources", name))
            .transpose()
    }
}
