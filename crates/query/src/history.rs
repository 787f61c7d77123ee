//! Exposure over time across the whole estate, for the overview's chart:
//! how many (deployment, advisory) pairs were exposed at given moments, by
//! the same reading of history as [`crate::timeline`] (a document exposes its
//! deployment from its ingest, or from when the advisory became known here,
//! until the document that superseded it; a VEX statement that takes the
//! current match out ends the exposure at that statement's ingest).
//!
//! `timeline` builds every exposure with its periods and packages, reading
//! every document's packages: minutes at 10,000 deployments. This reads the
//! indexes instead (matched packages → their affected advisories, packages →
//! the documents listing them, document heads), with one set of documents
//! per advisory, and counts each pair's periods into the moments at once.

use std::collections::{BTreeSet, HashMap};

use aibomdb_osv::{Bits, DocIndex, MatchReader, MatchRow};
use aibomdb_store::{DocumentId, PackageId, Store};

use crate::Result;

/// At each moment of `points` (seconds since the epoch, any order), the
/// (deployment, advisory) pairs exposed then.
pub fn exposure_counts(store: &Store, points: &[u64]) -> Result<Vec<u64>> {
    // Every document of every deployment, current or superseded, grouped by
    // deployment: a document's index places it in its deployment's run.
    let deployments: BTreeSet<String> = store.deployments()?.into_iter().map(|d| d.name).collect();
    let mut docs = store.documents()?;
    docs.retain(|d| deployments.contains(&d.deployment));
    docs.sort_by(|a, b| a.deployment.cmp(&b.deployment).then(a.id.cmp(&b.id)));
    let ingested: HashMap<(DocumentId, &str), u64> = docs
        .iter()
        .map(|d| ((d.id, d.deployment.as_str()), d.ingested_at))
        .collect();
    // (deployment, ingested, until): until the ingest of the document that
    // superseded it, when the deployment still holds that one.
    let heads: Vec<(&str, u64, Option<u64>)> = docs
        .iter()
        .map(|d| {
            let until = d
                .superseded_by
                .and_then(|n| ingested.get(&(n, d.deployment.as_str())).copied());
            (d.deployment.as_str(), d.ingested_at, until)
        })
        .collect();
    let index = DocIndex::new(
        &docs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id, i as u32))
            .collect::<Vec<_>>(),
    );

    // Packages with an affected match, and those advisories (interned).
    let matched = store.matched_package_ids()?;
    let stored = store.matches_for_packages(&matched)?;
    let mut advisories: Vec<String> = Vec::new();
    let mut advisory_index: HashMap<String, u32> = HashMap::new();
    let mut packages: Vec<PackageId> = Vec::new();
    let mut affected: Vec<Vec<u32>> = Vec::new();
    for (&package, matches) in matched.iter().zip(&stored) {
        let mut list: Vec<u32> = Vec::new();
        for m in matches.iter().filter(|m| m.status == "affected") {
            let next = advisories.len() as u32;
            let a = *advisory_index.entry(m.advisory.clone()).or_insert_with(|| {
                advisories.push(m.advisory.clone());
                next
            });
            list.push(a);
        }
        list.sort_unstable();
        list.dedup();
        if !list.is_empty() {
            packages.push(package);
            affected.push(list);
        }
    }
    let listing = store.package_document_ids_among(&packages)?;
    let mut listed_in: Vec<Bits> = advisories.iter().map(|_| Bits::new(docs.len())).collect();
    for (documents, list) in listing.iter().zip(&affected) {
        for &doc in documents {
            if let Some(i) = index.get(doc) {
                for &a in list {
                    listed_in[a as usize].set(i);
                }
            }
        }
    }

    // The moments in order, each with where it came from.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&i| points[i]);
    let sorted: Vec<u64> = order.iter().map(|&i| points[i]).collect();
    // diff[k] - diff[k-1]: pairs exposed from sorted moment k on.
    let mut diff = vec![0i64; sorted.len() + 1];
    let mut reader = MatchReader::new(store);
    // Current match rows of a deployment, read only for an advisory some VEX
    // statement names (as `timeline` reads them).
    let mut rows: HashMap<String, Vec<MatchRow>> = HashMap::new();
    let mut periods: Vec<(u64, Option<u64>)> = Vec::new();
    for (a, docs_listing) in listed_in.iter().enumerate() {
        let id = &advisories[a];
        let known = store.advisory_seen(id)?.unwrap_or(0);
        let facts = reader.advisory_facts(id)?;
        let own = [id.clone()];
        let identifiers = facts.as_deref().map_or(&own[..], |f| &f.identifiers);
        let named = reader.vex_names(identifiers)?;
        let mut current: Option<&str> = None;
        let mut flush = |deployment: &str, periods: &mut Vec<(u64, Option<u64>)>| -> Result<()> {
            if periods.is_empty() {
                return Ok(());
            }
            let open = periods.iter().any(|p| p.1.is_none());
            let mut resolved: Option<u64> = None;
            if open && named {
                if !rows.contains_key(deployment) {
                    let found = aibomdb_osv::deployment_matches(store, Some(deployment))?;
                    rows.insert(deployment.to_string(), found);
                }
                let suppressing = rows[deployment]
                    .iter()
                    .filter(|r| r.advisory.eq_ignore_ascii_case(id))
                    .find_map(|r| r.vex.as_ref().filter(|v| v.suppresses()));
                if let Some(v) = suppressing
                    && let Some(d) = store.document(v.document)?
                {
                    resolved = Some(d.ingested_at);
                }
            }
            // The union of the periods, cut at the resolution.
            periods.sort_unstable();
            let mut merged: Vec<(u64, u64)> = Vec::new();
            for &(from, until) in periods.iter() {
                let until = until.unwrap_or(u64::MAX).min(resolved.unwrap_or(u64::MAX));
                if until <= from {
                    continue;
                }
                match merged.last_mut() {
                    Some(last) if from <= last.1 => last.1 = last.1.max(until),
                    _ => merged.push((from, until)),
                }
            }
            for (from, until) in merged {
                diff[sorted.partition_point(|&t| t < from)] += 1;
                diff[sorted.partition_point(|&t| t < until)] -= 1;
            }
            periods.clear();
            Ok(())
        };
        let mut set: Vec<usize> = Vec::new();
        Bits::each(docs_listing.0.iter().copied(), |i| set.push(i));
        for i in set {
            let (deployment, ingested_at, until) = heads[i];
            if current.is_some_and(|c| c != deployment) {
                flush(current.unwrap_or_default(), &mut periods)?;
            }
            current = Some(deployment);
            let from = ingested_at.max(known);
            if until.is_some_and(|u| u <= from) {
                continue;
            }
            periods.push((from, until));
        }
        if let Some(c) = current {
            flush(c, &mut periods)?;
        }
    }

    let mut counts = vec![0u64; points.len()];
    let mut running = 0i64;
    for (k, &i) in order.iter().enumerate() {
        running += diff[k];
        counts[i] = running.max(0) as u64;
    }
    Ok(counts)
}

/// Open exposures over time: at each midnight (UTC) of the last `days` days
/// and at `now`, how many (deployment, advisory) pairs were exposed.
pub fn exposure_history(store: &Store, days: u32, now: u64) -> Result<Vec<(u64, u64)>> {
    const DAY: u64 = 86_400;
    let today = now - now % DAY;
    let mut points: Vec<u64> = (0..u64::from(days))
        .rev()
        .map(|d| today.saturating_sub(d * DAY))
        .collect();
    points.push(now);
    points.dedup();
    let counts = exposure_counts(store, &points)?;
    Ok(points.into_iter().zip(counts).collect())
}
