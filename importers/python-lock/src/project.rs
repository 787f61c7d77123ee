//! Project files beside a lockfile: what the project asks for directly.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Siblings;
use crate::graph::{LockGraph, Project, Requirement};

#[derive(Deserialize, Default)]
struct PyProject {
    project: Option<Pep621>,
    #[serde(rename = "dependency-groups", default)]
    dependency_groups: BTreeMap<String, Vec<toml::Value>>,
    tool: Option<Tools>,
}

#[derive(Deserialize, Default)]
struct Pep621 {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(rename = "optional-dependencies", default)]
    optional_dependencies: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize, Default)]
struct Tools {
    poetry: Option<Poetry>,
    pdm: Option<Pdm>,
    uv: Option<Uv>,
}

#[derive(Deserialize, Default)]
struct Poetry {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    #[serde(rename = "dev-dependencies", default)]
    dev_dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    group: BTreeMap<String, PoetryGroup>,
}

#[derive(Deserialize, Default)]
struct PoetryGroup {
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize, Default)]
struct Pdm {
    #[serde(rename = "dev-dependencies", default)]
    dev_dependencies: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize, Default)]
struct Uv {
    #[serde(rename = "dev-dependencies", default)]
    dev_dependencies: Vec<String>,
}

/// Reads `pyproject.toml` beside the lockfile into the project's name and its
/// direct requirements. Returns false when there is none (or it is unreadable:
/// the lockfile is still ingested, with `direct` unknown and a warning).
pub(crate) fn read_pyproject(siblings: &dyn Siblings, graph: &mut LockGraph) -> bool {
    let Some(bytes) = siblings.read("pyproject.toml") else {
        return false;
    };
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|t| toml::from_str::<PyProject>(t).map_err(|e| e.message().to_string()));
    let py = match parsed {
        Ok(p) => p,
        Err(e) => {
            graph
                .warnings
                .push(format!("pyproject.toml beside the lockfile is unreadable ({e}); direct dependencies unknown"));
            return false;
        }
    };
    let add = |graph: &mut LockGraph, req: &str, via_extra: Option<&str>, dev: bool| {
        graph.require_pep508(None, req, via_extra, dev);
    };
    let mut found = false;
    if let Some(p) = &py.project {
        set_project(graph, p.name.clone(), p.version.clone());
        for r in &p.dependencies {
            add(graph, r, None, false);
        }
        for (extra, reqs) in &p.optional_dependencies {
            for r in reqs {
                add(graph, r, Some(extra), false);
            }
        }
        found = true;
    }
    for (group, reqs) in &py.dependency_groups {
        for r in reqs.iter().filter_map(toml::Value::as_str) {
            add(graph, r, Some(group), true);
        }
        found = true;
    }
    if let Some(tool) = &py.tool {
        if let Some(poetry) = &tool.poetry {
            set_project(graph, poetry.name.clone(), poetry.version.clone());
            let poetry_dep = |graph: &mut LockGraph,
                              name: &str,
                              spec: &toml::Value,
                              group: Option<&str>,
                              dev: bool| {
                if name.eq_ignore_ascii_case("python") {
                    return;
                }
                // `{ version = "...", markers = "..." }` (or a list of them);
                // Poetry's `^`/`~` constraints are not PEP 440 and are not kept.
                let markers: Vec<Option<String>> = match spec {
                    toml::Value::Table(t) => vec![
                        t.get("markers")
                            .and_then(|m| m.as_str())
                            .map(str::to_string),
                    ],
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|i| {
                            i.get("markers")
                                .and_then(|m| m.as_str())
                                .map(str::to_string)
                        })
                        .collect(),
                    _ => vec![None],
                };
                for marker in markers {
                    graph.require(Requirement {
                        from: None,
                        name: name.to_string(),
                        marker,
                        via_extra: group.map(str::to_string),
                        dev,
                        ..Default::default()
                    });
                }
            };
            for (name, spec) in &poetry.dependencies {
                poetry_dep(graph, name, spec, None, false);
                found = true;
            }
            for (name, spec) in &poetry.dev_dependencies {
                poetry_dep(graph, name, spec, Some("dev"), true);
                found = true;
            }
            for (group, g) in &poetry.group {
                for (name, spec) in &g.dependencies {
                    poetry_dep(graph, name, spec, Some(group), group != "main");
                    found = true;
                }
            }
        }
        if let Some(pdm) = &tool.pdm {
            for (group, reqs) in &pdm.dev_dependencies {
                for r in reqs {
                    add(graph, r, Some(group), true);
                }
                found = true;
            }
        }
        if let Some(uv) = &tool.uv {
            for r in &uv.dev_dependencies {
                add(graph, r, Some("dev"), true);
                found = true;
            }
        }
    }
    found
}

fn set_project(graph: &mut LockGraph, name: Option<String>, version: Option<String>) {
    if graph.project.name.is_none() && name.is_some() {
        graph.project = Project { name, version };
    }
}

/// `Pipfile`: `[packages]` and `[dev-packages]` are the direct requirements.
pub(crate) fn read_pipfile(siblings: &dyn Siblings, graph: &mut LockGraph) -> bool {
    #[derive(Deserialize, Default)]
    struct Pipfile {
        #[serde(default)]
        packages: BTreeMap<String, toml::Value>,
        #[serde(rename = "dev-packages", default)]
        dev_packages: BTreeMap<String, toml::Value>,
    }
    let Some(bytes) = siblings.read("Pipfile") else {
        return false;
    };
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|t| toml::from_str::<Pipfile>(t).map_err(|e| e.message().to_string()));
    let pipfile = match parsed {
        Ok(p) => p,
        Err(e) => {
            graph.warnings.push(format!(
                "Pipfile beside the lockfile is unreadable ({e}); direct dependencies unknown"
            ));
            return false;
        }
    };
    for (names, dev) in [(&pipfile.packages, false), (&pipfile.dev_packages, true)] {
        for (name, spec) in names {
            graph.require(Requirement {
                from: None,
                name: name.clone(),
                specifier: spec.as_str().filter(|s| *s != "*").map(str::to_string),
                via_extra: dev.then(|| "develop".to_string()),
                dev,
                ..Default::default()
            });
        }
    }
    true
}

/// `requirements.in` (pip-tools, `pip lock`): each requirement line is direct.
pub(crate) fn read_requirements_in(siblings: &dyn Siblings, graph: &mut LockGraph) -> bool {
    let Some(bytes) = siblings.read("requirements.in") else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        graph.require_pep508(None, line, None, false);
    }
    true
}

/// The name and version a `pyproject.toml` declares (`[project]`, else
/// `[tool.poetry]`), for a local directory a requirements file names.
pub(crate) fn name_and_version(bytes: &[u8]) -> Option<(String, Option<String>)> {
    let py: PyProject = toml::from_str(std::str::from_utf8(bytes).ok()?).ok()?;
    if let Some(p) = py.project.filter(|p| p.name.is_some()) {
        return p.name.map(|n| (n, p.version));
    }
    let poetry = py.tool?.poetry?;
    poetry.name.map(|n| (n, poetry.version))
}
