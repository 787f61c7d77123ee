//! SPDX 2.2/2.3: the lenient wire structures the JSON reader deserialises
//! into (and the tag-value reader fills, see [`crate::tag_value`]), and the
//! one mapping from them to facts.

use std::collections::{HashMap, HashSet};

use aibomdb_graph::{
    DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, Hash, ImportError, PackageFact, Party,
    Scope, Skipped, Subject, Tool, doubt_flags, key_for, upstream_source,
};

pub(crate) mod wire {
    use aibomdb_graph::json::null_default;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Default)]
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
        /// What the tag-value reader passed over (JSON has none).
        #[serde(skip)]
        pub(crate) warnings: Vec<String>,
    }

    #[derive(Debug, Deserialize, Default)]
    pub(crate) struct CreationInfo {
        pub(crate) created: Option<String>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) creators: Vec<String>,
    }

    #[derive(Debug, Deserialize, Default)]
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

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Checksum {
        pub(crate) algorithm: String,
        pub(crate) checksum_value: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct ExternalRef {
        pub(crate) reference_type: Option<String>,
        pub(crate) reference_locator: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Relationship {
        pub(crate) spdx_element_id: Option<String>,
        pub(crate) relationship_type: Option<String>,
        pub(crate) related_spdx_element: Option<String>,
    }

    impl Relationship {
        /// (element, type, related element), when all three are given.
        pub(crate) fn parts(&self) -> Option<(&str, &str, &str)> {
            Some((
                self.spdx_element_id.as_deref()?,
                self.relationship_type.as_deref()?,
                self.related_spdx_element.as_deref()?,
            ))
        }
    }
}

use wire as v2;

/// Maps one SPDX 2.x document, as either encoding gave it, to facts.
pub(crate) fn map(doc: v2::Document) -> Result<DocumentFacts, ImportError> {
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
    if doc.packages.len() > crate::MAX_PACKAGES {
        return Err(ImportError::field(
            "packages",
            format!(
                "{} packages, over the bound of {}",
                doc.packages.len(),
                crate::MAX_PACKAGES
            ),
        ));
    }
    facts.warnings.extend(doc.warnings.iter().cloned());
    let folds = crate::lineage::folds(&doc);
    let folded: HashSet<usize> = folds.iter().map(|f| f.fragment).collect();
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(doc.packages.len());
    for (i, p) in doc.packages.iter().enumerate() {
        if folded.contains(&i) {
            continue;
        }
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
            by_id.insert(id, facts.packages.len() - 1);
        }
    }
    for fold in &folds {
        use crate::lineage::Relation;
        let (fragment, into) = (&doc.packages[fold.fragment], &doc.packages[fold.into]);
        let name = fragment.name.clone().unwrap_or_default();
        let into_id = into.spdx_id.as_deref().unwrap_or_default();
        let Some(&i) = by_id.get(into_id) else {
            continue;
        };
        let target = &mut facts.packages[i];
        // An ancestor is pedigree; a descendant with no identity of its own
        // is a copy of the package, found where its file name says.
        let (list, value, how) = match fold.relation {
            Relation::Ancestor => (
                Some(&mut target.pedigree_ancestors),
                name.clone(),
                " as a pedigree ancestor",
            ),
            Relation::Descendant => (
                Some(&mut target.locations),
                fragment.package_file_name.clone().unwrap_or(name.clone()),
                " as a location",
            ),
            Relation::Variant => (None, String::new(), ""),
        };
        if let Some(list) = list
            && !list.contains(&value)
        {
            list.push(value);
        }
        facts.skipped.push(Skipped {
            reference: fragment.spdx_id.clone().unwrap_or(name),
            reason: format!(
                "known only as {} of {into_id}, with no purl or version: folded into it{how}",
                fold.relation.as_str(),
            ),
        });
    }
    let mut roots: Vec<usize> = doc
        .document_describes
        .iter()
        .filter_map(|id| by_id.get(id.as_str()).copied())
        .collect();
    for r in &doc.relationships {
        let Some((a, ty, b)) = r.parts() else {
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
        let facts = crate::import_v2(br#"{"spdxVersion":"SPDX-2.3","name":"x","packages":[{"SPDXID":"SPDXRef-a","name":"a","externalRefs":null,"checksums":null}],"relationships":null}"#).unwrap();
        assert_eq!(facts.packages.len(), 1);
    }
}
