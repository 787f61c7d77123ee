//! SPDX → graph facts: SPDX 2.2/2.3 JSON ([`import_v2`]) and SPDX 3.0.1
//! JSON-LD ([`import_v3`]).
//!
//! `spdx-rs` denies unknown fields and rejects values the official 2.3 schema
//! allows (`"OPERATING-SYSTEM"`), and has no SPDX 3, so both versions are read
//! through private lenient wire structs: unknown fields ignored, `null` taken
//! as absent, enumerations kept as strings.

use std::collections::HashMap;

use aibomdb_graph::json::parse;
use aibomdb_graph::{
    DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, Hash, ImportError, PackageFact, Party,
    Scope, Subject, Tool, doubt_flags, key_for, upstream_source,
};

/// True when the JSON looks like SPDX 2.x.
pub fn sniff_v2(head: &str) -> bool {
    head.contains("\"spdxVersion\"")
}

/// True when the JSON looks like SPDX 3 JSON-LD.
pub fn sniff_v3(head: &str) -> bool {
    head.contains("\"@context\"") && head.contains("spdx.org/rdf/3")
}

mod v2 {
    use aibomdb_graph::json::null_default;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Document {
        pub(crate) spdx_version: Option<String>,
        pub(crate) name: Option<String>,
        pub(crate) document_namespace: Option<String>,
        pub(crate) creation_info: Option<CreationInfo>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) document_describes: Vec<String>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) packages: Vec<Package>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) relationships: Vec<Relationship>,
    }

    #[derive(Deserialize)]
    pub(crate) struct CreationInfo {
        pub(crate) created: Option<String>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) creators: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Package {
        #[serde(rename = "SPDXID")]
        pub(crate) spdx_id: Option<String>,
        pub(crate) name: Option<String>,
        pub(crate) version_info: Option<String>,
        pub(crate) supplier: Option<String>,
        pub(crate) originator: Option<String>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) checksums: Vec<Checksum>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) external_refs: Vec<ExternalRef>,
        pub(crate) license_concluded: Option<String>,
        pub(crate) license_declared: Option<String>,
        pub(crate) package_file_name: Option<String>,
        pub(crate) source_info: Option<String>,
        pub(crate) primary_package_purpose: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Checksum {
        pub(crate) algorithm: String,
        pub(crate) checksum_value: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct ExternalRef {
        pub(crate) reference_type: Option<String>,
        pub(crate) reference_locator: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Relationship {
        pub(crate) spdx_element_id: Option<String>,
        pub(crate) relationship_type: Option<String>,
        pub(crate) related_spdx_element: Option<String>,
    }
}

/// Reads one SPDX 2.x JSON document.
pub fn import_v2(bytes: &[u8]) -> Result<DocumentFacts, ImportError> {
    let doc: v2::Document = parse(bytes)?;
    let spec = doc
        .spdx_version
        .clone()
        .ok_or_else(|| ImportError::WrongFormat {
            expected: "SPDX 2",
            message: "`spdxVersion` is missing".into(),
        })?;
    let version = spec.strip_prefix("SPDX-").unwrap_or(&spec).to_string();
    if !version.starts_with("2.") {
        return Err(ImportError::field(
            "spdxVersion",
            format!("unsupported SPDX version {spec:?} (2.x is read as JSON; SPDX 3 as JSON-LD)"),
        ));
    }
    let mut facts = DocumentFacts::new(DocumentFormat::Spdx2, version);
    facts.serial = doc.document_namespace.clone();
    if let Some(ci) = &doc.creation_info {
        facts.created = ci.created.clone();
        facts.tools = ci
            .creators
            .iter()
            .filter_map(|c| tool_from_creator(c))
            .collect();
    }
    facts.entries_read = doc.packages.len();
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(doc.packages.len());
    for (i, p) in doc.packages.iter().enumerate() {
        let Some(name) = p.name.as_deref() else {
            return Err(ImportError::field(format!("packages[{i}].name"), "missing"));
        };
        let purl = p
            .external_refs
            .iter()
            .find(|r| r.reference_type.as_deref() == Some("purl"))
            .and_then(|r| r.reference_locator.as_deref());
        let (key, purl_synthesized, qualifiers) = key_for(purl, name, p.version_info.as_deref());
        let locations = source_info_paths(p.source_info.as_deref());
        let flags = key
            .as_ref()
            .map(|k| doubt_flags(k, &qualifiers, &locations))
            .unwrap_or_default();
        let licenses = [&p.license_declared, &p.license_concluded]
            .into_iter()
            .flatten()
            .filter(|l| !matches!(l.as_str(), "NOASSERTION" | "NONE" | ""))
            .fold(Vec::new(), |mut acc: Vec<String>, l| {
                if !acc.contains(l) {
                    acc.push(l.clone());
                }
                acc
            });
        let source_package = upstream_source(&qualifiers);
        facts.packages.push(PackageFact {
            key,
            purl: purl.map(str::to_string),
            purl_synthesized,
            name: name.to_string(),
            version: p.version_info.clone(),
            kind: p
                .primary_package_purpose
                .as_ref()
                .map(|s| s.to_ascii_lowercase()),
            scope: None,
            direct: None,
            qualifiers,
            hashes: p
                .checksums
                .iter()
                .map(|c| Hash::new(&c.algorithm, &c.checksum_value))
                .collect(),
            licenses,
            cpes: p
                .external_refs
                .iter()
                .filter(|r| matches!(r.reference_type.as_deref(), Some("cpe23Type" | "cpe22Type")))
                .filter_map(|r| r.reference_locator.clone())
                .collect(),
            supplier: p
                .supplier
                .as_deref()
                .or(p.originator.as_deref())
                .and_then(agent_name),
            creator: creator(p.originator.as_deref(), p.supplier.as_deref()),
            licenses_concluded: p
                .license_concluded
                .iter()
                .filter(|l| !matches!(l.as_str(), "NOASSERTION" | "NONE" | ""))
                .cloned()
                .collect(),
            filename: p
                .package_file_name
                .clone()
                .filter(|f| !f.is_empty() && f != "NOASSERTION"),
            source_package,
            locations,
            pedigree_ancestors: Vec::new(),
            flags,
            refs: p.spdx_id.iter().cloned().collect(),
            ..Default::default()
        });
        if let Some(id) = p.spdx_id.as_deref() {
            by_id.insert(id, i);
        }
    }
    let mut roots: Vec<usize> = doc
        .document_describes
        .iter()
        .filter_map(|id| by_id.get(id.as_str()).copied())
        .collect();
    for r in &doc.relationships {
        let (Some(a), Some(ty), Some(b)) = (
            r.spdx_element_id.as_deref(),
            r.relationship_type.as_deref(),
            r.related_spdx_element.as_deref(),
        ) else {
            continue;
        };
        if ty == "DESCRIBES" && a == "SPDXRef-DOCUMENT" {
            if let Some(&i) = by_id.get(b)
                && !roots.contains(&i)
            {
                roots.push(i);
            }
            continue;
        }
        if ty == "DESCRIBED_BY" && b == "SPDXRef-DOCUMENT" {
            if let Some(&i) = by_id.get(a)
                && !roots.contains(&i)
            {
                roots.push(i);
            }
            continue;
        }
        let Some((forward, kind, scope)) = v2_edge(ty) else {
            continue;
        };
        let (Some(&ia), Some(&ib)) = (by_id.get(a), by_id.get(b)) else {
            continue;
        };
        let (from, to) = if forward { (ia, ib) } else { (ib, ia) };
        facts.dependencies.push(DependencyFact {
            from,
            to,
            kind,
            scope,
            marker: None,
            via_extra: None,
        });
    }
    facts.subject = Some(match roots.as_slice() {
        [root] => {
            let p = &facts.packages[*root];
            Subject {
                name: p.name.clone(),
                version: p.version.clone(),
                kind: p.kind.clone(),
                package: Some(*root),
                reference: p.refs.first().cloned(),
            }
        }
        _ => Subject {
            name: doc.name.clone().unwrap_or_default(),
            version: None,
            kind: None,
            package: None,
            reference: None,
        },
    });
    Ok(facts.finish())
}

/// Maps an SPDX 2 relationship type to (a→b?, kind, scope).
fn v2_edge(ty: &str) -> Option<(bool, EdgeKind, Option<Scope>)> {
    use EdgeKind::{Contains, DependsOn};
    Some(match ty {
        "DEPENDS_ON" => (true, DependsOn, None),
        "DEPENDENCY_OF" => (false, DependsOn, None),
        "DEV_DEPENDENCY_OF" => (false, DependsOn, Some(Scope::Dev)),
        "BUILD_DEPENDENCY_OF" => (false, DependsOn, Some(Scope::Build)),
        "TEST_DEPENDENCY_OF" => (false, DependsOn, Some(Scope::Test)),
        "OPTIONAL_DEPENDENCY_OF" => (false, DependsOn, Some(Scope::Optional)),
        "RUNTIME_DEPENDENCY_OF" => (false, DependsOn, Some(Scope::Runtime)),
        "PROVIDED_DEPENDENCY_OF" => (false, DependsOn, Some(Scope::Provided)),
        "CONTAINS" => (true, Contains, None),
        "CONTAINED_BY" => (false, Contains, None),
        _ => return None,
    })
}

/// `Tool: syft-0.57.0` → syft 0.57.0; `Tool: pyspdxtools 0.8` → pyspdxtools 0.8.
fn tool_from_creator(creator: &str) -> Option<Tool> {
    let rest = creator.strip_prefix("Tool:")?.trim();
    let (name, version) = match rest.rsplit_once(['-', ' ', '@']) {
        Some((n, v)) if v.starts_with(|c: char| c.is_ascii_digit() || c == 'v') => {
            (n.trim().to_string(), Some(v.trim().to_string()))
        }
        _ => (rest.to_string(), None),
    };
    Some(Tool {
        vendor: None,
        name,
        version,
    })
}

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

/// The component creator: the originator (who made it), else the supplier
/// (who distributes it), preferring one that gives an email address.
fn creator(originator: Option<&str>, supplier: Option<&str>) -> Option<Party> {
    let parties: Vec<Party> = [originator, supplier]
        .into_iter()
        .flatten()
        .filter_map(agent_party)
        .collect();
    let with_contact = parties.iter().position(Party::has_contact);
    parties.into_iter().nth(with_contact.unwrap_or(0))
}

/// `Organization: Acme (a@b)` → Acme, reached at a@b; `NOASSERTION` → none.
fn agent_party(s: &str) -> Option<Party> {
    let name = agent_name(s)?;
    let email = s
        .rfind('(')
        .and_then(|i| s[i + 1..].strip_suffix(')'))
        .map(str::trim)
        .filter(|e| e.contains('@'));
    Some(Party {
        name: Some(name),
        emails: email.map(str::to_string).into_iter().collect(),
        urls: Vec::new(),
    })
}

/// `Organization: Acme (a@b)` → `Acme`; `NOASSERTION` → none.
fn agent_name(s: &str) -> Option<String> {
    let s = s.trim();
    if matches!(s, "NOASSERTION" | "NONE" | "") {
        return None;
    }
    let s = s
        .strip_prefix("Organization:")
        .or_else(|| s.strip_prefix("Person:"))
        .or_else(|| s.strip_prefix("Tool:"))
        .unwrap_or(s)
        .trim();
    let s = match s.find(" (") {
        Some(i) => &s[..i],
        None => s,
    };
    Some(s.to_string())
}

/// syft writes where it found a package in `sourceInfo`:
/// "acquired package info from installed java archive: /opt/x.jar".
fn source_info_paths(info: Option<&str>) -> Vec<String> {
    let Some(info) = info else {
        return Vec::new();
    };
    let Some((_, paths)) = info.split_once(": ") else {
        return Vec::new();
    };
    paths
        .split(", ")
        .map(str::trim)
        .filter(|p| p.starts_with('/'))
        .map(str::to_string)
        .collect()
}

mod v3 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creators_become_tools() {
        let t = tool_from_creator("Tool: syft-0.57.0").unwrap();
        assert_eq!(
            (t.name.as_str(), t.version.as_deref()),
            ("syft", Some("0.57.0"))
        );
        let t = tool_from_creator("Tool: cyclonedx-py-7.5.0").unwrap();
        assert_eq!(
            (t.name.as_str(), t.version.as_deref()),
            ("cyclonedx-py", Some("7.5.0"))
        );
        assert!(tool_from_creator("Organization: Anchore, Inc").is_none());
    }

    #[test]
    fn agents() {
        assert_eq!(
            agent_name("Person: Jane Doe (jane.doe@example.com)").as_deref(),
            Some("Jane Doe")
        );
        assert_eq!(agent_name("NOASSERTION"), None);
    }

    #[test]
    fn source_info_locations() {
        assert_eq!(
            source_info_paths(Some(
                "acquired package info from installed java archive: /opt/flink/a.jar"
            )),
            vec!["/opt/flink/a.jar".to_string()]
        );
        assert!(source_info_paths(Some("uses glibc from git")).is_empty());
    }

    #[test]
    fn null_lists_are_empty() {
        let facts = import_v2(br#"{"spdxVersion":"SPDX-2.3","name":"x","packages":[{"SPDXID":"SPDXRef-a","name":"a","externalRefs":null,"checksums":null}],"relationships":null}"#).unwrap();
        assert_eq!(facts.packages.len(), 1);
    }
}
