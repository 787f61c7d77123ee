//! Documents written from the graph. Today: a deployment as CycloneDX 1.6
//! JSON (what the dashboard's download button serves). The compliance export
//! (BSI TR-03183-2 fields, SPDX 2.3, VEX, completeness report) builds on this.

use std::collections::{BTreeMap, BTreeSet};

use aibomdb_store::{Store, StoreError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no deployment named {0:?}")]
    NoDeployment(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The deployment's current documents merged into one CycloneDX 1.6 BOM:
/// one component per package (purl, version, hashes, licences, supplier as
/// the documents state them), the documents' dependency edges, and the
/// deployment itself as `metadata.component`.
pub fn cyclonedx_1_6(
    store: &Store,
    deployment: &str,
    timestamp: &str,
) -> Result<Value, ExportError> {
    let docs: Vec<_> = store
        .documents()?
        .into_iter()
        .filter(|d| d.deployment == deployment && d.is_current())
        .collect();
    if docs.is_empty() && store.deployment_report(deployment)?.is_none() {
        return Err(ExportError::NoDeployment(deployment.to_string()));
    }
    let root_ref = format!("deployment:{deployment}");
    let mut components: BTreeMap<String, Value> = BTreeMap::new();
    let mut depends: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut keys: BTreeMap<u64, String> = BTreeMap::new();
    let mut identity = Sha256::new();
    identity.update(deployment.as_bytes());
    for doc in &docs {
        identity.update(doc.sha256.as_bytes());
        for (package, occurrence) in store.document_packages(doc.id)? {
            keys.insert(package.id, package.key.clone());
            let fact = occurrence.fact;
            let entry = components.entry(package.key.clone()).or_insert_with(|| {
                let mut c = json!({
                    "type": component_type(fact.kind.as_deref()),
                    "bom-ref": package.key,
                    "name": match &package.namespace {
                        Some(ns) if package.ecosystem == "maven" => package.name.clone(),
                        Some(ns) if package.ecosystem == "npm" => format!("{ns}/{}", package.name),
                        _ => package.name.clone(),
                    },
                    "purl": package.key,
                });
                if let (Some(ns), "maven") = (&package.namespace, package.ecosystem.as_str()) {
                    c["group"] = json!(ns);
                }
                if let Some(v) = &package.version {
                    c["version"] = json!(v);
                }
                c
            });
            merge_fact(entry, &fact);
        }
        if let Some(subject) = doc.subject_package.and_then(|id| keys.get(&id).cloned()) {
            depends.entry(root_ref.clone()).or_default().insert(subject);
        }
        for (from, to, _) in store.document_edges(doc.id)? {
            if let (Some(f), Some(t)) = (keys.get(&from), keys.get(&to)) {
                depends.entry(f.clone()).or_default().insert(t.clone());
            }
        }
    }
    let digest = identity.finalize();
    let mut dependencies: Vec<Value> = vec![json!({
        "ref": root_ref,
        "dependsOn": depends.remove(&root_ref).unwrap_or_default(),
    })];
    for key in components.keys() {
        dependencies.push(json!({
            "ref": key,
            "dependsOn": depends.remove(key).unwrap_or_default(),
        }));
    }
    Ok(json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", uuid_from(&digest)),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{
                "type": "application",
                "name": "aibomdb",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "application",
                "bom-ref": root_ref,
                "name": deployment,
            },
        },
        "components": components.into_values().collect::<Vec<_>>(),
        "dependencies": dependencies,
    }))
}

fn merge_fact(c: &mut Value, fact: &aibomdb_graph::PackageFact) {
    let mut hashes: Vec<Value> = c["hashes"].as_array().cloned().unwrap_or_default();
    for h in &fact.hashes {
        let Some(alg) = cyclonedx_alg(&h.alg) else {
            continue;
        };
        let entry = json!({"alg": alg, "content": h.value});
        if !hashes.contains(&entry) {
            hashes.push(entry);
        }
    }
    if !hashes.is_empty() {
        c["hashes"] = Value::Array(hashes);
    }
    if c.get("licenses").is_none() && !fact.licenses.is_empty() {
        // One expression keeps the document valid whatever the mix of ids and names.
        let expression = if fact.licenses.len() == 1 {
            fact.licenses[0].clone()
        } else {
            fact.licenses
                .iter()
                .map(|l| format!("({l})"))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        c["licenses"] = json!([{"expression": expression}]);
    }
    if c.get("supplier").is_none()
        && let Some(s) = &fact.supplier
    {
        c["supplier"] = json!({"name": s});
    }
}

fn component_type(kind: Option<&str>) -> &'static str {
    match kind {
        Some("application") => "application",
        Some("framework") => "framework",
        Some("container") => "container",
        Some("operating-system") => "operating-system",
        Some("firmware") => "firmware",
        Some("device") => "device",
        Some("machine-learning-model") => "machine-learning-model",
        Some("data") => "data",
        Some("platform") => "platform",
        _ => "library",
    }
}

fn cyclonedx_alg(alg: &str) -> Option<&'static str> {
    Some(match alg {
        "md5" => "MD5",
        "sha1" => "SHA-1",
        "sha256" => "SHA-256",
        "sha384" => "SHA-384",
        "sha512" => "SHA-512",
        "sha3-256" => "SHA3-256",
        "sha3-384" => "SHA3-384",
        "sha3-512" => "SHA3-512",
        "blake2b-256" => "BLAKE2b-256",
        "blake2b-384" => "BLAKE2b-384",
        "blake2b-512" => "BLAKE2b-512",
        "blake3" => "BLAKE3",
        _ => return None,
    })
}

/// A version-4-shaped UUID from a digest: the same deployment content gets the
/// same serial number.
fn uuid_from(d: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
