//! Model artifacts and container images by SHA-256: what an attestation's
//! subjects bind to.

use aibomdb_graph::PackageFact;
use redb::ReadableDatabase;

use crate::tables::*;
use crate::{DocumentId, PackageRecord, RedbStore, Result, decode};

/// A node the graph holds under a SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestHit {
    pub package: PackageRecord,
    pub document: DocumentId,
    pub deployment: String,
    pub current: bool,
    /// The model file's path; `None` for an image.
    pub path: Option<String>,
}

/// The index rows one document's fact gives: (sha256, path or "").
/// A model's files with their digests; an image by the `sha256:` digest in
/// its version, or a container's stated SHA-256. An attestation's own
/// subjects are evidence about such nodes, not the nodes: not indexed.
pub(crate) fn entries(fact: &PackageFact) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if fact.attestation.is_some() {
        return out;
    }
    if let Some(model) = &fact.model {
        for a in &model.artifacts {
            if let Some(sha) = &a.sha256 {
                out.push((sha.to_ascii_lowercase(), a.path.clone()));
            }
        }
    }
    let image_digest = fact
        .key
        .as_ref()
        .and_then(|k| k.version())
        .and_then(|v| v.strip_prefix("sha256:").map(str::to_ascii_lowercase))
        .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()));
    if let Some(d) = image_digest {
        out.push((d, String::new()));
    } else if fact.kind.as_deref() == Some("container") {
        for h in fact.hashes.iter().filter(|h| h.alg == "sha256") {
            out.push((h.value.clone(), String::new()));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether a package may have digest rows: the packages a store written
/// before the index existed is searched for (`migrate.rs`).
pub(crate) fn is_digest_candidate(record: &PackageRecord) -> bool {
    record
        .version
        .as_deref()
        .is_some_and(|v| v.starts_with("sha256:"))
        || record.ecosystem == "oci"
        || record.ecosystem == "docker"
}

impl RedbStore {
    /// The model files and images the graph holds under `sha256` (hex, any
    /// case), current documents first.
    pub fn by_sha256(&self, sha256: &str) -> Result<Vec<DigestHit>> {
        let sha = sha256.trim().to_ascii_lowercase();
        let heads = self.heads()?;
        let txn = self.db.begin_read()?;
        let Some(index) = crate::read_table(&txn, DIGESTS)? else {
            return Ok(Vec::new());
        };
        let packages = txn.open_table(PACKAGES)?;
        let mut out = Vec::new();
        for entry in index.range((sha.as_str(), 0, 0)..=(sha.as_str(), u64::MAX, u64::MAX))? {
            let (k, v) = entry?;
            let (_, package, document) = k.value();
            let path = v.value();
            let Some(record) = packages.get(package)? else {
                continue;
            };
            let (deployment, current) = heads
                .get(&document)
                .map_or((String::new(), false), |(h, _)| {
                    (h.deployment.clone(), h.current)
                });
            out.push(DigestHit {
                package: decode(record.value(), "packages", &package.to_string())?,
                document,
                deployment,
                current,
                path: (!path.is_empty()).then(|| path.to_string()),
            });
        }
        out.sort_by_key(|h| (!h.current, h.document));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use aibomdb_graph::{Artifact, ModelInfo};

    use crate::RedbStore;
    use crate::test_docs::{doc, fact};

    #[test]
    fn model_files_and_images_are_found_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
        let (file, image) = ("ab".repeat(32), "cd".repeat(32));
        let mut model = fact("pkg:generic/m");
        model.model = Some(Box::new(ModelInfo {
            node: "model".into(),
            artifacts: vec![Artifact {
                path: "model.safetensors".into(),
                sha256: Some(file.to_uppercase()),
                ..Default::default()
            }],
            ..Default::default()
        }));
        let img = fact(&format!("pkg:oci/app@sha256%3A{image}"));
        // A container named by tag, found by its SHA-256 hash; its rows
        // encoded as the parser threads do, which lets the facts go.
        let container_hash = "ef".repeat(32);
        let mut container = fact("pkg:docker/app@latest");
        container.kind = Some("container".into());
        container.hashes = vec![aibomdb_graph::Hash {
            alg: "sha256".into(),
            value: container_hash.clone(),
        }];
        let mut encoded = doc("e", 2, vec![container]);
        encoded.encode_rows();
        store.ingest(encoded).unwrap();
        assert_eq!(store.by_sha256(&container_hash).unwrap().len(), 1);
        store
            .ingest(doc("d", 1, vec![model, img, fact("pkg:pypi/x@1")]))
            .unwrap();
        let hits = store.by_sha256(&file).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].package.key, "pkg:generic/m");
        assert_eq!(hits[0].path.as_deref(), Some("model.safetensors"));
        assert_eq!(hits[0].deployment, "d");
        assert!(hits[0].current);
        let hits = store.by_sha256(&image.to_uppercase()).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].path, None);
        assert!(store.by_sha256(&"12".repeat(32)).unwrap().is_empty());

        // Deleting the deployment takes its rows out of the index.
        assert!(store.delete_deployment("d").unwrap());
        assert!(store.by_sha256(&file).unwrap().is_empty());
        assert!(store.by_sha256(&image).unwrap().is_empty());
    }
}
