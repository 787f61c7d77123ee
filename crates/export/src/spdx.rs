//! SPDX 2.3 JSON: the deployment as the described package, one package per
//! component with checksums and purl/CPE external references, and
//! DESCRIBES / DEPENDS_ON / CONTAINS relationships (lineage as DESCENDANT_OF
//! and, for datasets, OTHER with a comment).

use std::collections::BTreeMap;

use aibomdb_graph::EdgeKind;
use serde_json::{Value, json};

use crate::Options;
use crate::inventory::{Inventory, spdx_expression};

/// SPDX ids allow letters, digits, `.` and `-` only.
fn spdx_id(n: usize) -> String {
    format!("SPDXRef-Package-{n}")
}

fn checksum_alg(alg: &str) -> Option<&'static str> {
    crate::inventory::hash_names(alg).map(|(_, spdx)| spdx)
}

pub(crate) fn document(inv: &Inventory, opts: &Options) -> Value {
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Deployment",
        "name": inv.deployment,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "APPLICATION",
    })];
    // Licence names the SPDX list does not know become LicenseRefs, declared once.
    let mut extracted: BTreeMap<String, String> = BTreeMap::new();
    for (n, c) in inv.components.values().enumerate() {
        let id = spdx_id(n + 1);
        ids.insert(&c.key, id.clone());
        let name = match (&c.namespace, c.ecosystem.as_str()) {
            (Some(ns), "npm" | "huggingface" | "maven") => format!("{ns}/{}", c.name),
            _ => c.name.clone(),
        };
        let mut p = json!({
            "SPDXID": id,
            "name": name,
            "downloadLocation": match &c.source {
                Some(s) if s.starts_with("git+") || crate::cyclonedx::is_file_url(s) => s.clone(),
                _ => "NOASSERTION".to_string(),
            },
            "filesAnalyzed": false,
        });
        if let Some(v) = &c.version {
            p["versionInfo"] = json!(v);
        }
        if let Some(s) = &c.supplier {
            p["supplier"] = json!(format!("Organization: {}", s.replace(['(', ')'], "")));
        }
        if let Some(creator) = &c.creator
            && let Some(name) = &creator.name
        {
            let email = creator.emails.first().map(String::as_str).unwrap_or("");
            p["originator"] = json!(format!(
                "Organization: {} ({})",
                name.replace(['(', ')'], ""),
                email.replace(['(', ')'], "")
            ));
        }
        if let Some(f) = &c.filename {
            p["packageFileName"] = json!(f);
        }
        let checksums: Vec<Value> = c
            .hashes
            .iter()
            .filter_map(|(alg, value)| {
                checksum_alg(alg).map(|a| json!({"algorithm": a, "checksumValue": value}))
            })
            .collect();
        if !checksums.is_empty() {
            p["checksums"] = Value::Array(checksums);
        }
        let declared: Vec<String> = c
            .licenses
            .iter()
            .map(|l| spdx_expression(l).unwrap_or_else(|| licence_ref(l, &mut extracted)))
            .collect();
        p["licenseDeclared"] = json!(match declared.len() {
            0 => "NOASSERTION".to_string(),
            1 => declared[0].clone(),
            _ => declared
                .iter()
                .map(|d| format!("({d})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        });
        let concluded: Vec<String> = c
            .licenses_concluded
            .iter()
            .map(|l| spdx_expression(l).unwrap_or_else(|| licence_ref(l, &mut extracted)))
            .collect();
        p["licenseConcluded"] = json!(match concluded.len() {
            0 => "NOASSERTION".to_string(),
            1 => concluded[0].clone(),
            _ => concluded
                .iter()
                .map(|d| format!("({d})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        });
        p["copyrightText"] = json!("NOASSERTION");
        let mut refs = vec![json!({
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": c.key,
        })];
        for cpe in &c.cpes {
            refs.push(json!({
                "referenceCategory": "SECURITY",
                "referenceType": if cpe.starts_with("cpe:2.3:") { "cpe23Type" } else { "cpe22Type" },
                "referenceLocator": cpe,
            }));
        }
        p["externalRefs"] = Value::Array(refs);
        p["primaryPackagePurpose"] = json!(match (
            c.model.as_ref().map(|m| m.node.as_str()),
            c.kind.as_deref()
        ) {
            (Some("dataset"), _) | (_, Some("data")) => "OTHER",
            (Some(_), _) | (_, Some("machine-learning-model")) => "OTHER",
            (_, Some("application")) => "APPLICATION",
            (_, Some("operating-system")) => "OPERATING-SYSTEM",
            (_, Some("container")) => "CONTAINER",
            (_, Some("framework")) => "FRAMEWORK",
            _ => "LIBRARY",
        });
        if let Some(m) = &c.model {
            p["comment"] = json!(format!(
                "{} ({})",
                if m.node == "dataset" {
                    "dataset"
                } else {
                    "machine-learning model"
                },
                m.kind.as_deref().unwrap_or("kind not stated")
            ));
        }
        packages.push(p);
    }
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Deployment",
    })];
    for root in &inv.roots {
        if let Some(id) = ids.get(root.as_str()) {
            relationships.push(json!({
                "spdxElementId": "SPDXRef-Deployment",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": id,
            }));
        }
    }
    for (from, to, kind) in &inv.edges {
        let (Some(f), Some(t)) = (ids.get(from.as_str()), ids.get(to.as_str())) else {
            continue;
        };
        let mut r = json!({"spdxElementId": f, "relatedSpdxElement": t});
        match kind {
            EdgeKind::DependsOn => r["relationshipType"] = json!("DEPENDS_ON"),
            EdgeKind::Contains => r["relationshipType"] = json!("CONTAINS"),
            EdgeKind::TrainedOn | EdgeKind::EvaluatedOn => {
                r["relationshipType"] = json!("OTHER");
                r["comment"] = json!(kind.as_str());
            }
            k => {
                r["relationshipType"] = json!("DESCENDANT_OF");
                r["comment"] = json!(k.as_str());
            }
        }
        relationships.push(r);
    }
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("aibomdb deployment {}", inv.deployment),
        "documentNamespace": format!("https://aibomdb.invalid/spdx/{}/{}", url_part(&inv.deployment), inv.serial.trim_start_matches("urn:uuid:")),
        "creationInfo": {
            "created": opts.timestamp,
            "creators": creators(opts),
        },
    });
    // A `LicenseRef-` a source document defined must be defined here too;
    // its text is not kept in the graph, and the entry says so.
    for p in &packages {
        for field in ["licenseDeclared", "licenseConcluded"] {
            let expression = p[field].as_str().unwrap_or("");
            for token in expression.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
                if token.starts_with("LicenseRef-") && !extracted.contains_key(token) {
                    extracted.insert(
                        token.to_string(),
                        "NOASSERTION (defined by the source document; its text is not kept)".into(),
                    );
                }
            }
        }
    }
    doc["packages"] = Value::Array(packages);
    doc["relationships"] = Value::Array(relationships);
    if !extracted.is_empty() {
        doc["hasExtractedLicensingInfos"] = extracted
            .into_iter()
            .map(|(id, text)| json!({"licenseId": id, "extractedText": text, "name": text}))
            .collect();
    }
    doc
}

fn creators(opts: &Options) -> Vec<String> {
    let mut out = vec![format!("Tool: aibomdb-{}", env!("CARGO_PKG_VERSION"))];
    if let Some(a) = &opts.author {
        let contact = opts
            .creator_email
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        out.push(format!("Organization: {a}{contact}"));
    }
    out
}

fn url_part(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A `LicenseRef-` for a licence the SPDX list does not know, its text kept
/// among the extracted licensing infos.
fn licence_ref(licence: &str, extracted: &mut BTreeMap<String, String>) -> String {
    let id = format!(
        "LicenseRef-{}",
        licence
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() || ch == '.' {
                ch
            } else {
                '-'
            })
            .collect::<String>()
    );
    extracted.insert(id.clone(), licence.to_string());
    id
}
