//! Exploitation data joined to advisories by CVE alias: CISA's Known
//! Exploited Vulnerabilities catalog and FIRST's EPSS scores. A load
//! replaces a catalog whole, in one transaction, and records which version
//! it was.

use redb::{ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::tables::{ENRICHMENT_SOURCES, EPSS, KEV};
use crate::{RedbStore, Result, decode, encode};

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

impl RedbStore {
    /// Replaces the KEV catalog with `entries`, in one transaction.
    pub fn put_kev(&self, source: &EnrichmentSource, entries: &[KevEntry]) -> Result<()> {
        self.replace_catalog(KEV, source, entries.iter().map(|e| (e.cve.as_str(), e)))
    }

    /// The KEV entry of a CVE, if the loaded catalog lists it.
    pub fn kev(&self, cve: &str) -> Result<Option<KevEntry>> {
        self.catalog_entry(KEV, "kev", cve)
    }

    /// Replaces the EPSS scores with `scores`, in one transaction.
    pub fn put_epss(
        &self,
        source: &EnrichmentSource,
        scores: &[(String, EpssScore)],
    ) -> Result<()> {
        self.replace_catalog(EPSS, source, scores.iter().map(|(c, s)| (c.as_str(), s)))
    }

    /// The EPSS score of a CVE, if the loaded scores have it.
    pub fn epss(&self, cve: &str) -> Result<Option<EpssScore>> {
        self.catalog_entry(EPSS, "epss", cve)
    }

    /// Replaces a catalog keyed by CVE, and records where it came from, in
    /// one transaction: readers see the old catalog or the new, never a mix.
    fn replace_catalog<'a, T: serde::Serialize + 'a>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        source: &EnrichmentSource,
        rows: impl Iterator<Item = (&'a str, &'a T)>,
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(table)?;
            table.retain(|_, _| false)?;
            let mut buf = Vec::new();
            for (cve, row) in rows {
                buf.clear();
                encode(row, &mut buf);
                table.insert(cve, buf.as_slice())?;
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

    /// One CVE's row of a catalog; none in a store from before the catalog was kept.
    fn catalog_entry<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        name: &'static str,
        cve: &str,
    ) -> Result<Option<T>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, table)? else {
            return Ok(None);
        };
        table
            .get(cve)?
            .map(|v| decode(v.value(), name, cve))
            .transpose()
    }

    /// What enrichment catalog of that name was loaded, if any.
    pub fn enrichment_source(&self, name: &str) -> Result<Option<EnrichmentSource>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, ENRICHMENT_SOURCES)? else {
            return Ok(None);
        };
        table
            .get(name)?
            .map(|v| decode(v.value(), "enrichment_sources", name))
            .transpose()
    }
}
