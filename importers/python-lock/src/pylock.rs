//! PEP 751 `pylock.toml` as written by uv (`uv export`), PDM and pip
//! (`pip lock`). PEP 751 records no dependency graph of its own; PDM adds one
//! under `[packages.tool.pdm]`, which is read when present.

use std::collections::BTreeMap;

use aibomdb_graph::{DocumentFacts, DocumentFormat, Hash, ImportError, Tool};
use serde::Deserialize;

use crate::graph::{LockGraph, Locked, Source};
use crate::{Siblings, check_version, parse_toml, project};

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "lock-version")]
    lock_version: Option<String>,
    #[serde(rename = "created-by")]
    created_by: Option<String>,
    #[serde(default)]
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    index: Option<String>,
    vcs: Option<Vcs>,
    directory: Option<Directory>,
    archive: Option<FileEntry>,
    sdist: Option<FileEntry>,
    #[serde(default)]
    wheels: Vec<FileEntry>,
    tool: Option<PackageTool>,
}

#[derive(Deserialize)]
struct Vcs {
    url: Option<String>,
    path: Option<String>,
    #[serde(rename = "commit-id")]
    commit_id: Option<String>,
    subdirectory: Option<String>,
}

#[derive(Deserialize)]
struct Directory {
    path: String,
    #[serde(default)]
    editable: bool,
}

#[derive(Deserialize)]
struct FileEntry {
    url: Option<String>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    /// A TOML date-time in pylock.toml (PEP 751); a string is read too.
    #[serde(rename = "upload-time")]
    upload_time: Option<toml::Value>,
}

#[derive(Deserialize)]
struct PackageTool {
    pdm: Option<PdmTool>,
}

#[derive(Deserialize)]
struct PdmTool {
    #[serde(default)]
    dependencies: Vec<String>,
}

pub(crate) fn import(text: &str, siblings: &dyn Siblings) -> Result<DocumentFacts, ImportError> {
    let lock: Lock = parse_toml(text)?;
    let version = lock
        .lock_version
        .clone()
        .ok_or_else(|| ImportError::field("lock-version", "missing"))?;
    check_version("lock-version", &version, &["1"])?;
    let mut graph = LockGraph::default();
    if let Some(by) = &lock.created_by {
        graph.tools.push(Tool {
            vendor: None,
            name: by.clone(),
            version: None,
        });
    }
    for p in &lock.packages {
        let source = if let Some(v) = &p.vcs {
            Some(Source::Git {
                url: v.url.clone().or_else(|| v.path.clone()).unwrap_or_default(),
                rev: v.commit_id.clone(),
                subdirectory: v.subdirectory.clone(),
            })
        } else if let Some(d) = &p.directory {
            Some(Source::Path {
                path: d.path.clone(),
                editable: d.editable,
            })
        } else if let Some(i) = &p.index {
            Some(Source::Registry(i.clone()))
        } else {
            p.archive
                .as_ref()
                .and_then(|a| a.url.clone())
                .map(Source::Url)
        };
        let hashes: Vec<Hash> = p
            .sdist
            .iter()
            .chain(&p.wheels)
            .chain(&p.archive)
            .flat_map(|f| f.hashes.iter().map(|(alg, v)| Hash::new(alg, v)))
            .collect();
        let released = p
            .sdist
            .iter()
            .chain(&p.wheels)
            .chain(&p.archive)
            .filter_map(|f| f.upload_time.as_ref().and_then(crate::graph::time_text))
            .min();
        let from = graph.packages.len();
        graph.packages.push(Locked {
            name: p.name.clone(),
            version: p.version.clone(),
            source,
            hashes,
            released,
            marker: p.marker.clone(),
            ..Default::default()
        });
        for d in p
            .tool
            .iter()
            .filter_map(|t| t.pdm.as_ref())
            .flat_map(|t| &t.dependencies)
        {
            graph.require_pep508(Some(from), d, None, false);
        }
    }
    graph.knows_direct = project::read_pyproject(siblings, &mut graph)
        || project::read_requirements_in(siblings, &mut graph);
    Ok(graph.into_facts(DocumentFormat::PyLock, version))
}
