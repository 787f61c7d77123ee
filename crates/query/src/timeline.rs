//! Exposure timelines: for each (deployment, advisory), when the deployment
//! became exposed and when that ended, read from history — the documents a
//! deployment held over time (each current from its ingest until the one that
//! superseded it), the time this store first knew the advisory, and the VEX
//! statements that now take a match out. This is the evidence the CRA's
//! reporting duties ask for: when it was known, what was affected, and when
//! it was fixed.

use std::collections::BTreeMap;

use aibomdb_store::{DocumentRecord, Store};
use serde::Serialize;

use crate::Result;

/// One period during which a document of the deployment listed an affected
/// package while the advisory was known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// Seconds since the epoch.
    pub from: u64,
    /// `None`: still current.
    pub until: Option<u64>,
    /// The document that listed it, and the affected packages it listed.
    pub document: u64,
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exposure {
    pub deployment: String,
    pub advisory: String,
    /// The earliest moment of exposure: a document listing an affected
    /// package was current and the advisory was known here.
    pub exposed_from: u64,
    /// When the last period ended; `None` while still exposed.
    pub resolved_at: Option<u64>,
    /// What ended it: a newer document without the package, or a VEX
    /// statement that takes the match out now.
    pub resolved_by: Option<String>,
    /// Seconds exposed up to `now` (or to the resolution).
    pub seconds_exposed: u64,
    pub periods: Vec<Period>,
}

impl Exposure {
    /// Whether the deployment was exposed at `at` (seconds since the epoch).
    pub fn exposed_at(&self, at: u64) -> bool {
        self.periods
            .iter()
            .any(|p| p.from <= at && p.until.is_none_or(|u| at < u))
    }
}

/// The exposures of `deployment` (all deployments when `None`), to
/// `advisory` (every advisory when `None`), as of `now`.
pub fn timeline(
    store: &Store,
    deployment: Option<&str>,
    advisory: Option<&str>,
    now: u64,
) -> Result<Vec<Exposure>> {
    let deployments: Vec<String> = match deployment {
        Some(d) => {
            if !store.has_deployment(d)? {
                return Err(crate::QueryError::BadInput(format!(
                    "no deployment named {d:?}"
                )));
            }
            vec![d.to_string()]
        }
        None => store.deployments()?.into_iter().map(|d| d.name).collect(),
    };
    let wanted = advisory.map(|a| a.to_ascii_uppercase());
    let mut reader = aibomdb_osv::MatchReader::new(store);
    let mut out = Vec::new();
    for name in deployments {
        let mut docs: BTreeMap<u64, DocumentRecord> = BTreeMap::new();
        for id in store.deployment_documents(&name)? {
            if let Some(d) = store.document(id)? {
                docs.insert(id, d);
            }
        }
        // (advisory) → periods
        let mut by_advisory: BTreeMap<String, Vec<Period>> = BTreeMap::new();
        let mut seen_at: BTreeMap<String, u64> = BTreeMap::new();
        for doc in docs.values() {
            let until = doc
                .superseded_by
                .and_then(|n| docs.get(&n))
                .map(|n| n.ingested_at);
            let packages = store.document_package_records(doc.id)?;
            let ids: Vec<_> = packages.iter().map(|p| p.id).collect();
            let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (p, matches) in packages.iter().zip(store.matches_for_packages(&ids)?) {
                for m in matches {
                    if m.status != "affected" {
                        continue;
                    }
                    if wanted
                        .as_ref()
                        .is_some_and(|w| &m.advisory.to_ascii_uppercase() != w)
                    {
                        continue;
                    }
                    found.entry(m.advisory).or_default().push(p.key.clone());
                }
            }
            for (adv, mut keys) in found {
                let known = match seen_at.get(&adv) {
                    Some(t) => *t,
                    None => {
                        let t = store.advisory_seen(&adv)?.unwrap_or(0);
                        seen_at.insert(adv.clone(), t);
                        t
                    }
                };
                let from = doc.ingested_at.max(known);
                if until.is_some_and(|u| u <= from) {
                    continue;
                }
                keys.sort();
                keys.dedup();
                by_advisory.entry(adv).or_default().push(Period {
                    from,
                    until,
                    document: doc.id,
                    packages: keys,
                });
            }
        }
        // The deployment's current matches with their VEX verdicts, read once
        // and only when an exposure is still open.
        let mut current: Option<Vec<aibomdb_osv::MatchRow>> = None;
        for (adv, mut periods) in by_advisory {
            periods.sort_by_key(|p| p.from);
            let exposed_from = periods[0].from;
            let open = periods.iter().any(|p| p.until.is_none());
            let mut resolved_at = if open {
                None
            } else {
                periods.iter().filter_map(|p| p.until).max()
            };
            let mut resolved_by = resolved_at.map(|_| {
                "a newer document of the deployment no longer lists an affected version".to_string()
            });
            // A VEX statement that takes the current match out ends it too
            // (looked for only when some statement names the advisory: the
            // deployment's rows are not built for nothing).
            let named = {
                let facts = reader.advisory_facts(&adv)?;
                let own = [adv.clone()];
                reader.vex_names(facts.as_deref().map_or(&own[..], |f| &f.identifiers))?
            };
            if open && named {
                if current.is_none() {
                    current = Some(aibomdb_osv::deployment_matches(store, Some(&name))?);
                }
                let rows = current.as_deref().unwrap_or_default();
                let suppressed = rows
                    .iter()
                    .filter(|r| r.advisory.eq_ignore_ascii_case(&adv))
                    .filter_map(|r| r.vex.as_ref().filter(|v| v.suppresses()))
                    .next()
                    .cloned();
                if let Some(v) = suppressed
                    && let Some(d) = store.document(v.document)?
                {
                    resolved_at = Some(d.ingested_at);
                    resolved_by = Some(format!(
                        "VEX {} in {} ({})",
                        v.state,
                        d.source_path,
                        v.status.as_str()
                    ));
                }
            }
            let end = resolved_at.unwrap_or(now);
            // Documents current side by side overlap: count the union.
            let mut seconds_exposed = 0;
            let mut reach = 0;
            for p in &periods {
                let until = p.until.unwrap_or(end).min(end);
                let from = p.from.max(reach);
                if until > from {
                    seconds_exposed += until - from;
                }
                reach = reach.max(until);
            }
            out.push(Exposure {
                deployment: name.clone(),
                advisory: adv,
                exposed_from,
                resolved_at,
                resolved_by,
                seconds_exposed,
                periods,
            });
        }
    }
    Ok(out)
}
