//! CISA's Known Exploited Vulnerabilities catalog (its JSON feed,
//! `known_exploited_vulnerabilities.json`): which CVEs are exploited in the
//! wild. Joined to matches by the advisory's CVE aliases.

use aibomdb_store::{EnrichmentSource, KevEntry, Store, StoreError};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum KevError {
    #[error("{origin}: {message}")]
    Bad { origin: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Catalog {
    catalog_version: String,
    date_released: String,
    vulnerabilities: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "cveID")]
    cve_id: String,
    #[serde(default)]
    vendor_project: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    vulnerability_name: String,
    date_added: String,
    due_date: Option<String>,
    #[serde(default)]
    known_ransomware_campaign_use: String,
}

/// Reads a catalog; errors name the origin and, for JSON, the line.
pub fn parse(origin: &str, bytes: &[u8]) -> Result<(String, String, Vec<KevEntry>), KevError> {
    let bad = |message: String| KevError::Bad {
        origin: origin.to_string(),
        message,
    };
    let catalog: Catalog = serde_json::from_slice(bytes).map_err(|e| {
        bad(format!(
            "not a KEV catalog (line {} column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    let mut entries = Vec::with_capacity(catalog.vulnerabilities.len());
    for (i, v) in catalog.vulnerabilities.into_iter().enumerate() {
        let cve = v.cve_id.trim().to_ascii_uppercase();
        if !cve.starts_with("CVE-") {
            return Err(bad(format!(
                "vulnerabilities[{i}].cveID: {:?} is not a CVE id",
                v.cve_id
            )));
        }
        entries.push(KevEntry {
            cve,
            vendor: v.vendor_project,
            product: v.product,
            name: v.vulnerability_name,
            date_added: v.date_added,
            due_date: v.due_date,
            ransomware: v.known_ransomware_campaign_use,
        });
    }
    Ok((catalog.catalog_version, catalog.date_released, entries))
}

/// Loads a catalog into the store, replacing the one before.
pub fn load(
    store: &Store,
    origin: &str,
    bytes: &[u8],
    now: u64,
) -> Result<EnrichmentSource, KevError> {
    let (version, released, entries) = parse(origin, bytes)?;
    let source = EnrichmentSource {
        name: "kev".into(),
        version,
        released,
        entries: entries.len() as u64,
        loaded_at: now,
        origin: origin.to_string(),
    };
    store.put_kev(&source, &entries)?;
    Ok(source)
}
