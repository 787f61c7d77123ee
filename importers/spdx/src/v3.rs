//! SPDX 3.0.x JSON-LD.

use std::collections::HashMap;

use aibomdb_graph::json::parse;
use aibomdb_graph::{
    DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, Hash, ImportError, PackageFact, Party,
    Scope, Subject, Tool, doubt_flags, key_for, upstream_source,
};

mod wire {
    use aibomdb_graph::json::null_default;
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(crate) struct Document {
        #[serde(rename = "@context")]
        pub(crate) context: Option<serde_json::Value>,
        #[serde(rename = "@graph", default, deserialize_with = "null_default")]
        pub(crate) graph: Vec<Element>,
    }

    /// Every element type in one lenient shape; which fields matter depends on `type`.
    #[derive(Deserialize)]
    pub(crate) struct Element {
        #[serde(rename = "type")]
        pub(crate) ty: Option<String>,
        #[serde(rename = "spdxId")]
        pub(crate) spdx_id: Option<String>,
        #[serde(rename = "@id")]
        pub(crate) at_id: Option<String>,
        pub(crate) name: Option<String>,
        #[serde(rename = "creationInfo")]
        pub(crate) creation_info: Option<serde_json::Value>,
        #[serde(rename = "specVersion")]
        pub(crate) spec_version: Option<String>,
        pub(crate) created: Option<String>,
        #[serde(rename = "createdUsing", default, deserialize_with = "null_default")]
        pub(crate) created_using: Vec<String>,
        #[serde(rename = "rootElement", default, deserialize_with = "null_default")]
        pub(crate) root_element: Vec<String>,
        #[serde(rename = "software_packageVersion")]
        pub(crate) package_version: Option<String>,
        #[serde(rename = "software_packageUrl")]
        pub(crate) package_url: Option<String>,
        #[serde(rename = "software_primaryPurpose")]
        pub(crate) primary_purpose: Option<String>,
        #[serde(rename = "suppliedBy")]
        pub(crate) supplied_by: Option<String>,
        #[serde(rename = "originatedBy", default, deserialize_with = "null_default")]
        pub(crate) originated_by: Vec<String>,
        #[serde(
            rename = "externalIdentifier",
            default,
            deserialize_with = "null_default"
        )]
        pub(crate) external_identifier: Vec<ExternalIdentifier>,
        #[serde(rename = "verifiedUsing", default, deserialize_with = "null_default")]
        pub(crate) verified_using: Vec<IntegrityMethod>,
        pub(crate) from: Option<String>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) to: Vec<String>,
        #[serde(rename = "relationshipType")]
        pub(crate) relationship_type: Option<String>,
        pub(crate) scope: Option<String>,
        #[serde(rename = "simplelicensing_licenseExpression")]
        pub(crate) license_expression: Option<String>,
    }

    #[derive(Deserialize)]
    pub(crate) struct ExternalIdentifier {
        #[serde(rename = "externalIdentifierType")]
        pub(crate) ty: Option<String>,
        pub(crate) identifier: Option<String>,
    }

    #[derive(Deserialize)]
    pub(crate) struct IntegrityMethod {
        pub(crate) algorithm: Option<String>,
        #[serde(rename = "hashValue")]
        pub(crate) hash_value: Option<String>,
    }
}

use wire as v3;

/// An SPDX 3 agent with the email addresses and URLs its identifiers give.
fn v3_party(agent: &v3::Element) -> Party {
    let of = |ty: &str| -> Vec<String> {
        agent
            .external_identifier
            .iter()
            .filter(|x| x.ty.as_deref() == Some(ty))
            .filter_map(|x| x.identifier.clone())
            .collect()
    };
    Party {
        name: agent.name.clone(),
        emails: of("email"),
        urls: of("urlScheme"),
    }
}

/// Element types read as packages. AI and dataset packages are software
/// packages in SPDX 3; the lineage importer adds what is particular to them.
fn v3_package_kind(ty: &str) -> Option<&'static str> {
    match ty {
        "software_Package" => Some("library"),
        "ai_AIPackage" => Some("machine-learning-model"),
        "dataset_DatasetPackage" => Some("data"),
        _ => None,
    }
}

/// Reads one SPDX 3.0.x JSON-LD document.
pub fn import_v3(bytes: &[u8]) -> Result<DocumentFacts, ImportError> {
    let doc: v3::Document = parse(bytes)?;
    let context_ok = doc
        .context
        .as_ref()
        .is_some_and(|c| c.to_string().contains("spdx.org/rdf/3"));
    if !context_ok {
        return Err(ImportError::WrongFormat {
            expected: "SPDX 3 JSON-LD",
            message: "`@context` does not name the SPDX 3 context".into(),
        });
    }
    let id_of = |e: &v3::Element| e.spdx_id.clone().or_else(|| e.at_id.clone());
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let elements: HashMap<String, &v3::Element> = doc
        .graph
        .iter()
        .filter_map(|e| Some((id_of(e)?, e)))
        .collect();

    // The spec version lives in CreationInfo, inline or referenced by blank-node id.
    let creation = doc
        .graph
        .iter()
        .find(|e| e.ty.as_deref() == Some("CreationInfo"));
    let spec_version = creation
        .and_then(|c| c.spec_version.clone())
        .or_else(|| {
            doc.graph.iter().find_map(|e| {
                e.creation_info
                    .as_ref()?
                    .get("specVersion")?
                    .as_str()
                    .map(str::to_string)
            })
        })
        .unwrap_or_else(|| "3.0.1".into());
    let mut facts = DocumentFacts::new(DocumentFormat::Spdx3, spec_version);
    facts.created = creation.and_then(|c| c.created.clone());
    let mut tool_ids: Vec<&String> = Vec::new();
    for c in doc
        .graph
        .iter()
        .filter(|e| e.ty.as_deref() == Some("CreationInfo"))
    {
        for t in &c.created_using {
            if !tool_ids.contains(&t) {
                tool_ids.push(t);
            }
        }
    }
    facts.tools = tool_ids
        .into_iter()
        .filter_map(|id| elements.get(id.as_str()))
        .filter_map(|t| {
            Some(Tool {
                vendor: None,
                name: t.name.clone()?,
                version: None,
            })
        })
        .collect();
    // License expressions are elements joined to packages by relationships.
    let mut license_of: HashMap<&str, Vec<String>> = HashMap::new();
    let mut concluded_of: HashMap<&str, Vec<String>> = HashMap::new();
    for e in &doc.graph {
        if let (Some("Relationship"), Some(ty), Some(from)) = (
            e.ty.as_deref(),
            e.relationship_type.as_deref(),
            e.from.as_deref(),
        ) && (ty == "hasDeclaredLicense" || ty == "hasConcludedLicense")
        {
            for to in &e.to {
                if let Some(expr) = elements
                    .get(to.as_str())
                    .and_then(|l| l.license_expression.clone())
                {
                    if ty == "hasConcludedLicense" {
                        let list = concluded_of.entry(from).or_default();
                        if !list.contains(&expr) {
                            list.push(expr.clone());
                        }
                    }
                    let list = license_of.entry(from).or_default();
                    if !list.contains(&expr) {
                        list.push(expr);
                    }
                }
            }
        }
    }
    for (i, e) in doc.graph.iter().enumerate() {
        let Some(kind) = e.ty.as_deref().and_then(v3_package_kind) else {
            continue;
        };
        facts.entries_read += 1;
        let Some(name) = e.name.as_deref() else {
            return Err(ImportError::field(
                format!("@graph[{i}].name"),
                "package has no name",
            ));
        };
        let purl = e.package_url.clone().or_else(|| {
            e.external_identifier
                .iter()
                .find(|x| x.ty.as_deref() == Some("packageUrl"))
                .and_then(|x| x.identifier.clone())
        });
        let (key, purl_synthesized, qualifiers) =
            key_for(purl.as_deref(), name, e.package_version.as_deref());
        let id = id_of(e);
        let flags = key
            .as_ref()
            .map(|k| doubt_flags(k, &qualifiers, &[]))
            .unwrap_or_default();
        facts.packages.push(PackageFact {
            key,
            purl,
            purl_synthesized,
            name: name.to_string(),
            version: e.package_version.clone(),
            kind: Some(
                e.primary_purpose
                    .clone()
                    .unwrap_or_else(|| kind.to_string()),
            ),
            scope: None,
            direct: None,
            source_package: upstream_source(&qualifiers),
            qualifiers,
            hashes: e
                .verified_using
                .iter()
                .filter_map(|h| Some(Hash::new(h.algorithm.as_deref()?, h.hash_value.as_deref()?)))
                .collect(),
            licenses: id
                .as_deref()
                .and_then(|id| license_of.get(id).cloned())
                .unwrap_or_default(),
            cpes: e
                .external_identifier
                .iter()
                .filter(|x| matches!(x.ty.as_deref(), Some("cpe23" | "cpe22")))
                .filter_map(|x| x.identifier.clone())
                .collect(),
            supplier: e.supplied_by.as_deref().map(|s| {
                elements
                    .get(s)
                    .and_then(|a| a.name.clone())
                    .unwrap_or_else(|| s.to_string())
            }),
            creator: e
                .originated_by
                .iter()
                .chain(&e.supplied_by)
                .filter_map(|a| elements.get(a.as_str()).map(|agent| v3_party(agent)))
                .max_by_key(|p| p.has_contact()),
            licenses_concluded: id
                .as_deref()
                .and_then(|id| concluded_of.get(id).cloned())
                .unwrap_or_default(),
            locations: Vec::new(),
            pedigree_ancestors: Vec::new(),
            flags,
            refs: id.iter().cloned().collect(),
            model: match kind {
                "machine-learning-model" | "data" => Some(Box::new(aibomdb_graph::ModelInfo {
                    node: if kind == "data" { "dataset" } else { "model" }.into(),
                    license: id
                        .as_deref()
                        .and_then(|id| license_of.get(id))
                        .and_then(|l| l.first().cloned()),
                    sources: vec![format!("SPDX 3 {}", e.ty.as_deref().unwrap_or(""))],
                    ..Default::default()
                })),
                _ => None,
            },
            ..Default::default()
        });
        if let Some(id) = id {
            by_id.insert(id, facts.packages.len() - 1);
        }
    }
    let mut roots: Vec<usize> = Vec::new();
    for e in &doc.graph {
        match e.ty.as_deref() {
            Some("SpdxDocument") => {
                facts.serial = id_of(e);
                for r in &e.root_element {
                    collect_roots(r, &elements, &by_id, &mut roots, 0);
                }
            }
            Some("Relationship" | "LifecycleScopedRelationship") => {
                let (Some(from), Some(ty)) = (e.from.as_deref(), e.relationship_type.as_deref())
                else {
                    continue;
                };
                let kind = match ty {
                    "dependsOn" => EdgeKind::DependsOn,
                    "contains" => EdgeKind::Contains,
                    // AI and Dataset profiles: a model trained/tested on a dataset.
                    "trainedOn" => EdgeKind::TrainedOn,
                    "testedOn" => EdgeKind::EvaluatedOn,
                    "descendantOf" | "variantOf" => EdgeKind::DerivedFrom,
                    _ => continue,
                };
                let scope = e.scope.as_deref().and_then(|s| match s {
                    "build" => Some(Scope::Build),
                    "development" => Some(Scope::Dev),
                    "test" => Some(Scope::Test),
                    "runtime" => Some(Scope::Runtime),
                    _ => None,
                });
                let Some(&a) = by_id.get(from) else { continue };
                for to in &e.to {
                    if let Some(&b) = by_id.get(to.as_str()) {
                        facts.dependencies.push(DependencyFact {
                            from: a,
                            to: b,
                            kind,
                            scope,
                            marker: None,
                            via_extra: None,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    facts.subject = Some(match roots.first() {
        Some(&root) => {
            let p = &facts.packages[root];
            Subject {
                name: p.name.clone(),
                version: p.version.clone(),
                kind: p.kind.clone(),
                package: Some(root),
                reference: p.refs.first().cloned(),
            }
        }
        None => Subject {
            name: doc
                .graph
                .iter()
                .find(|e| e.ty.as_deref() == Some("SpdxDocument"))
                .and_then(|d| d.name.clone())
                .unwrap_or_default(),
            ..Default::default()
        },
    });
    Ok(facts.finish())
}

/// A root element may be an SBOM whose own root elements are the packages.
fn collect_roots(
    id: &str,
    elements: &HashMap<String, &v3::Element>,
    by_id: &HashMap<String, usize>,
    roots: &mut Vec<usize>,
    depth: usize,
) {
    if let Some(&i) = by_id.get(id) {
        if !roots.contains(&i) {
            roots.push(i);
        }
        return;
    }
    if depth > 4 {
        return;
    }
    if let Some(e) = elements.get(id) {
        for r in &e.root_element {
            collect_roots(r, elements, by_id, roots, depth + 1);
        }
    }
}
