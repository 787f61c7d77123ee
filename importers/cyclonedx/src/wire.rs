//! The JSON as it is written, version-independent: unknown fields ignored,
//! enumerations kept as strings, both shapes of `metadata.tools` accepted.

use aibomdb_graph::json::null_default;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bom {
    pub(crate) bom_format: Option<String>,
    pub(crate) spec_version: Option<String>,
    pub(crate) serial_number: Option<String>,
    pub(crate) metadata: Option<Metadata>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) components: Vec<Component>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) dependencies: Vec<Dependency>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) vulnerabilities: Vec<Vulnerability>,
}

/// Only what VEX needs; `affects[].versions` is not read (lib4vex writes
/// it as an object where the schema has a list).
#[derive(Deserialize)]
pub(crate) struct Vulnerability {
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) references: Vec<VulnerabilityReference>,
    pub(crate) analysis: Option<Analysis>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) affects: Vec<Affects>,
    pub(crate) updated: Option<String>,
    pub(crate) published: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct VulnerabilityReference {
    pub(crate) id: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Analysis {
    pub(crate) state: Option<String>,
    pub(crate) justification: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) response: Vec<String>,
    pub(crate) detail: Option<String>,
    #[serde(rename = "lastUpdated")]
    pub(crate) last_updated: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Affects {
    #[serde(rename = "ref")]
    pub(crate) reference: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Metadata {
    pub(crate) timestamp: Option<String>,
    pub(crate) tools: Option<Tools>,
    pub(crate) component: Option<Component>,
}

/// 1.4 and earlier: a list of tools; 1.5+: `{components, services}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Tools {
    Legacy(Vec<LegacyTool>),
    Modern {
        #[serde(default, deserialize_with = "null_default")]
        components: Vec<Component>,
        #[serde(default, deserialize_with = "null_default")]
        services: Vec<LegacyTool>,
    },
}

#[derive(Deserialize)]
pub(crate) struct LegacyTool {
    pub(crate) vendor: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Component {
    #[serde(rename = "type")]
    pub(crate) ty: Option<String>,
    #[serde(rename = "bom-ref")]
    pub(crate) bom_ref: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) purl: Option<String>,
    pub(crate) cpe: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) publisher: Option<String>,
    pub(crate) author: Option<String>,
    pub(crate) supplier: Option<Organization>,
    /// 1.6: the organisation that made the component.
    pub(crate) manufacturer: Option<Organization>,
    /// 1.6: people who made it (replaces the `author` string).
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) authors: Vec<Contact>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) hashes: Vec<HashEntry>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) licenses: Vec<LicenseChoice>,
    #[serde(
        default,
        rename = "externalReferences",
        deserialize_with = "null_default"
    )]
    pub(crate) external_references: Vec<ExternalReference>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) properties: Vec<Property>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) components: Vec<Component>,
    pub(crate) pedigree: Option<Pedigree>,
    pub(crate) evidence: Option<Evidence>,
    /// ML-BOM: kept as JSON (its shape grew between 1.5 and 1.7).
    #[serde(rename = "modelCard")]
    pub(crate) model_card: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(crate) struct Organization {
    pub(crate) name: Option<String>,
    /// `url` is a list of strings; kept as JSON and read leniently (a
    /// lone string is seen in the wild too).
    #[serde(default)]
    pub(crate) url: serde_json::Value,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) contact: Vec<Contact>,
}

#[derive(Deserialize)]
pub(crate) struct Contact {
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct HashEntry {
    pub(crate) alg: String,
    pub(crate) content: String,
}

#[derive(Deserialize)]
pub(crate) struct LicenseChoice {
    pub(crate) license: Option<License>,
    pub(crate) expression: Option<String>,
    /// 1.6: `declared` or `concluded`, on an expression.
    pub(crate) acknowledgement: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct License {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    /// 1.6: `declared` or `concluded`, on a named licence.
    pub(crate) acknowledgement: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ExternalReference {
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) hashes: Vec<HashEntry>,
}

#[derive(Deserialize)]
pub(crate) struct Property {
    pub(crate) name: Option<String>,
    pub(crate) value: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Pedigree {
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) ancestors: Vec<Component>,
}

#[derive(Deserialize)]
pub(crate) struct Evidence {
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) occurrences: Vec<Occurrence>,
}

#[derive(Deserialize)]
pub(crate) struct Occurrence {
    pub(crate) location: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Dependency {
    #[serde(rename = "ref")]
    pub(crate) reference: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) depends_on: Vec<String>,
}
