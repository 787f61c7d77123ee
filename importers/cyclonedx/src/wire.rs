//! The JSON as it is written, version-independent: unknown fields ignored,
//! enumerations kept as strings, both shapes of `metadata.tools` accepted.

use std::borrow::Cow;

use aibomdb_graph::json::null_default;
use serde::{Deserialize, Deserializer};

/// A string that is only read, borrowed from the document when it holds no
/// escapes (`&str` fails on an escape, and serde's `Cow<str>` borrows only
/// as a field of its own, never inside an `Option` or a `Vec`): most strings
/// of a large SBOM need no allocation of their own.
pub(crate) struct Text<'a>(Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visit(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bom<'a> {
    pub(crate) bom_format: Option<String>,
    pub(crate) spec_version: Option<String>,
    pub(crate) serial_number: Option<String>,
    #[serde(borrow)]
    pub(crate) metadata: Option<Metadata<'a>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub(crate) components: Vec<Component<'a>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub(crate) dependencies: Vec<Dependency<'a>>,
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
pub(crate) struct Metadata<'a> {
    pub(crate) timestamp: Option<String>,
    #[serde(borrow)]
    pub(crate) tools: Option<Tools<'a>>,
    #[serde(borrow)]
    pub(crate) component: Option<Component<'a>>,
}

/// 1.4 and earlier: a list of tools; 1.5+: `{components, services}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Tools<'a> {
    Legacy(Vec<LegacyTool>),
    Modern {
        #[serde(borrow, default, deserialize_with = "null_default")]
        components: Vec<Component<'a>>,
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
pub(crate) struct Component<'a> {
    #[serde(rename = "type")]
    pub(crate) ty: Option<String>,
    #[serde(rename = "bom-ref")]
    pub(crate) bom_ref: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) purl: Option<String>,
    pub(crate) cpe: Option<String>,
    #[serde(borrow)]
    pub(crate) scope: Option<Text<'a>>,
    pub(crate) publisher: Option<String>,
    pub(crate) author: Option<String>,
    pub(crate) supplier: Option<Organization>,
    /// 1.6: the organisation that made the component.
    pub(crate) manufacturer: Option<Organization>,
    /// 1.6: people who made it (replaces the `author` string).
    #[serde(default, deserialize_with = "null_default")]
    pub(crate) authors: Vec<Contact>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub(crate) hashes: Vec<HashEntry<'a>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub(crate) licenses: Vec<LicenseChoice<'a>>,
    #[serde(
        borrow,
        default,
        rename = "externalReferences",
        deserialize_with = "null_default"
    )]
    pub(crate) external_references: Vec<ExternalReference<'a>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub(crate) properties: Vec<Property<'a>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub(crate) components: Vec<Component<'a>>,
    #[serde(borrow)]
    pub(crate) pedigree: Option<Pedigree<'a>>,
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
pub(crate) struct HashEntry<'a> {
    #[serde(borrow)]
    pub(crate) alg: Text<'a>,
    #[serde(borrow)]
    pub(crate) content: Text<'a>,
}

#[derive(Deserialize)]
pub(crate) struct LicenseChoice<'a> {
    #[serde(borrow)]
    pub(crate) license: Option<License<'a>>,
    #[serde(borrow)]
    pub(crate) expression: Option<Text<'a>>,
    /// 1.6: `declared` or `concluded`, on an expression.
    #[serde(borrow)]
    pub(crate) acknowledgement: Option<Text<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct License<'a> {
    #[serde(borrow)]
    pub(crate) id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) name: Option<Text<'a>>,
    /// 1.6: `declared` or `concluded`, on a named licence.
    #[serde(borrow)]
    pub(crate) acknowledgement: Option<Text<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct ExternalReference<'a> {
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub(crate) hashes: Vec<HashEntry<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct Property<'a> {
    #[serde(borrow)]
    pub(crate) name: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) value: Option<Text<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct Pedigree<'a> {
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub(crate) ancestors: Vec<Component<'a>>,
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
pub(crate) struct Dependency<'a> {
    #[serde(borrow, rename = "ref")]
    pub(crate) reference: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub(crate) depends_on: Vec<Text<'a>>,
}
