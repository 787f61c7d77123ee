//! OSV records, read leniently. The `osv` crate's closed `Ecosystem` enum
//! rejects a whole record for one unknown ecosystem; here ecosystems are
//! strings, unknown fields are ignored, `null` is absent, and the
//! `*_specific` objects are kept as JSON.

use aibomdb_graph::json::null_default;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub aliases: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub upstream: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub related: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub severity: Vec<Severity>,
    #[serde(default, deserialize_with = "null_default")]
    pub references: Vec<Reference>,
    #[serde(default, deserialize_with = "null_default")]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    #[serde(rename = "type")]
    pub ty: String,
    pub score: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type", default)]
    pub ty: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// Absent in records that only name a repository (GIT ranges).
    #[serde(default)]
    pub package: Option<Package>,
    #[serde(default, deserialize_with = "null_default")]
    pub ranges: Vec<Range>,
    #[serde(default, deserialize_with = "null_default")]
    pub versions: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub severity: Vec<Severity>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
    #[serde(default)]
    pub purl: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// `ECOSYSTEM`, `SEMVER` or `GIT` (kept as written).
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub events: Vec<Event>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

/// One event; exactly one field is set in a valid record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

impl Advisory {
    /// Every identifier the record answers to: its id, aliases and upstream ids.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .chain(self.upstream.iter().map(String::as_str))
    }

    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }
}

impl Affected {
    /// Fixed versions named by its version ranges, for reports.
    pub fn fixed_versions(&self) -> Vec<String> {
        self.ranges
            .iter()
            .filter(|r| r.ty != "GIT")
            .flat_map(|r| r.events.iter().filter_map(|e| e.fixed.clone()))
            .collect()
    }
}
