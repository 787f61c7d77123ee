//! The facts an importer extracts from one document. Every format is turned
//! into these; nothing downstream knows which tool wrote the file.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::purl::PackageKey;

/// Which format family and spec a document was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DocumentFormat {
    CycloneDx,
    Spdx2,
    Spdx3,
    UvLock,
    PoetryLock,
    PdmLock,
    /// PEP 751 `pylock.toml`.
    PyLock,
    PipfileLock,
    RequirementsTxt,
    OpenVex,
    /// A model directory (card, configs, weights) read as a whole.
    ModelDirectory,
    /// The Hub API's model info JSON.
    HubModelInfo,
    /// An in-toto statement (bare, in a DSSE envelope or a Sigstore bundle).
    /// Appended last: stores encode this enum by index.
    InTotoAttestation,
}

impl DocumentFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentFormat::CycloneDx => "cyclonedx",
            DocumentFormat::Spdx2 => "spdx2",
            DocumentFormat::Spdx3 => "spdx3",
            DocumentFormat::UvLock => "uv.lock",
            DocumentFormat::PoetryLock => "poetry.lock",
            DocumentFormat::PdmLock => "pdm.lock",
            DocumentFormat::PyLock => "pylock.toml",
            DocumentFormat::PipfileLock => "Pipfile.lock",
            DocumentFormat::RequirementsTxt => "requirements.txt",
            DocumentFormat::OpenVex => "openvex",
            DocumentFormat::ModelDirectory => "model-directory",
            DocumentFormat::HubModelInfo => "hub-model-info",
            DocumentFormat::InTotoAttestation => "in-toto",
        }
    }

    /// How people name the format, for messages.
    pub fn label(self) -> &'static str {
        match self {
            DocumentFormat::CycloneDx => "CycloneDX JSON",
            DocumentFormat::Spdx2 => "SPDX 2 JSON",
            DocumentFormat::Spdx3 => "SPDX 3 JSON-LD",
            DocumentFormat::OpenVex => "OpenVEX",
            DocumentFormat::ModelDirectory => "model directory",
            DocumentFormat::HubModelInfo => "Hub model info JSON",
            DocumentFormat::InTotoAttestation => "in-toto attestation",
            other => other.as_str(),
        }
    }

    /// The kind of evidence: `sbom`, `lockfile`, `vex`, `model` or `attestation`.
    pub fn family(self) -> &'static str {
        match self {
            DocumentFormat::OpenVex => "vex",
            DocumentFormat::InTotoAttestation => "attestation",
            DocumentFormat::ModelDirectory | DocumentFormat::HubModelInfo => "model",
            DocumentFormat::CycloneDx | DocumentFormat::Spdx2 | DocumentFormat::Spdx3 => "sbom",
            _ => "lockfile",
        }
    }
}

impl std::fmt::Display for DocumentFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub vendor: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

/// What the document describes: the image, application or project at its root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    pub version: Option<String>,
    /// Component type (`container`, `application`, `library`, ...).
    pub kind: Option<String>,
    /// Index into [`DocumentFacts::packages`] when the subject is also a package.
    pub package: Option<usize>,
    /// The subject's own id in the document (`bom-ref`, SPDXID), which VEX
    /// statements and BOM-Links point at.
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hash {
    /// Normalised algorithm name: `sha256`, `sha512`, `sha1`, `md5`, `blake2b-256`, ...
    pub alg: String,
    /// Lower-case hex.
    pub value: String,
}

impl Hash {
    /// Normalises `SHA-256`, `SHA256`, `sha256` to one spelling.
    pub fn new(alg: &str, value: &str) -> Self {
        let alg: String = alg
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let alg = match alg.as_str() {
            "blake2b256" => "blake2b-256".to_string(),
            "blake2b384" => "blake2b-384".to_string(),
            "blake2b512" => "blake2b-512".to_string(),
            "sha3256" => "sha3-256".to_string(),
            "sha3384" => "sha3-384".to_string(),
            "sha3512" => "sha3-512".to_string(),
            _ => alg,
        };
        Hash {
            alg,
            value: value.trim().to_ascii_lowercase(),
        }
    }
}

/// How a dependency is used, where the document says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    Required,
    Optional,
    Dev,
    Build,
    Test,
    Excluded,
    Runtime,
    Provided,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Required => "required",
            Scope::Optional => "optional",
            Scope::Dev => "dev",
            Scope::Build => "build",
            Scope::Test => "test",
            Scope::Excluded => "excluded",
            Scope::Runtime => "runtime",
            Scope::Provided => "provided",
        }
    }
}

/// One package as one document states it. The key is normalised; the rest is
/// what the document said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFact {
    pub key: Option<PackageKey>,
    /// The purl exactly as written, when there was one.
    pub purl: Option<String>,
    /// True when the document gave no purl and the key was made from name and version.
    pub purl_synthesized: bool,
    pub name: String,
    pub version: Option<String>,
    /// Component/package type as stated (`library`, `operating-system`, ...).
    pub kind: Option<String>,
    pub scope: Option<Scope>,
    /// `Some(true)` when the document's root depends on it directly,
    /// `Some(false)` when it is reached only through other packages,
    /// `None` when the document has no dependency graph to tell.
    pub direct: Option<bool>,
    /// Purl qualifiers (`arch`, `distro`, `upstream`, `epoch`, `repository_url`).
    pub qualifiers: Vec<(String, String)>,
    /// Where the package comes from as the document states it: an index URL,
    /// a VCS URL with its revision, a local path.
    pub source: Option<String>,
    /// The environment marker under which the package is installed at all.
    pub marker: Option<String>,
    /// The version requirement, when the document pins no exact version
    /// (`*`, a range, a VCS reference): recorded, never invented.
    pub requested: Option<String>,
    /// Dependency groups / sections that include it (`default`, `dev`, `main`, ...).
    pub groups: Vec<String>,
    pub hashes: Vec<Hash>,
    pub licenses: Vec<String>,
    pub cpes: Vec<String>,
    pub supplier: Option<String>,
    /// The source package this binary package was built from (`name`, `version`).
    pub source_package: Option<(String, Option<String>)>,
    /// Paths inside the scanned artifact where the package was found.
    pub locations: Vec<String>,
    /// Purls of ancestors from a CycloneDX `pedigree`.
    pub pedigree_ancestors: Vec<String>,
    /// Why this entry deserves doubt (vendored copy, launcher binary reported as a package, ...).
    pub flags: Vec<String>,
    /// The document's own identifiers for this entry (bom-ref, SPDXID), for edges.
    pub refs: Vec<String>,
    /// For a model or dataset node: what its card, configs and files say.
    pub model: Option<Box<crate::model::ModelInfo>>,
    /// When this version was published, as the document states it (RFC 3339;
    /// uv.lock / pylock.toml `upload-time`, earliest of the version's files).
    /// Kept last: stores written before it existed are read by appending
    /// its `None` (see `crates/store/src/codec.rs`).
    #[serde(default)]
    pub released: Option<String>,
    /// Who made the component and how to reach them (BSI TR-03183-2 field 3,
    /// "component creator"): CycloneDX `manufacturer` (else a `supplier` or
    /// `authors` with a contact), SPDX `originator` (else `supplier`).
    #[serde(default)]
    pub creator: Option<Party>,
    /// Licences a document marks as *concluded* (CycloneDX acknowledgement
    /// `concluded`, SPDX `licenseConcluded`): the licence under which the
    /// component may be used. Kept apart from `licenses` (declared, or stated
    /// without saying which) only when the document did not also declare it.
    #[serde(default)]
    pub licenses_concluded: Vec<String>,
    /// The component's file name as delivered (CycloneDX property
    /// `bsi:component:filename`, SPDX `packageFileName`).
    #[serde(default)]
    pub filename: Option<String>,
    /// For an attestation's subject: what the statement says of it, what
    /// its signature proved, and what it was bound to by digest.
    #[serde(default)]
    pub attestation: Option<Box<crate::attestation::Attestation>>,
    /// Secrets found in a model's files (credentials in configs, notebooks,
    /// pickle strings): where, which rule, a redacted form and a fingerprint —
    /// never the secret. Appended last so older rows still read.
    #[serde(default)]
    pub secrets: Vec<crate::model::SecretFinding>,
    /// What a model's weight files state in their own headers (GGUF
    /// metadata, an ONNX file's producer and opsets, a Keras archive's
    /// version and layers). Appended last so older rows still read.
    #[serde(default)]
    pub file_metadata: Vec<crate::model::FileMetadata>,
}

/// An organisation or person with the ways a document gives to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: Option<String>,
    pub emails: Vec<String>,
    pub urls: Vec<String>,
}

impl Party {
    /// Whether it can be reached: an email address or a URL.
    pub fn has_contact(&self) -> bool {
        !self.emails.is_empty() || !self.urls.is_empty()
    }
}

/// The kind of a package→package edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EdgeKind {
    DependsOn,
    Contains,
    /// Model lineage: this model was fine-tuned from the target.
    FinetunedFrom,
    /// This adapter applies on top of the target base model.
    AdapterOf,
    /// This model is a quantization of the target.
    QuantizedFrom,
    /// This model merges the target (one edge per merged model).
    MergedFrom,
    /// Model → Dataset it was trained on.
    TrainedOn,
    /// Model → Dataset it was evaluated on.
    EvaluatedOn,
    /// Derived from the target, relation not stated (CycloneDX pedigree ancestors).
    DerivedFrom,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::DependsOn => "depends_on",
            EdgeKind::Contains => "contains",
            EdgeKind::FinetunedFrom => "derived_from:finetune",
            EdgeKind::AdapterOf => "derived_from:adapter",
            EdgeKind::QuantizedFrom => "derived_from:quantized",
            EdgeKind::MergedFrom => "derived_from:merge",
            EdgeKind::TrainedOn => "trained_on",
            EdgeKind::EvaluatedOn => "evaluated_on",
            EdgeKind::DerivedFrom => "derived_from",
        }
    }

    /// A small stable number for compact storage.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<EdgeKind> {
        const ALL: [EdgeKind; 9] = [
            EdgeKind::DependsOn,
            EdgeKind::Contains,
            EdgeKind::FinetunedFrom,
            EdgeKind::AdapterOf,
            EdgeKind::QuantizedFrom,
            EdgeKind::MergedFrom,
            EdgeKind::TrainedOn,
            EdgeKind::EvaluatedOn,
            EdgeKind::DerivedFrom,
        ];
        ALL.get(code as usize).copied()
    }

    /// The lineage relation (`finetune`, `adapter`, `quantized`, `merge`), for derived-from edges.
    pub fn relation(self) -> Option<&'static str> {
        Some(match self {
            EdgeKind::FinetunedFrom => "finetune",
            EdgeKind::AdapterOf => "adapter",
            EdgeKind::QuantizedFrom => "quantized",
            EdgeKind::MergedFrom => "merge",
            EdgeKind::DerivedFrom => "unspecified",
            _ => return None,
        })
    }

    /// Model lineage: derived from another model, or trained/evaluated on a dataset.
    pub fn is_lineage(self) -> bool {
        self.relation().is_some() || matches!(self, EdgeKind::TrainedOn | EdgeKind::EvaluatedOn)
    }

    /// Hugging Face `base_model_relation` values.
    pub fn from_relation(relation: &str) -> Option<EdgeKind> {
        Some(match relation.trim().to_ascii_lowercase().as_str() {
            "finetune" | "fine-tune" | "finetuned" => EdgeKind::FinetunedFrom,
            "adapter" => EdgeKind::AdapterOf,
            "quantized" | "quantization" => EdgeKind::QuantizedFrom,
            "merge" | "merged" => EdgeKind::MergedFrom,
            _ => return None,
        })
    }
}

/// A package→package edge as stated by one document (indices into `packages`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DependencyFact {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    pub scope: Option<Scope>,
    /// Environment marker on the requirement (`sys_platform == 'win32'`).
    pub marker: Option<String>,
    /// The extra or dependency group of `from` that brings this edge in.
    pub via_extra: Option<String>,
}

/// An entry the importer read but did not turn into a package, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub reference: String,
    pub reason: String,
}

/// Everything one document says, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentFacts {
    pub format: DocumentFormat,
    pub spec_version: String,
    pub tools: Vec<Tool>,
    /// `serialNumber`, `documentNamespace` or the SPDX 3 document id.
    pub serial: Option<String>,
    /// Creation time as the document states it.
    pub created: Option<String>,
    pub subject: Option<Subject>,
    pub packages: Vec<PackageFact>,
    pub dependencies: Vec<DependencyFact>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
    /// VEX statements the document makes (CycloneDX `vulnerabilities[]` with an
    /// `analysis`, OpenVEX `statements[]`).
    pub vex: Vec<crate::vex::VexStatement>,
    /// Component/package entries read from the document (before entries
    /// naming the same package were merged; the subject not counted).
    pub entries_read: usize,
}

impl DocumentFacts {
    pub fn new(format: DocumentFormat, spec_version: impl Into<String>) -> Self {
        DocumentFacts {
            format,
            spec_version: spec_version.into(),
            tools: Vec::new(),
            serial: None,
            created: None,
            subject: None,
            packages: Vec::new(),
            dependencies: Vec::new(),
            skipped: Vec::new(),
            warnings: Vec::new(),
            vex: Vec::new(),
            entries_read: 0,
        }
    }

    /// Merges entries with the same key (a document may list one package at
    /// several locations), remaps edges, drops self-loops and duplicate edges,
    /// and derives `direct` from the subject's edges when the document has a
    /// dependency graph. Every importer calls this last.
    pub fn finish(mut self) -> Self {
        // Most documents list each package once and every entry has a key:
        // then nothing moves (a first pass by reference, without cloning a
        // key or moving a fact).
        let unique = {
            let mut seen: std::collections::HashSet<&str> =
                std::collections::HashSet::with_capacity(self.packages.len());
            self.packages
                .iter()
                .all(|p| p.key.as_ref().is_some_and(|k| seen.insert(k.as_str())))
        };
        let remap: Vec<usize> = match unique {
            true => (0..self.packages.len()).collect(),
            false => self.merge_same_keys(),
        };
        self.finish_edges(&remap);
        self
    }

    /// Merges entries with the same key and drops those with none; the new
    /// index of each entry (`usize::MAX`: dropped).
    fn merge_same_keys(&mut self) -> Vec<usize> {
        let mut by_key: HashMap<PackageKey, usize> = HashMap::with_capacity(self.packages.len());
        let mut remap = Vec::with_capacity(self.packages.len());
        let mut merged: Vec<PackageFact> = Vec::with_capacity(self.packages.len());
        for fact in std::mem::take(&mut self.packages) {
            let Some(key) = fact.key.clone() else {
                self.skipped.push(Skipped {
                    reference: fact
                        .refs
                        .first()
                        .cloned()
                        .unwrap_or_else(|| fact.name.clone()),
                    reason: "no purl and no name to identify it".into(),
                });
                remap.push(usize::MAX);
                continue;
            };
            match by_key.get(&key) {
                Some(&i) => {
                    merge_into(&mut merged[i], fact);
                    remap.push(i);
                }
                None => {
                    by_key.insert(key, merged.len());
                    remap.push(merged.len());
                    merged.push(fact);
                }
            }
        }
        self.packages = merged;
        remap
    }

    /// Edges and the subject after entries moved (`remap`), and `direct`.
    fn finish_edges(&mut self, remap: &[usize]) {
        if let Some(subject) = self.subject.as_mut() {
            subject.package = subject
                .package
                .and_then(|i| remap.get(i).copied())
                .filter(|i| *i != usize::MAX);
        }
        let mut edges: Vec<DependencyFact> = std::mem::take(&mut self.dependencies)
            .into_iter()
            .filter_map(|mut e| {
                e.from = *remap.get(e.from)?;
                e.to = *remap.get(e.to)?;
                (e.from != usize::MAX && e.to != usize::MAX && e.from != e.to).then_some(e)
            })
            .collect();
        edges.sort();
        edges.dedup();
        self.dependencies = edges;

        let root = self.subject.as_ref().and_then(|s| s.package);
        if let Some(root) = root {
            let has_graph = self
                .dependencies
                .iter()
                .any(|e| e.from == root && e.kind == EdgeKind::DependsOn);
            if has_graph {
                let mut direct = vec![false; self.packages.len()];
                for e in &self.dependencies {
                    if e.from == root && e.kind == EdgeKind::DependsOn {
                        direct[e.to] = true;
                    }
                }
                for (i, p) in self.packages.iter_mut().enumerate() {
                    if i != root && p.direct.is_none() {
                        p.direct = Some(direct[i]);
                    }
                }
            }
        }
    }

    /// Packages other than the subject itself.
    pub fn component_count(&self) -> usize {
        let root = self.subject.as_ref().and_then(|s| s.package);
        self.packages.len() - usize::from(root.is_some())
    }
}

fn merge_into(into: &mut PackageFact, from: PackageFact) {
    fn extend_unique<T: PartialEq>(into: &mut Vec<T>, from: Vec<T>) {
        for item in from {
            if !into.contains(&item) {
                into.push(item);
            }
        }
    }
    extend_unique(&mut into.qualifiers, from.qualifiers);
    extend_unique(&mut into.hashes, from.hashes);
    extend_unique(&mut into.licenses, from.licenses);
    extend_unique(&mut into.licenses_concluded, from.licenses_concluded);
    extend_unique(&mut into.cpes, from.cpes);
    extend_unique(&mut into.locations, from.locations);
    extend_unique(&mut into.pedigree_ancestors, from.pedigree_ancestors);
    extend_unique(&mut into.flags, from.flags);
    extend_unique(&mut into.refs, from.refs);
    extend_unique(&mut into.groups, from.groups);
    into.source = into.source.take().or(from.source);
    into.marker = into.marker.take().or(from.marker);
    into.requested = into.requested.take().or(from.requested);
    into.supplier = into.supplier.take().or(from.supplier);
    into.creator = into.creator.take().or(from.creator);
    into.filename = into.filename.take().or(from.filename);
    into.source_package = into.source_package.take().or(from.source_package);
    into.scope = into.scope.or(from.scope);
    into.model = into.model.take().or(from.model);
    into.attestation = into.attestation.take().or(from.attestation);
    into.released = match (into.released.take(), from.released) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    into.direct = match (into.direct, from.direct) {
        (Some(a), Some(b)) => Some(a || b),
        (a, b) => a.or(b),
    };
}

/// Builds the key for an entry: from its purl when it has a usable one,
/// otherwise `pkg:generic/name@version` (flagged as synthesized).
pub fn key_for(
    purl: Option<&str>,
    name: &str,
    version: Option<&str>,
) -> (Option<PackageKey>, bool, Vec<(String, String)>) {
    if let Some(p) = purl.and_then(|p| crate::purl::Purl::parse(p).ok()) {
        let key = p.key();
        return (Some(key), false, p.qualifiers);
    }
    if name.trim().is_empty() {
        return (None, true, Vec::new());
    }
    (
        Some(PackageKey::from_parts(
            "generic",
            None,
            name.trim(),
            version,
        )),
        true,
        Vec::new(),
    )
}

/// The source package syft records in the `upstream` qualifier: `name` or
/// `name@version` (RPM: the `.src.rpm` file name).
pub fn upstream_source(qualifiers: &[(String, String)]) -> Option<(String, Option<String>)> {
    let (_, v) = qualifiers.iter().find(|(k, _)| k == "upstream")?;
    Some(match v.split_once('@') {
        Some((n, ver)) => (n.to_string(), Some(ver.to_string())),
        None => (v.clone(), None),
    })
}

/// Flags entries real scanners report that are not what they seem:
/// vendored copies inside another package, and Windows launcher binaries that
/// syft reports as NuGet packages inside Python environments.
pub fn doubt_flags(
    key: &PackageKey,
    qualifiers: &[(String, String)],
    locations: &[String],
) -> Vec<String> {
    let mut flags = Vec::new();
    // A source package (`arch=source`, `arch=src`, a `.src.rpm`) is what a
    // binary was built from, not something installed.
    if qualifiers
        .iter()
        .any(|(k, v)| k == "arch" && matches!(v.as_str(), "source" | "src"))
    {
        flags.push("source package: listed as if installed".to_string());
    }
    if locations
        .iter()
        .any(|l| l.contains("/_vendor/") || l.contains("/vendored/"))
    {
        flags.push("vendored: found inside another package's vendored tree".to_string());
    }
    if key.ty() == "nuget"
        && locations
            .iter()
            .any(|l| l.contains("site-packages/") || l.ends_with(".exe"))
    {
        flags.push("suspect: launcher binary reported as a NuGet package".to_string());
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(purl: &str) -> PackageFact {
        let (key, synth, qualifiers) = key_for(Some(purl), "", None);
        PackageFact {
            key,
            purl: Some(purl.into()),
            purl_synthesized: synth,
            qualifiers,
            ..Default::default()
        }
    }

    #[test]
    fn finish_merges_same_key_and_remaps_edges() {
        let mut doc = DocumentFacts::new(DocumentFormat::CycloneDx, "1.6");
        doc.packages.push(pkg("pkg:generic/app@1"));
        doc.packages.push(pkg("pkg:pypi/Jinja2@3.1.4"));
        doc.packages
            .push(pkg("pkg:pypi/jinja2@3.1.4?repository_url=x"));
        doc.packages.push(pkg("pkg:pypi/markupsafe@2.1.5"));
        doc.subject = Some(Subject {
            name: "app".into(),
            package: Some(0),
            ..Default::default()
        });
        for (from, to) in [(0, 1), (0, 2), (2, 3), (1, 1)] {
            doc.dependencies.push(DependencyFact {
                from,
                to,
                kind: EdgeKind::DependsOn,
                scope: None,
                marker: None,
                via_extra: None,
            });
        }
        let doc = doc.finish();
        assert_eq!(doc.packages.len(), 3);
        assert_eq!(doc.component_count(), 2);
        assert_eq!(
            doc.packages[1].qualifiers,
            vec![("repository_url".into(), "x".into())]
        );
        assert_eq!(doc.dependencies.len(), 2);
        assert_eq!(doc.packages[1].direct, Some(true));
        assert_eq!(doc.packages[2].direct, Some(false));
    }

    #[test]
    fn hash_algorithms_are_one_spelling() {
        assert_eq!(Hash::new("SHA-256", "AB").alg, "sha256");
        assert_eq!(Hash::new("SHA256", "ab").value, "ab");
        assert_eq!(Hash::new("BLAKE2b-256", "ab").alg, "blake2b-256");
    }

    #[test]
    fn synthesized_key_without_purl() {
        let (key, synth, _) = key_for(None, "busybox", Some("1.36"));
        assert_eq!(key.unwrap().as_str(), "pkg:generic/busybox@1.36");
        assert!(synth);
        let (key, _, _) = key_for(Some("not a purl"), "x", None);
        assert_eq!(key.unwrap().as_str(), "pkg:generic/x");
    }

    #[test]
    fn upstream_qualifier_forms() {
        let q = vec![("upstream".to_string(), "glibc@2.31-13".to_string())];
        assert_eq!(
            upstream_source(&q),
            Some(("glibc".into(), Some("2.31-13".into())))
        );
        let q = vec![("upstream".to_string(), "openssl".to_string())];
        assert_eq!(upstream_source(&q), Some(("openssl".into(), None)));
    }

    #[test]
    fn vendored_and_launcher_flags() {
        let key = PackageKey::parse("pkg:pypi/packaging@24.0").unwrap();
        let flags = doubt_flags(
            &key,
            &[],
            &["/usr/lib/python3/site-packages/setuptools/_vendor/packaging-24.0.dist-info/METADATA".into()],
        );
        assert_eq!(flags.len(), 1);
        let key = PackageKey::parse("pkg:nuget/cli@1.0").unwrap();
        assert_eq!(
            doubt_flags(
                &key,
                &[],
                &["/x/site-packages/pip/_vendor/distlib/t64.exe".into()]
            )
            .len(),
            2
        );
        let key = PackageKey::parse("pkg:deb/debian/glibc@2.36-9?arch=source").unwrap();
        let q = vec![("arch".to_string(), "source".to_string())];
        assert_eq!(
            doubt_flags(&key, &q, &[]),
            ["source package: listed as if installed"]
        );
    }
}
