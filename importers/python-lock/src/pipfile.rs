//! `Pipfile.lock` (pipfile-spec 6): `default` and `develop` sections, index
//! names resolved through `_meta.sources`, `"version": "*"` entries without
//! hashes kept as unpinned.

use std::collections::BTreeMap;

use aibomdb_graph::json::null_default;
use aibomdb_graph::{DocumentFacts, DocumentFormat, ImportError};
use serde::Deserialize;

use crate::graph::{LockGraph, Locked, Source, parse_hash};
use crate::{Siblings, project};

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "_meta")]
    meta: Meta,
    #[serde(default, deserialize_with = "null_default")]
    default: BTreeMap<String, Entry>,
    #[serde(default, deserialize_with = "null_default")]
    develop: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "pipfile-spec")]
    pipfile_spec: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    sources: Vec<IndexSource>,
}

#[derive(Deserialize)]
struct IndexSource {
    name: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Entry {
    version: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    hashes: Vec<String>,
    markers: Option<String>,
    index: Option<String>,
    git: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    path: Option<String>,
    file: Option<String>,
    #[serde(default)]
    editable: bool,
}

pub(crate) fn import(bytes: &[u8], siblings: &dyn Siblings) -> Result<DocumentFacts, ImportError> {
    let lock: Lock = aibomdb_graph::json::parse(bytes)?;
    let spec = lock
        .meta
        .pipfile_spec
        .ok_or_else(|| ImportError::field("_meta.pipfile-spec", "missing"))?;
    crate::check_version("_meta.pipfile-spec", &spec.to_string(), &["6"])?;
    let mut graph = LockGraph::default();
    let default_index = lock.meta.sources.first().and_then(|s| s.url.clone());
    for (section, entries, dev) in [
        ("default", &lock.default, false),
        ("develop", &lock.develop, true),
    ] {
        for (name, e) in entries {
            let pinned = e
                .version
                .as_deref()
                .and_then(|v| v.strip_prefix("===").or_else(|| v.strip_prefix("==")))
                .map(str::to_string);
            let requested = match (&pinned, &e.version) {
                (Some(_), _) => None,
                (None, Some(v)) => Some(v.clone()),
                (None, None) => e.reference.clone(),
            };
            let source = if let Some(g) = &e.git {
                Some(Source::Git {
                    url: g.clone(),
                    rev: e.reference.clone(),
                    subdirectory: None,
                })
            } else if let Some(p) = &e.path {
                Some(Source::Path {
                    path: p.clone(),
                    editable: e.editable,
                })
            } else if let Some(f) = &e.file {
                Some(Source::Url(f.clone()))
            } else {
                let index = match &e.index {
                    Some(name) => lock
                        .meta
                        .sources
                        .iter()
                        .find(|s| s.name.as_deref() == Some(name))
                        .and_then(|s| s.url.clone()),
                    None => default_index.clone(),
                };
                index.map(Source::Registry)
            };
            graph.packages.push(Locked {
                name: name.clone(),
                version: pinned,
                requested,
                source,
                hashes: e.hashes.iter().filter_map(|h| parse_hash(h)).collect(),
                marker: e.markers.clone(),
                groups: vec![section.to_string()],
                dev,
                ..Default::default()
            });
        }
    }
    graph.knows_direct = project::read_pipfile(siblings, &mut graph);
    Ok(graph.into_facts(DocumentFormat::PipfileLock, spec.to_string()))
}
