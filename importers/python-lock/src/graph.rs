//! What every lockfile reader fills: locked packages and name-addressed
//! requirements, resolved into graph facts in one place.

use std::collections::HashMap;
use std::str::FromStr;

use aibomdb_graph::{
    DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, Hash, PackageFact, PackageKey, Scope,
    Subject, Tool, pep503_normalise,
};

/// One package as the lockfile pins it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Locked {
    pub(crate) name: String,
    /// `None` when nothing exact is pinned (then `requested` says what was asked).
    pub(crate) version: Option<String>,
    pub(crate) requested: Option<String>,
    pub(crate) source: Option<Source>,
    pub(crate) hashes: Vec<Hash>,
    pub(crate) marker: Option<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) dev: bool,
    /// Line in the file where the entry starts, for messages.
    pub(crate) line: Option<usize>,
    /// Earliest `upload-time` of the version's files (RFC 3339).
    pub(crate) released: Option<String>,
}

/// Where a locked package comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Registry(String),
    Git {
        url: String,
        rev: Option<String>,
        /// `#subdirectory=` of a VCS URL: the project inside the repository.
        subdirectory: Option<String>,
    },
    Path {
        path: String,
        editable: bool,
    },
    Url(String),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Registry(url) => url.clone(),
            Source::Git { .. } => self.vcs_url(),
            Source::Path { path, editable } => {
                if *editable {
                    format!("editable:{path}")
                } else {
                    format!("path:{path}")
                }
            }
            Source::Url(u) => u.clone(),
        }
    }

    /// `git+url@rev#subdirectory=sub`, as pip writes a VCS requirement.
    fn vcs_url(&self) -> String {
        let Source::Git {
            url,
            rev,
            subdirectory,
        } = self
        else {
            return String::new();
        };
        let mut out = format!("git+{url}");
        if let Some(r) = rev {
            out.push('@');
            out.push_str(r);
        }
        if let Some(s) = subdirectory {
            out.push_str("#subdirectory=");
            out.push_str(s);
        }
        out
    }

    fn qualifier(&self) -> Option<(String, String)> {
        match self {
            Source::Registry(url) => Some(("repository_url".into(), url.clone())),
            Source::Git { .. } => Some(("vcs_url".into(), self.vcs_url())),
            Source::Url(u) => Some(("download_url".into(), u.clone())),
            Source::Path { .. } => None,
        }
    }
}

/// A requirement of one package (or of the project) on another, by name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Requirement {
    /// Index into `packages`; `None` means the project itself.
    pub(crate) from: Option<usize>,
    pub(crate) name: String,
    /// An exact version when the lockfile disambiguates (uv.lock does).
    pub(crate) version: Option<String>,
    /// A PEP 440 specifier set, used to choose among several locked versions.
    pub(crate) specifier: Option<String>,
    pub(crate) marker: Option<String>,
    pub(crate) via_extra: Option<String>,
    pub(crate) dev: bool,
}

/// The project the lockfile was made for.
#[derive(Debug, Default, Clone)]
pub(crate) struct Project {
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct LockGraph {
    pub(crate) project: Project,
    pub(crate) packages: Vec<Locked>,
    pub(crate) requirements: Vec<Requirement>,
    /// True when the file (or the project file beside it) says which packages
    /// the project asks for: `direct` is then known for every package.
    pub(crate) knows_direct: bool,
    pub(crate) tools: Vec<Tool>,
    pub(crate) warnings: Vec<String>,
}

impl LockGraph {
    pub(crate) fn require(&mut self, r: Requirement) {
        self.requirements.push(r);
    }

    /// A PEP 508 string (`numpy>=1.17; python_version < "3.12"`) as a
    /// requirement of package `from` (`None`: the project).
    pub(crate) fn require_pep508(
        &mut self,
        from: Option<usize>,
        s: &str,
        via_extra: Option<&str>,
        dev: bool,
    ) {
        if let Some((name, specifier, marker)) = split_requirement(s) {
            self.require(Requirement {
                from,
                name,
                specifier,
                marker,
                via_extra: via_extra.map(str::to_string),
                dev,
                ..Default::default()
            });
        }
    }

    /// The one rule for a lock's own project entry, whichever tool wrote the
    /// lock (uv.lock's virtual/editable root, pylock.toml's
    /// `directory = { path = "." }`, a PDM or Poetry entry at `.`): a package
    /// whose source is the lock's own directory is the project the lock was
    /// made for, the document's subject, not a dependency. Its requirements
    /// become the project's.
    fn fold_project_entries(&mut self) {
        let is_root =
            |p: &Locked| matches!(&p.source, Some(Source::Path { path, .. }) if is_root_path(path));
        if !self.packages.iter().any(is_root) {
            return;
        }
        let mut new_index = Vec::with_capacity(self.packages.len());
        let mut kept = Vec::with_capacity(self.packages.len());
        for p in std::mem::take(&mut self.packages) {
            if is_root(&p) {
                if self.project.name.is_none() {
                    self.project = Project {
                        name: Some(p.name.clone()),
                        version: p.version.clone(),
                    };
                }
                new_index.push(None);
            } else {
                new_index.push(Some(kept.len()));
                kept.push(p);
            }
        }
        self.packages = kept;
        for r in &mut self.requirements {
            r.from = r.from.and_then(|i| new_index.get(i).copied().flatten());
        }
    }

    /// Turns the lock into facts: one package per locked entry, the project as
    /// the subject, every requirement resolved to the locked version(s) it can
    /// mean.
    pub(crate) fn into_facts(
        mut self,
        format: DocumentFormat,
        spec_version: String,
    ) -> DocumentFacts {
        self.fold_project_entries();
        let mut facts = DocumentFacts::new(format, spec_version);
        facts.tools = self.tools;
        facts.warnings = self.warnings;
        facts.entries_read = self.packages.len();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in self.packages.iter().enumerate() {
            by_name
                .entry(pep503_normalise(&p.name))
                .or_default()
                .push(i);
            facts.packages.push(package_fact(p));
        }
        // The project: a node of its own so paths start there. Local projects
        // are not on an index, so `generic`, as SBOM tools name them.
        let root = self.project.name.as_ref().map(|name| {
            let name = pep503_normalise(name);
            let key =
                PackageKey::from_parts("generic", None, &name, self.project.version.as_deref());
            facts.packages.push(PackageFact {
                key: Some(key),
                purl_synthesized: true,
                name: name.clone(),
                version: self.project.version.clone(),
                kind: Some("application".into()),
                ..Default::default()
            });
            let index = facts.packages.len() - 1;
            facts.subject = Some(Subject {
                name,
                version: self.project.version.clone(),
                kind: Some("application".into()),
                package: Some(index),
                reference: None,
            });
            index
        });
        let mut direct = vec![false; self.packages.len()];
        for r in &self.requirements {
            let name = pep503_normalise(&r.name);
            let Some(candidates) = by_name.get(&name) else {
                // Requirements whose marker excluded them from this lock, or
                // extras the lock does not install: nothing to link.
                continue;
            };
            let targets = choose(&self.packages, candidates, r);
            // The project's own requirements mark packages direct even when
            // the project has no name to make a node of.
            let from = match r.from {
                Some(i) => Some(i),
                None => {
                    for &to in &targets {
                        direct[to] = true;
                    }
                    root
                }
            };
            let Some(from) = from else { continue };
            for to in targets {
                facts.dependencies.push(DependencyFact {
                    from,
                    to,
                    kind: EdgeKind::DependsOn,
                    scope: r.dev.then_some(Scope::Dev),
                    marker: r.marker.clone(),
                    via_extra: r.via_extra.clone(),
                });
            }
        }
        if self.knows_direct {
            for (fact, d) in facts.packages.iter_mut().zip(direct) {
                fact.direct = Some(d);
            }
        }
        facts.finish()
    }
}

/// The lock's own directory, as tools write it (`.`, `./`, empty).
pub(crate) fn is_root_path(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "" | ".")
}

/// Which locked versions a requirement can mean: the exact one named, else
/// those its specifier admits, else all of them.
fn choose(packages: &[Locked], candidates: &[usize], r: &Requirement) -> Vec<usize> {
    if candidates.len() == 1 {
        return candidates.to_vec();
    }
    if let Some(v) = &r.version {
        let exact: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|i| packages[*i].version.as_deref() == Some(v.as_str()))
            .collect();
        if !exact.is_empty() {
            return exact;
        }
    }
    if let Some(spec) = r
        .specifier
        .as_deref()
        .and_then(|s| pep440_rs::VersionSpecifiers::from_str(s).ok())
    {
        let admitted: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|i| {
                packages[*i]
                    .version
                    .as_deref()
                    .and_then(|v| pep440_rs::Version::from_str(v).ok())
                    .is_some_and(|v| spec.contains(&v))
            })
            .collect();
        if !admitted.is_empty() {
            return admitted;
        }
    }
    candidates.to_vec()
}

fn package_fact(p: &Locked) -> PackageFact {
    let name = pep503_normalise(&p.name);
    let key = PackageKey::from_parts("pypi", None, &name, p.version.as_deref());
    let mut qualifiers = Vec::new();
    if let Some(q) = p.source.as_ref().and_then(Source::qualifier) {
        qualifiers.push(q);
    }
    let mut purl = key.as_str().to_string();
    for (i, (k, v)) in qualifiers.iter().enumerate() {
        purl.push(if i == 0 { '?' } else { '&' });
        purl.push_str(k);
        purl.push('=');
        purl.push_str(&encode_qualifier(v));
    }
    let mut flags = Vec::new();
    if let Some(Source::Path { editable: true, .. }) = p.source {
        flags.push("editable: installed from a local checkout".to_string());
    }
    PackageFact {
        key: Some(key),
        purl: Some(purl),
        purl_synthesized: true,
        name: p.name.clone(),
        version: p.version.clone(),
        kind: Some("library".into()),
        scope: p.dev.then_some(Scope::Dev),
        qualifiers,
        hashes: p.hashes.clone(),
        source: p.source.as_ref().map(Source::describe),
        marker: p.marker.clone(),
        // Nothing exact pinned and no request stated: say so rather than guess.
        requested: p
            .requested
            .clone()
            .or_else(|| p.version.is_none().then(|| "no version locked".to_string())),
        groups: p.groups.clone(),
        flags,
        refs: p.line.iter().map(|l| format!("line {l}")).collect(),
        released: p.released.clone(),
        ..Default::default()
    }
}

/// Percent-encodes a qualifier value as purl generators do (`:` and `/` kept
/// readable would be ambiguous in `?k=v&...`, so `%`, `&`, `#`, `?`, `+`,
/// space are encoded).
fn encode_qualifier(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            '+' => out.push_str("%2B"),
            ' ' => out.push_str("%20"),
            _ => out.push(c),
        }
    }
    out
}

/// `sha256:abcd` → Hash; anything else is kept with its algorithm as written.
pub(crate) fn parse_hash(s: &str) -> Option<Hash> {
    let (alg, value) = s.split_once([':', '='])?;
    Some(Hash::new(alg, value))
}

/// Splits a PEP 508 string into (name, specifier, marker, extras) leniently
/// enough for the dependency lists of lock files. Strict parsing (with
/// errors) is for requirements files, see `requirements.rs`.
pub(crate) fn split_requirement(s: &str) -> Option<(String, Option<String>, Option<String>)> {
    match crate::parse_pep508(s) {
        Ok(r) => {
            let spec = match &r.version_or_url {
                Some(pep508_rs::VersionOrUrl::VersionSpecifier(v)) if !v.is_empty() => {
                    Some(v.to_string())
                }
                _ => None,
            };
            Some((r.name.to_string(), spec, r.marker.try_to_string()))
        }
        Err(_) => {
            let name: String = s
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            (!name.is_empty()).then_some((name, None, None))
        }
    }
}

/// An `upload-time` as text: a TOML date-time or a string as written; any
/// other type is not a time and is left out.
pub(crate) fn time_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::Datetime(d) => Some(d.to_string()),
        toml::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(name: &str, version: &str) -> Locked {
        Locked {
            name: name.into(),
            version: Some(version.into()),
            ..Default::default()
        }
    }

    #[test]
    fn requirements_resolve_to_the_admitted_versions() {
        let mut g = LockGraph {
            project: Project {
                name: Some("App".into()),
                version: Some("1.0".into()),
            },
            knows_direct: true,
            ..Default::default()
        };
        g.packages = vec![
            locked("numpy", "2.4.6"),
            locked("numpy", "2.5.5"),
            locked("Torch", "2.15.0"),
        ];
        g.require(Requirement {
            name: "torch".into(),
            ..Default::default()
        });
        g.require(Requirement {
            from: Some(2),
            name: "NumPy".into(),
            specifier: Some(">=2.5".into()),
            ..Default::default()
        });
        g.require(Requirement {
            from: Some(2),
            name: "numpy".into(),
            version: Some("2.4.6".into()),
            marker: Some("python_full_version < '3.12'".into()),
            ..Default::default()
        });
        let facts = g.into_facts(DocumentFormat::UvLock, "1".into());
        assert_eq!(facts.component_count(), 3);
        assert_eq!(facts.dependencies.len(), 3);
        let keys: Vec<&str> = facts
            .packages
            .iter()
            .map(|p| p.key.as_ref().unwrap().as_str())
            .collect();
        assert_eq!(keys[3], "pkg:generic/app@1.0");
        assert_eq!(facts.packages[2].direct, Some(true));
        assert_eq!(facts.packages[0].direct, Some(false));
        let marked: Vec<_> = facts
            .dependencies
            .iter()
            .filter(|d| d.marker.is_some())
            .collect();
        assert_eq!(marked.len(), 1);
        assert_eq!(marked[0].to, 0);
    }

    #[test]
    fn hashes_and_requirements_split() {
        let h = parse_hash("sha256:ABCD").unwrap();
        assert_eq!((h.alg.as_str(), h.value.as_str()), ("sha256", "abcd"));
        assert_eq!(
            split_requirement("huggingface-hub>=0.21.0; python_version >= '3.9'"),
            Some((
                "huggingface-hub".into(),
                Some(">=0.21.0".into()),
                Some("python_full_version >= '3.9'".into())
            ))
        );
        assert_eq!(
            split_requirement("psutil"),
            Some(("psutil".into(), None, None))
        );
    }
}
