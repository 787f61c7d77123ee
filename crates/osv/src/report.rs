//! Match reports: per deployment (what `aibomdb match` prints) and per
//! advisory (`aibomdb query affected`).

use std::collections::{BTreeMap, HashMap};

use aibomdb_store::{
    DocumentId, DocumentRecord, DocumentRef, PackageId, PackageRecord, Store, StoreError,
};
use serde::Serialize;

use crate::record::Advisory;
use crate::severity::{Level, best_cvss, severity};
use crate::vex::{VexResolver, VexVerdict};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchRow {
    pub deployment: String,
    pub package: String,
    pub version: Option<String>,
    pub advisory: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Level,
    /// Why the severity is `unknown`, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    pub score: Option<f64>,
    /// The CVSS version of the vector that gave `score` (`3.0`, `3.1`, `4.0`).
    pub cvss_version: Option<&'static str>,
    /// The CISA KEV entry of one of the advisory's CVE aliases: exploited in
    /// the wild.
    pub kev: Option<aibomdb_store::KevEntry>,
    /// The highest EPSS score among the advisory's CVEs (id, aliases,
    /// upstream, related), when scores are loaded.
    pub epss: Option<aibomdb_store::EpssScore>,
    pub fixed: Vec<String>,
    /// `affected`, or `unsupported`/`unorderable` when the version could not be evaluated.
    pub status: String,
    pub detail: Option<String>,
    /// Matched through the source package of this binary package.
    pub via_source_of: Option<String>,
    /// The name the advisory uses for what matched (the source package's,
    /// when matched through it).
    pub matched_name: String,
    pub documents: Vec<DocumentId>,
    /// Source paths of those documents (SARIF locations).
    pub document_paths: Vec<String>,
    /// The VEX statement that covers this match, if any.
    pub vex: Option<VexVerdict>,
}

impl MatchRow {
    /// Open: affected (or not evaluable) and not suppressed by a VEX
    /// `not_affected`/`fixed` statement. Gates count only these.
    pub fn is_open(&self) -> bool {
        !self.vex.as_ref().is_some_and(VexVerdict::suppresses)
    }
}

/// The matches of every deployment, handed to `each` one deployment at a
/// time, in name order: concatenated, exactly what [`deployment_matches`]
/// gives for the whole estate, without holding it all. (At 10,000
/// deployments of 300 packages with seven advisories each, the estate's
/// rows alone outgrew 24 GB.) Deployments without current documents are
/// passed over.
pub fn each_deployment_matches<E: From<StoreError>>(
    store: &Store,
    mut each: impl FnMut(Vec<MatchRow>) -> Result<(), E>,
) -> Result<(), E> {
    // One reader for the estate: each package's matches and each
    // advisory's facts are read once, whichever deployment asks first.
    let mut reader = MatchReader::new(store);
    for deployment in store.deployments()? {
        let mut listed = Vec::new();
        for id in store.current_documents(&deployment.name)? {
            if let Some(doc) = store.document(id)?.filter(DocumentRecord::is_current) {
                let packages = store.document_package_records(doc.id)?;
                listed.push((doc, packages));
            }
        }
        if !listed.is_empty() {
            each(reader.matches_of(&listed)?)?;
        }
    }
    Ok(())
}

/// Every match of the current documents of `deployment` (all deployments when `None`).
pub fn deployment_matches(
    store: &Store,
    deployment: Option<&str>,
) -> Result<Vec<MatchRow>, StoreError> {
    let documents = match deployment {
        // One deployment: its own current documents only.
        Some(d) => {
            let mut docs = Vec::new();
            for id in store.current_documents(d)? {
                docs.extend(store.document(id)?);
            }
            docs
        }
        None => store.documents()?,
    };
    let mut listed = Vec::new();
    for doc in documents {
        if !doc.is_current() {
            continue;
        }
        let packages = store.document_package_records(doc.id)?;
        listed.push((doc, packages));
    }
    matches_of(store, &listed)
}

/// Every match of the advisories `ids` (one advisory's record ids) in current
/// documents, found through the advisory → package index and the package →
/// document index: the documents read are only those that list a matched
/// package, so the answer costs the blast radius, not the estate.
pub fn advisory_matches(store: &Store, ids: &[String]) -> Result<Vec<MatchRow>, StoreError> {
    let (packages, documents) = advisory_listing(store, ids)?;
    let listed: Vec<(DocumentRef, Vec<&PackageRecord>)> = documents
        .into_iter()
        .map(|(doc, indexes)| (doc, indexes.iter().map(|&i| &packages[i]).collect()))
        .collect();
    // Only this advisory's rows are built: the packages it names carry
    // other advisories' matches too, which would be made and thrown away.
    MatchReader::new(store).matches_among(&listed, Some(ids))
}

/// The deployments [`advisory_matches`] has rows for, sorted, without
/// building the rows: every current document listing a package matched by
/// one of `ids` makes at least one row, so its deployment is among them.
pub fn advisory_deployments(store: &Store, ids: &[String]) -> Result<Vec<String>, StoreError> {
    let (_, documents) = advisory_listing(store, ids)?;
    let mut deployments: Vec<String> = documents.into_iter().map(|(d, _)| d.deployment).collect();
    deployments.sort_unstable();
    deployments.dedup();
    Ok(deployments)
}

/// The packages matched by any of `ids`, and each current document listing
/// some of them with their indexes in that list.
#[allow(clippy::type_complexity)]
fn advisory_listing(
    store: &Store,
    ids: &[String],
) -> Result<(Vec<PackageRecord>, Vec<(DocumentRef, Vec<usize>)>), StoreError> {
    let mut matched: Vec<PackageId> = Vec::new();
    for id in ids {
        matched.extend(store.matches_for_advisory(id)?.iter().map(|m| m.package));
    }
    matched.sort_unstable();
    matched.dedup();
    // Each package record read once; documents hold indexes into them.
    // In two reads, not two per package: on a server back end each read is
    // a round trip.
    let packages: Vec<PackageRecord> = store.packages_by_ids(&matched)?;
    let listing =
        store.package_document_ids_among(&packages.iter().map(|p| p.id).collect::<Vec<_>>())?;
    let mut by_document: BTreeMap<DocumentId, Vec<usize>> = BTreeMap::new();
    for (index, documents) in listing.into_iter().enumerate() {
        for doc in documents {
            by_document.entry(doc).or_default().push(index);
        }
    }
    // Current documents only, told by their heads: no record is decoded.
    let doc_ids: Vec<DocumentId> = by_document.keys().copied().collect();
    let mut listed = Vec::with_capacity(doc_ids.len());
    for doc in store.current_document_refs_among(&doc_ids)? {
        if let Some(indexes) = by_document.remove(&doc.id) {
            listed.push((doc, indexes));
        }
    }
    Ok((packages, listed))
}

/// The matches of the given documents' packages (each document with the
/// packages it lists, as the caller already read them). VEX statements may
/// come from any document; those are read as they are needed.
pub fn matches_of(
    store: &Store,
    listed: &[(DocumentRecord, Vec<PackageRecord>)],
) -> Result<Vec<MatchRow>, StoreError> {
    MatchReader::new(store).matches_of(listed)
}

/// What a match row needs of an advisory, read once.
#[derive(Debug)]
pub struct AdvisoryFacts {
    pub kev: Option<aibomdb_store::KevEntry>,
    pub epss: Option<aibomdb_store::EpssScore>,
    pub aliases: Vec<String>,
    /// The id, then aliases and upstream identifiers: what VEX statements
    /// may name.
    pub identifiers: Vec<String>,
    pub summary: Option<String>,
    pub level: Level,
    /// Why `level` is unknown, when it is.
    pub unknown_reason: Option<String>,
    pub score: Option<f64>,
    pub cvss_version: Option<&'static str>,
}

/// What match rows need of advisories, parsed once and shared: by the
/// workers of one evaluation, and by a server across requests while the
/// advisories do not change (the owner clears it when the store changes).
#[derive(Default)]
pub struct AdvisoryCache {
    facts: std::sync::Mutex<TaggedFacts>,
}

/// The facts, and the store generation they were read at.
#[derive(Default)]
struct TaggedFacts {
    generation: Option<u64>,
    map: HashMap<String, Option<std::sync::Arc<AdvisoryFacts>>>,
}

impl AdvisoryCache {
    /// Forgets everything: what is read from now on is of `generation`.
    pub fn reset(&self, generation: u64) {
        let mut facts = self
            .facts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        facts.map.clear();
        facts.generation = Some(generation);
    }

    /// The facts of `id`. What is parsed is kept only while the cache is
    /// still of `generation`, so a reader that began before a write never
    /// puts what it read into the cache cleared after it.
    fn get(
        &self,
        store: &Store,
        id: &str,
        generation: Option<u64>,
    ) -> Result<Option<std::sync::Arc<AdvisoryFacts>>, StoreError> {
        let found = self.facts.lock().ok().and_then(|f| {
            (f.generation == generation)
                .then(|| f.map.get(id).cloned())
                .flatten()
        });
        if let Some(found) = found {
            return Ok(found);
        }
        // Parsed outside the lock: another worker may parse the same record
        // meanwhile, which costs time, never correctness.
        let parsed = store
            .advisory_json(id)?
            .and_then(|j| serde_json::from_slice::<Advisory>(&j).ok());
        // Exploitation by any CVE the record is known by, then by a CVE it
        // names as related (PyPA's Pillow record relates the libwebp CVE its
        // bundled binaries carry).
        let mut kev = None;
        let mut epss: Option<aibomdb_store::EpssScore> = None;
        if let Some(a) = &parsed {
            for cve in std::iter::once(id)
                .chain(a.aliases.iter().map(String::as_str))
                .chain(a.upstream.iter().map(String::as_str))
                .chain(a.related.iter().map(String::as_str))
                .filter(|x| x.starts_with("CVE-"))
            {
                if kev.is_none() {
                    kev = store.kev(cve)?;
                }
                if let Some(e) = store.epss(cve)?
                    && epss.is_none_or(|best| e.epss > best.epss)
                {
                    epss = Some(e);
                }
            }
        }
        let parsed = parsed.map(|a| {
            let (level, score) = severity(&a);
            let unknown_reason = crate::severity::unknown_reason(&a);
            std::sync::Arc::new(AdvisoryFacts {
                unknown_reason,
                kev,
                epss,
                identifiers: std::iter::once(id.to_string())
                    .chain(a.aliases.iter().chain(&a.upstream).cloned())
                    .collect(),
                cvss_version: best_cvss(&a).map(|(_, v)| v),
                aliases: a.aliases,
                summary: a.summary,
                level,
                score,
            })
        });
        if let Ok(mut facts) = self.facts.lock()
            && facts.generation == generation
        {
            facts.map.insert(id.to_string(), parsed.clone());
        }
        Ok(parsed)
    }
}

enum Advisories<'a> {
    Own(AdvisoryCache),
    Shared(&'a AdvisoryCache),
}

/// Reads matches for one set of documents after another, keeping what does
/// not depend on them (each advisory parsed once, VEX statements read once),
/// so that a gate over the whole estate does not parse an advisory again for
/// every deployment that matches it. Valid while the store is unchanged.
pub struct MatchReader<'a> {
    store: &'a Store,
    advisories: Advisories<'a>,
    /// The generation a shared cache is of (`None` for one of its own).
    generation: Option<u64>,
    vex: VexResolver<'a>,
    /// Matches by package, read once per reader.
    matches: HashMap<PackageId, Vec<aibomdb_store::MatchRecord>>,
}

impl<'a> MatchReader<'a> {
    pub fn new(store: &'a Store) -> Self {
        MatchReader {
            store,
            advisories: Advisories::Own(AdvisoryCache::default()),
            generation: None,
            vex: VexResolver::new(store),
            matches: HashMap::new(),
        }
    }

    /// A reader that takes advisories from (and adds them to) `cache`, which
    /// its owner reset to `generation` (the store's when reading began).
    pub fn with_cache(store: &'a Store, cache: &'a AdvisoryCache, generation: u64) -> Self {
        MatchReader {
            store,
            advisories: Advisories::Shared(cache),
            generation: Some(generation),
            vex: VexResolver::new(store),
            matches: HashMap::new(),
        }
    }

    fn facts(&self, id: &str) -> Result<Option<std::sync::Arc<AdvisoryFacts>>, StoreError> {
        match &self.advisories {
            Advisories::Own(c) => c.get(self.store, id, self.generation),
            Advisories::Shared(c) => c.get(self.store, id, self.generation),
        }
    }

    /// Reads, in one batch, the stored matches of the packages not read yet.
    fn read_matches(&mut self, ids: impl Iterator<Item = PackageId>) -> Result<(), StoreError> {
        let mut unread: Vec<PackageId> = ids.filter(|id| !self.matches.contains_key(id)).collect();
        unread.sort_unstable();
        unread.dedup();
        for (id, found) in unread.iter().zip(self.store.matches_for_packages(&unread)?) {
            self.matches.insert(*id, found);
        }
        Ok(())
    }

    /// The stored matches of each of `packages` (read once per reader), for
    /// a caller that weighs them itself rather than through [`MatchRow`]s.
    pub fn package_matches(
        &mut self,
        packages: &[PackageId],
    ) -> Result<Vec<&[aibomdb_store::MatchRecord]>, StoreError> {
        self.read_matches(packages.iter().copied())?;
        Ok(packages
            .iter()
            .map(|id| self.matches.get(id).map_or(&[][..], Vec::as_slice))
            .collect())
    }

    /// What a report shows of advisory `id` (`None` when its record is not
    /// stored or does not parse).
    pub fn advisory_facts(
        &self,
        id: &str,
    ) -> Result<Option<std::sync::Arc<AdvisoryFacts>>, StoreError> {
        self.facts(id)
    }

    /// Whether any VEX statement names the advisory known by `identifiers`.
    pub fn vex_names(&mut self, identifiers: &[String]) -> Result<bool, StoreError> {
        self.vex.is_named(identifiers)
    }

    /// The VEX statement that decides the advisory known by `identifiers`
    /// for `package` in `deployment`, as a match row would carry it.
    pub fn vex_verdict(
        &mut self,
        deployment: &str,
        package: &PackageRecord,
        identifiers: &[String],
    ) -> Result<Option<VexVerdict>, StoreError> {
        self.vex.verdict(deployment, package, identifiers)
    }

    /// As [`matches_of`], with what earlier calls read kept.
    pub fn matches_of(
        &mut self,
        listed: &[(DocumentRecord, Vec<PackageRecord>)],
    ) -> Result<Vec<MatchRow>, StoreError> {
        let refs: Vec<(DocumentRef, Vec<&PackageRecord>)> = listed
            .iter()
            .map(|(doc, packages)| {
                let doc = DocumentRef {
                    id: doc.id,
                    deployment: doc.deployment.clone(),
                    source_path: doc.source_path.clone(),
                };
                (doc, packages.iter().collect())
            })
            .collect();
        self.matches_among(&refs, None)
    }

    /// As [`MatchReader::matches_of`], for documents as the heads name them,
    /// keeping only the matches of the advisories named in `only` (ids, not
    /// aliases) when given.
    pub fn matches_among(
        &mut self,
        listed: &[(DocumentRef, Vec<&PackageRecord>)],
        only: Option<&[String]>,
    ) -> Result<Vec<MatchRow>, StoreError> {
        // The VEX resolver reads the documents it needs (those of the
        // statements, and of BOM-Link targets) itself; handing it every
        // listed document cost a copy of each, most never looked at.
        // Each package's matches read once, however many documents list it.
        self.read_matches(
            listed
                .iter()
                .flat_map(|(_, packages)| packages.iter().map(|p| p.id)),
        )?;
        // Rows in a vector, found by key through an index, sorted at the end:
        // a BTreeMap of rows this large spent its time moving them. The key
        // borrows its parts, so a document that lists an already-seen
        // (deployment, package, advisory) costs no copy.
        let mut rows: Vec<MatchRow> = Vec::new();
        let mut index: HashMap<(&str, PackageId, &str), usize> = HashMap::new();
        for (doc, packages) in listed {
            for &package in packages {
                let Some(all) = self.matches.get(&package.id) else {
                    continue;
                };
                for m in all {
                    if only.is_some_and(|ids| !ids.contains(&m.advisory)) {
                        continue;
                    }
                    let key = (doc.deployment.as_str(), package.id, m.advisory.as_str());
                    if let Some(row) = index.get(&key).map(|&i| &mut rows[i]) {
                        row.documents.push(doc.id);
                        row.document_paths.push(doc.source_path.clone());
                        continue;
                    }
                    let facts = self.facts(&m.advisory)?;
                    let (aliases, summary, level, score, cvss_version, kev, epss) =
                        match facts.as_deref() {
                            Some(f) => (
                                f.aliases.clone(),
                                f.summary.clone(),
                                (f.level, f.unknown_reason.clone()),
                                f.score,
                                f.cvss_version,
                                f.kev.clone(),
                                f.epss,
                            ),
                            None => (
                                Vec::new(),
                                None,
                                (
                                    Level::Unknown,
                                    Some(
                                        "the advisory record is not stored here, or does not parse"
                                            .to_string(),
                                    ),
                                ),
                                None,
                                None,
                                None,
                                None,
                            ),
                        };
                    let own_id = [m.advisory.clone()];
                    let identifiers = facts.as_deref().map_or(&own_id[..], |f| &f.identifiers);
                    let verdict =
                        self.vex
                            .verdict(doc.deployment.as_str(), package, identifiers)?;
                    index.insert(key, rows.len());
                    rows.push(MatchRow {
                        deployment: doc.deployment.as_str().to_string(),
                        package: package.key.clone(),
                        version: package.version.clone(),
                        advisory: m.advisory.clone(),
                        aliases,
                        summary,
                        severity: level.0,
                        unknown_reason: level.1,
                        score,
                        cvss_version,
                        kev,
                        epss,
                        fixed: m.fixed.clone(),
                        status: m.status.clone(),
                        detail: m.detail.clone(),
                        via_source_of: m.via_source_of.clone(),
                        matched_name: m.name.clone(),
                        documents: vec![doc.id],
                        document_paths: vec![doc.source_path.clone()],
                        vex: verdict,
                    });
                }
            }
        }
        rows.sort_by(|a, b| {
            (&a.deployment, &a.package, &a.advisory).cmp(&(&b.deployment, &b.package, &b.advisory))
        });
        Ok(rows)
    }
}

/// The matches as a SARIF 2.1.0 log (code-scanning dashboards read it): one
/// rule per advisory, one result per (deployment, package, advisory), located
/// at the documents that list the package.
pub fn sarif(rows: &[MatchRow]) -> serde_json::Value {
    use serde_json::json;
    let mut rules: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
    for r in rows {
        rules.entry(r.advisory.as_str()).or_insert_with(|| {
            let mut rule = json!({
                "id": r.advisory,
                "shortDescription": {"text": r.summary.clone().unwrap_or_else(|| r.advisory.clone())},
                "helpUri": format!("https://osv.dev/vulnerability/{}", r.advisory),
                "properties": {"tags": r.aliases},
            });
            if let Some(score) = r.score {
                rule["properties"]["security-severity"] = json!(format!("{score:.1}"));
            }
            rule
        });
    }
    let results: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let level = match r.severity {
                Level::Critical | Level::High => "error",
                Level::Medium | Level::Unknown => "warning",
                Level::Low | Level::None => "note",
            };
            let fixed = if r.fixed.is_empty() {
                "no fixed version".to_string()
            } else {
                format!("fixed in {}", r.fixed.join(", "))
            };
            let mut result = json!({
                "ruleId": r.advisory,
                "level": level,
                "message": {"text": format!(
                    "{} in deployment {} is {} by {} ({fixed})",
                    r.package, r.deployment, r.status, r.advisory
                )},
                "locations": r.document_paths.iter().map(|p| json!({
                    "physicalLocation": {"artifactLocation": {"uri": p}}
                })).collect::<Vec<_>>(),
                "properties": {"deployment": r.deployment, "package": r.package, "status": r.status},
            });
            if let Some(e) = &r.epss {
                result["properties"]["epss"] = json!(e.epss);
                result["properties"]["epssPercentile"] = json!(e.percentile);
            }
            if let Some(k) = &r.kev {
                result["properties"]["kev"] = json!(true);
                result["properties"]["kevDateAdded"] = json!(k.date_added);
                result["properties"]["kevCve"] = json!(k.cve);
            }
            if let Some(v) = &r.vex {
                result["properties"]["vex"] = json!(v.status.as_str());
                if v.suppresses() {
                    let why = [v.justification.as_deref(), v.detail.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ");
                    result["suppressions"] = json!([{
                        "kind": "external",
                        "status": "accepted",
                        "justification": format!("VEX {} ({}) in {}{}", v.state, v.vulnerability, v.document_path,
                            if why.is_empty() { String::new() } else { format!(": {why}") }),
                    }]);
                }
            }
            result
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "aibomdb",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
