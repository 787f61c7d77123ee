//! `uv.lock`: `version = 1` (revisions 1–3+ of uv 0.4+), and the older
//! pre-release shape with `[[distribution]]` and string sources
//! (`source = "registry+https://…"`).

use std::collections::BTreeMap;

use aibomdb_graph::{DocumentFacts, DocumentFormat, ImportError};
use serde::Deserialize;

use crate::graph::{LockGraph, Locked, Project, Requirement, Source, parse_hash};
use crate::{Siblings, check_version, parse_toml, project};

#[derive(Deserialize)]
struct Lock {
    version: Option<toml::Value>,
    revision: Option<i64>,
    #[serde(default)]
    package: Vec<Package>,
    #[serde(default)]
    distribution: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: Option<String>,
    source: Option<SourceSpec>,
    #[serde(default)]
    dependencies: Vec<Dependency>,
    #[serde(rename = "optional-dependencies", default)]
    optional_dependencies: BTreeMap<String, Vec<Dependency>>,
    #[serde(rename = "dev-dependencies", default)]
    dev_dependencies: BTreeMap<String, Vec<Dependency>>,
    sdist: Option<Artifact>,
    #[serde(default)]
    wheels: Vec<Artifact>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SourceSpec {
    Table(SourceTable),
    Legacy(String),
}

#[derive(Deserialize)]
struct SourceTable {
    registry: Option<String>,
    git: Option<String>,
    path: Option<String>,
    directory: Option<String>,
    editable: Option<String>,
    #[serde(rename = "virtual")]
    virtual_: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    #[serde(default)]
    extra: Vec<String>,
}

#[derive(Deserialize)]
struct Artifact {
    hash: Option<String>,
    /// uv writes a string; a TOML date-time is read too.
    #[serde(rename = "upload-time")]
    upload_time: Option<toml::Value>,
}

pub(crate) fn import(text: &str, siblings: &dyn Siblings) -> Result<DocumentFacts, ImportError> {
    let lock: Lock = parse_toml(text)?;
    let version = match &lock.version {
        Some(toml::Value::Integer(v)) => v.to_string(),
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(ImportError::field(
                "version",
                format!("expected a number, found {other}"),
            ));
        }
        None => return Err(ImportError::field("version", "missing")),
    };
    check_version("version", &version, &["1"])?;
    let spec = match lock.revision {
        Some(r) => format!("{version} (revision {r})"),
        None => version,
    };
    let packages: Vec<Package> = lock.package.into_iter().chain(lock.distribution).collect();
    let mut graph = LockGraph::default();
    // The project (and workspace members) are the packages with a local,
    // non-registry source at the lock's root.
    let is_project = |p: &Package| match &p.source {
        Some(SourceSpec::Table(t)) => [&t.virtual_, &t.editable, &t.directory]
            .iter()
            .any(|s| s.as_deref().is_some_and(crate::graph::is_root_path)),
        Some(SourceSpec::Legacy(s)) => s == "editable+." || s == "virtual+." || s == "directory+.",
        None => false,
    };
    let root = packages.iter().position(is_project);
    let mut index_of = Vec::with_capacity(packages.len());
    for (i, p) in packages.iter().enumerate() {
        if Some(i) == root {
            graph.project = Project {
                name: Some(p.name.clone()),
                version: p.version.clone(),
            };
            index_of.push(None);
            continue;
        }
        let source = p.source.as_ref().map(source_of);
        let mut hashes = Vec::new();
        for a in p.sdist.iter().chain(&p.wheels) {
            if let Some(h) = a.hash.as_deref().and_then(parse_hash) {
                hashes.push(h);
            }
        }
        let requested = match (&p.version, &source) {
            (None, Some(Source::Git { rev, .. })) => {
                Some(rev.clone().unwrap_or_else(|| "git HEAD".into()))
            }
            (None, _) => Some("no version locked".into()),
            _ => None,
        };
        // RFC 3339 strings of one form compare in time order.
        let released = p
            .sdist
            .iter()
            .chain(&p.wheels)
            .filter_map(|a| a.upload_time.as_ref().and_then(crate::graph::time_text))
            .min();
        index_of.push(Some(graph.packages.len()));
        graph.packages.push(Locked {
            name: p.name.clone(),
            version: p.version.clone(),
            requested,
            source,
            hashes,
            released,
            ..Default::default()
        });
    }
    for (i, p) in packages.iter().enumerate() {
        let from = index_of[i];
        let mut add = |d: &Dependency, via_extra: Option<&String>, dev: bool| {
            graph.require(Requirement {
                from,
                name: d.name.clone(),
                version: d.version.clone(),
                marker: d.marker.clone(),
                via_extra: via_extra
                    .cloned()
                    .or_else(|| (!d.extra.is_empty()).then(|| d.extra.join(","))),
                dev,
                ..Default::default()
            });
        };
        for d in &p.dependencies {
            add(d, None, false);
        }
        for (extra, deps) in &p.optional_dependencies {
            for d in deps {
                add(d, Some(extra), false);
            }
        }
        for (group, deps) in &p.dev_dependencies {
            for d in deps {
                add(d, Some(group), true);
            }
        }
    }
    graph.knows_direct = root.is_some();
    if root.is_none() {
        graph.knows_direct = project::read_pyproject(siblings, &mut graph);
    }
    Ok(graph.into_facts(DocumentFormat::UvLock, spec))
}

fn source_of(s: &SourceSpec) -> Source {
    match s {
        SourceSpec::Table(t) => {
            if let Some(r) = &t.registry {
                Source::Registry(r.clone())
            } else if let Some(g) = &t.git {
                git_source(g)
            } else if let Some(p) = &t.editable {
                Source::Path {
                    path: p.clone(),
                    editable: true,
                }
            } else if let Some(p) = t
                .path
                .as_ref()
                .or(t.directory.as_ref())
                .or(t.virtual_.as_ref())
            {
                Source::Path {
                    path: p.clone(),
                    editable: false,
                }
            } else {
                Source::Url(t.url.clone().unwrap_or_default())
            }
        }
        SourceSpec::Legacy(s) => {
            let (kind, rest) = s.split_once('+').unwrap_or(("", s));
            match kind {
                "registry" => Source::Registry(rest.to_string()),
                "git" => git_source(rest),
                "editable" => Source::Path {
                    path: rest.to_string(),
                    editable: true,
                },
                "path" | "directory" | "virtual" => Source::Path {
                    path: rest.to_string(),
                    editable: false,
                },
                _ => Source::Url(s.clone()),
            }
        }
    }
}

/// `https://host/repo?rev=main#<commit>` → the URL and the pinned commit.
fn git_source(s: &str) -> Source {
    let (url, commit) = match s.split_once('#') {
        Some((u, c)) => (u, Some(c.to_string())),
        None => (s, None),
    };
    let url = url.split('?').next().unwrap_or(url);
    Source::Git {
        url: url.to_string(),
        rev: commit,
        subdirectory: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_sources_keep_the_commit() {
        assert_eq!(
            git_source("https://example.com/org/repo?rev=v1.0#0123abc"),
            Source::Git {
                url: "https://example.com/org/repo".into(),
                rev: Some("0123abc".into()),
                subdirectory: None
            }
        );
    }

    #[test]
    fn legacy_string_sources() {
        assert_eq!(
            source_of(&SourceSpec::Legacy("registry+https://x/simple".into())),
            Source::Registry("https://x/simple".into())
        );
        assert_eq!(
            source_of(&SourceSpec::Legacy("editable+.".into())),
            Source::Path {
                path: ".".into(),
                editable: true
            }
        );
    }

    #[test]
    fn unknown_version_is_refused() {
        let err = import(
            "version = 7\n[[package]]\nname = \"a\"\n",
            &crate::NoSiblings,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown lock version \"7\""),
            "{err}"
        );
    }
}
