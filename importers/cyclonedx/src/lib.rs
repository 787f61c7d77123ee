//! CycloneDX JSON (spec 1.2–1.7) and XML (1.2–1.6, see [`xml`]) → graph facts.
//!
//! The `cyclonedx-bom` crate reads only spec 1.3–1.5 and real tools emit 1.6 and
//! 1.7, so this crate reads the JSON through private, version-independent wire
//! structs: unknown fields are ignored, enumerations are kept as strings, and
//! the shapes that changed between versions (`metadata.tools` as a list in 1.4,
//! an object in 1.5+) are both accepted.

use std::collections::HashMap;

use aibomdb_graph::{
    BomLink, DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, Hash, ImportError,
    PackageFact, Party, Scope, Skipped, Subject, Tool, VexStatement, VexStatus, VexTarget,
    doubt_flags, key_for, normalise_serial, upstream_source,
};

mod wire;

/// True when the JSON looks like a CycloneDX BOM (cheap check on a prefix).
pub fn sniff(head: &str) -> bool {
    use aibomdb_graph::sniff::contains;
    contains(head, "\"bomFormat\"") && contains(head, "CycloneDX")
}

pub mod xml;

/// True when the bytes are XML (the first character after a BOM and
/// whitespace is `<`): CycloneDX XML rather than JSON.
pub fn is_xml(bytes: &[u8]) -> bool {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// Reads one CycloneDX document, JSON or XML: XML is mapped to the JSON
/// shape first, so both encodings fill the same structures.
pub fn import(bytes: &[u8]) -> Result<DocumentFacts, ImportError> {
    let bom: wire::Bom = if is_xml(bytes) {
        // Straight from the mapped value: no JSON text written and re-read.
        serde_path_to_error::deserialize(xml::to_json(bytes)?)
            .map_err(|e| ImportError::field(e.path().to_string(), e.into_inner().to_string()))?
    } else {
        aibomdb_graph::json::parse(bytes)?
    };
    if bom.bom_format.as_deref() != Some("CycloneDX") {
        return Err(ImportError::WrongFormat {
            expected: "CycloneDX",
            message: format!(
                "`bomFormat` is {}",
                bom.bom_format
                    .as_deref()
                    .map_or("missing".to_string(), |f| format!("{f:?}"))
            ),
        });
    }
    let spec_version = bom
        .spec_version
        .clone()
        .ok_or_else(|| ImportError::field("specVersion", "missing"))?;
    if !matches!(
        spec_version.as_str(),
        "1.0" | "1.1" | "1.2" | "1.3" | "1.4" | "1.5" | "1.6" | "1.7"
    ) {
        return Err(ImportError::field(
            "specVersion",
            format!("unsupported CycloneDX version {spec_version:?} (1.2–1.7 are read)"),
        ));
    }
    Ok(Builder::new(spec_version, bom.serial_number.clone()).build(bom))
}

/// Where a component sits in the document, spelled out only when a message
/// needs it.
enum At<'a> {
    Metadata,
    Component(usize),
    Nested(&'a At<'a>, usize),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Metadata => f.write_str("metadata.component"),
            At::Component(i) => write!(f, "components[{i}]"),
            At::Nested(parent, j) => write!(f, "{parent}.components[{j}]"),
        }
    }
}

struct Builder {
    facts: DocumentFacts,
    by_ref: HashMap<String, usize>,
    /// ML models seen: (package, modelCard, pedigree ancestors as (purl, name, version)).
    ml: Vec<MlPending>,
}

/// A model component waiting for every component to be read: (its index,
/// its modelCard, its pedigree ancestors, the datasets it was evaluated on).
type MlPending = (usize, Option<serde_json::Value>, Vec<Ancestor>, Vec<String>);

/// A pedigree ancestor: purl, name, version, and the relation when stated.
type Ancestor = (Option<String>, String, Option<String>, Option<String>);

/// Properties aibomdb's own export writes for what CycloneDX has no field for
/// (`aibomdb_export::{RELATION_PROPERTY, EVALUATED_ON_PROPERTY}`): the
/// relation of a pedigree ancestor and a model's evaluation datasets.
const RELATION_PROPERTY: &str = "aibomdb:lineage:relation";
const EVALUATED_ON_PROPERTY: &str = "aibomdb:lineage:evaluated_on";

impl Builder {
    fn new(spec_version: String, serial: Option<String>) -> Self {
        let mut facts = DocumentFacts::new(DocumentFormat::CycloneDx, spec_version);
        facts.serial = serial;
        Builder {
            facts,
            by_ref: HashMap::new(),
            ml: Vec::new(),
        }
    }

    fn build(mut self, bom: wire::Bom) -> DocumentFacts {
        if let Some(meta) = bom.metadata {
            self.facts.created = meta.timestamp;
            match meta.tools {
                Some(wire::Tools::Legacy(tools)) => {
                    self.facts.tools = tools.into_iter().filter_map(legacy_tool).collect();
                }
                Some(wire::Tools::Modern {
                    components,
                    services,
                }) => {
                    self.facts.tools = components
                        .into_iter()
                        .filter_map(|c| {
                            Some(Tool {
                                vendor: c.group.or(c.publisher),
                                name: c.name?,
                                version: c.version,
                            })
                        })
                        .chain(services.into_iter().filter_map(legacy_tool))
                        .collect();
                }
                None => {}
            }
            if let Some(root) = meta.component {
                let name = root.name.clone().unwrap_or_default();
                let version = root.version.clone();
                let kind = root.ty.clone();
                let reference = root.bom_ref.clone();
                let index = self.add_component(root, None, &At::Metadata);
                self.facts.subject = Some(Subject {
                    name,
                    version,
                    kind,
                    package: index,
                    reference,
                });
            }
        }
        // Sized once: a fact is a few hundred bytes, and growing the vector
        // by doubling copied every fact again and again.
        self.facts.packages.reserve(bom.components.len());
        self.by_ref.reserve(bom.components.len());
        self.facts
            .dependencies
            .reserve(bom.dependencies.iter().map(|d| d.depends_on.len()).sum());
        for (i, component) in bom.components.into_iter().enumerate() {
            self.add_component(component, None, &At::Component(i));
        }
        for (i, dep) in bom.dependencies.into_iter().enumerate() {
            let Some(reference) = dep.reference.filter(|r| !r.is_empty()) else {
                self.facts
                    .warnings
                    .push(format!("dependencies[{i}]: no `ref`; entry ignored"));
                continue;
            };
            let Some(&from) = self.by_ref.get(&*reference) else {
                if !dep.depends_on.is_empty() {
                    self.facts.warnings.push(format!(
                        "dependencies[{i}]: ref {reference:?} names no component; entry ignored"
                    ));
                }
                continue;
            };
            for target in dep.depends_on {
                match self.by_ref.get(&*target) {
                    Some(&to) => self.facts.dependencies.push(DependencyFact {
                        from,
                        to,
                        kind: EdgeKind::DependsOn,
                        scope: None,
                        marker: None,
                        via_extra: None,
                    }),
                    None => self.facts.warnings.push(format!(
                        "dependencies[{i}]: dependsOn {target:?} names no component; edge ignored"
                    )),
                }
            }
        }
        self.add_lineage();
        for (i, v) in bom.vulnerabilities.into_iter().enumerate() {
            self.add_vex(v, i);
        }
        self.facts.finish()
    }

    /// ML-BOM lineage: `modelCard.modelParameters.datasets` (a `ref` to a
    /// `data` component, or the dataset inline) → trained_on; pedigree
    /// ancestors of a model → derived_from (CycloneDX does not say how, so
    /// the relation is read from an `aibomdb:lineage:relation` property when
    /// present); `aibomdb:lineage:evaluated_on` properties → evaluated_on.
    fn add_lineage(&mut self) {
        for (model, card, ancestors, evaluated) in std::mem::take(&mut self.ml) {
            for purl in evaluated {
                let to = match self.by_ref.get(&purl) {
                    Some(&i) => i,
                    None => {
                        let (key, synthesized, qualifiers) = key_for(Some(&purl), &purl, None);
                        self.facts.packages.push(PackageFact {
                            key,
                            purl: Some(purl.clone()),
                            purl_synthesized: synthesized,
                            name: purl.clone(),
                            qualifiers,
                            kind: Some("data".into()),
                            ..Default::default()
                        });
                        self.facts.packages.len() - 1
                    }
                };
                self.facts.dependencies.push(DependencyFact {
                    from: model,
                    to,
                    kind: EdgeKind::EvaluatedOn,
                    scope: None,
                    marker: None,
                    via_extra: None,
                });
            }
            let datasets = card
                .as_ref()
                .and_then(|c| c.pointer("/modelParameters/datasets"))
                .and_then(|d| d.as_array())
                .cloned()
                .unwrap_or_default();
            for d in datasets {
                let target = match d.get("ref").and_then(|r| r.as_str()) {
                    Some(r) => self.by_ref.get(r).copied(),
                    None => d.get("name").and_then(|n| n.as_str()).map(|name| {
                        let (key, synthesized, _) = key_for(None, name, None);
                        self.facts.packages.push(PackageFact {
                            key,
                            purl_synthesized: synthesized,
                            name: name.to_string(),
                            kind: Some("data".into()),
                            model: Some(Box::new(aibomdb_graph::ModelInfo {
                                node: "dataset".into(),
                                sources: vec!["CycloneDX modelCard".into()],
                                ..Default::default()
                            })),
                            ..Default::default()
                        });
                        self.facts.packages.len() - 1
                    }),
                };
                if let Some(to) = target {
                    self.facts.dependencies.push(DependencyFact {
                        from: model,
                        to,
                        kind: EdgeKind::TrainedOn,
                        scope: None,
                        marker: None,
                        via_extra: None,
                    });
                }
            }
            for (purl, name, version, relation) in ancestors {
                let (key, synthesized, qualifiers) =
                    key_for(purl.as_deref(), &name, version.as_deref());
                self.facts.packages.push(PackageFact {
                    key,
                    purl,
                    purl_synthesized: synthesized,
                    name,
                    version,
                    qualifiers,
                    kind: Some("machine-learning-model".into()),
                    ..Default::default()
                });
                self.facts.dependencies.push(DependencyFact {
                    from: model,
                    to: self.facts.packages.len() - 1,
                    kind: relation
                        .as_deref()
                        .and_then(EdgeKind::from_relation)
                        .unwrap_or(EdgeKind::DerivedFrom),
                    scope: None,
                    marker: None,
                    via_extra: None,
                });
            }
        }
    }

    /// A `vulnerabilities[]` entry with an `analysis.state` is a VEX statement;
    /// one without is a scanner finding, which the graph's own matcher redoes.
    fn add_vex(&mut self, v: wire::Vulnerability, i: usize) {
        let location = format!("vulnerabilities[{i}]");
        let Some(analysis) = v.analysis else { return };
        let Some(state) = analysis.state.filter(|s| !s.is_empty()) else {
            return;
        };
        let Some(status) = VexStatus::from_cyclonedx(&state) else {
            self.facts.warnings.push(format!(
                "{location}.analysis.state: unknown state {state:?}; statement ignored"
            ));
            return;
        };
        let Some(id) = v.id.filter(|id| !id.trim().is_empty()) else {
            self.facts
                .warnings
                .push(format!("{location}: no `id`; statement ignored"));
            return;
        };
        let targets = v
            .affects
            .iter()
            .filter_map(|a| a.reference.as_deref())
            .map(|r| self.vex_target(r))
            .collect::<Vec<_>>();
        if targets.is_empty() {
            self.facts
                .warnings
                .push(format!("{location}: no `affects` refs; statement ignored"));
            return;
        }
        self.facts.vex.push(VexStatement {
            aliases: v
                .references
                .iter()
                .filter_map(|r| r.id.clone())
                .filter(|r| r != &id)
                .collect(),
            vulnerability: id,
            targets,
            status,
            state,
            justification: analysis.justification,
            detail: analysis.detail,
            response: analysis.response,
            timestamp: analysis.last_updated.or(v.updated).or(v.published),
            location,
        });
    }

    /// Resolves an `affects[].ref`: a `bom-ref` of this BOM, or a BOM-Link
    /// into this or another BOM.
    fn vex_target(&self, reference: &str) -> VexTarget {
        let own_serial = self.facts.serial.as_deref().map(normalise_serial);
        let (serial, local) = match BomLink::parse(reference) {
            Some(link) if Some(&link.serial) != own_serial.as_ref() => {
                return match link.reference {
                    Some(r) if r.starts_with("pkg:") => purl_target(&r, Some(link.serial.clone()))
                        .unwrap_or(VexTarget::BomRef {
                            serial: link.serial,
                            reference: r,
                        }),
                    Some(r) => VexTarget::BomRef {
                        serial: link.serial,
                        reference: r,
                    },
                    None => VexTarget::BomRef {
                        serial: link.serial,
                        reference: String::new(),
                    },
                };
            }
            Some(link) => (Some(link.serial), link.reference.unwrap_or_default()),
            None => (None, reference.to_string()),
        };
        let subject = self.facts.subject.as_ref();
        if local.is_empty() || subject.is_some_and(|s| s.reference.as_deref() == Some(&local)) {
            return VexTarget::Product;
        }
        if let Some(&i) = self.by_ref.get(&local) {
            if subject.is_some_and(|s| s.package == Some(i)) {
                return VexTarget::Product;
            }
            if let Some(key) = &self.facts.packages[i].key {
                return VexTarget::Package {
                    key: key.as_str().to_string(),
                    serial,
                };
            }
        }
        if local.starts_with("pkg:")
            && let Some(t) = purl_target(&local, serial)
        {
            return t;
        }
        VexTarget::Unresolved {
            reference: reference.to_string(),
            reason: "names no component of this BOM".into(),
        }
    }

    /// Adds a component and its nested components; returns its index, or
    /// `None` when it is not a package (e.g. a `file`).
    fn add_component(
        &mut self,
        mut c: wire::Component,
        parent: Option<usize>,
        at: &At<'_>,
    ) -> Option<usize> {
        if !matches!(at, At::Metadata) {
            self.facts.entries_read += 1;
        }
        let kind = c.ty.take().unwrap_or_else(|| "library".to_string());
        let skipped = if kind == "file" {
            Some("component of type `file` is not a package")
        } else if c.name.as_deref().is_none_or(|n| n.trim().is_empty()) && c.purl.is_none() {
            Some("component has neither name nor purl")
        } else {
            None
        };
        let index = match skipped {
            Some(reason) => {
                self.facts.skipped.push(Skipped {
                    reference: c.bom_ref.clone().unwrap_or_else(|| at.to_string()),
                    reason: reason.into(),
                });
                None
            }
            None => Some(self.push_package(&mut c, kind)),
        };
        if let (Some(parent), Some(child)) = (parent, index) {
            self.facts.dependencies.push(DependencyFact {
                from: parent,
                to: child,
                kind: EdgeKind::Contains,
                scope: None,
                marker: None,
                via_extra: None,
            });
        }
        for (j, child) in c.components.into_iter().enumerate() {
            self.add_component(child, index.or(parent), &At::Nested(at, j));
        }
        index
    }

    /// Adds `c` as a package fact, moving its strings out: it is dropped
    /// after this but for its nested components.
    fn push_package(&mut self, c: &mut wire::Component, kind: String) -> usize {
        let name = c.name.take().unwrap_or_default();
        // CycloneDX keeps the Maven group / npm scope apart from the name; a
        // synthesized key puts them back together.
        let grouped = c
            .group
            .as_deref()
            .filter(|g| !g.is_empty())
            .map(|g| format!("{g}/{name}"));
        let (key, purl_synthesized, qualifiers) = key_for(
            c.purl.as_deref(),
            grouped.as_deref().unwrap_or(&name),
            c.version.as_deref(),
        );
        let mut hashes: Vec<Hash> = c
            .hashes
            .iter()
            .map(|h| Hash::new(&h.alg, &h.content))
            .collect();
        for r in &c.external_references {
            for h in &r.hashes {
                let h = Hash::new(&h.alg, &h.content);
                if !hashes.contains(&h) {
                    hashes.push(h);
                }
            }
        }
        let (licenses, licenses_concluded) = split_licences(&c.licenses);
        let filename = c
            .properties
            .iter()
            .find(|p| p.name.as_deref() == Some("bsi:component:filename"))
            .and_then(|p| p.value.as_deref().map(str::to_owned))
            .filter(|v| !v.is_empty());
        let mut locations = Vec::new();
        let mut source_name = None;
        let mut source_version = None;
        for p in &c.properties {
            let (Some(n), Some(v)) = (p.name.as_deref(), p.value.as_deref()) else {
                continue;
            };
            // syft: `syft:location:0:path`; Trivy: `aquasecurity:trivy:FilePath`.
            if (n.starts_with("syft:location:") && n.ends_with(":path"))
                || n == "aquasecurity:trivy:FilePath"
            {
                locations.push(v.to_string());
            } else if n == "aquasecurity:trivy:SrcName" {
                source_name = Some(v.to_string());
            } else if n == "aquasecurity:trivy:SrcVersion" {
                source_version = Some(v.to_string());
            }
        }
        if let Some(e) = &c.evidence {
            locations.extend(e.occurrences.iter().filter_map(|o| o.location.clone()));
        }
        let source_package = source_name
            .map(|n| (n, source_version))
            .or_else(|| upstream_source(&qualifiers));
        let flags = key
            .as_ref()
            .map(|k| doubt_flags(k, &qualifiers, &locations))
            .unwrap_or_default();
        // Read before the strings below are moved out of `c`.
        let creator = creator(c);
        let is_model = kind == "machine-learning-model";
        let model = matches!(kind.as_str(), "machine-learning-model" | "data").then(|| {
            Box::new(aibomdb_graph::ModelInfo {
                node: if kind == "data" { "dataset" } else { "model" }.into(),
                license: licenses.first().cloned(),
                sources: vec![if c.model_card.is_some() {
                    "CycloneDX modelCard".into()
                } else {
                    format!("CycloneDX component ({kind})")
                }],
                ..Default::default()
            })
        });
        let pedigree_ancestors = c
            .pedigree
            .as_ref()
            .map(|p| {
                p.ancestors
                    .iter()
                    .filter_map(|a| a.purl.clone().or_else(|| a.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let supplier = c
            .supplier
            .as_mut()
            .and_then(|s| s.name.take())
            .or_else(|| c.publisher.take())
            .or_else(|| c.author.take());
        let reference = c.bom_ref.take();
        let fact = PackageFact {
            key,
            purl: c.purl.take(),
            purl_synthesized,
            name,
            version: c.version.take(),
            kind: Some(kind),
            scope: c.scope.as_deref().and_then(|s| match s {
                "required" => Some(Scope::Required),
                "optional" => Some(Scope::Optional),
                "excluded" => Some(Scope::Excluded),
                _ => None,
            }),
            direct: None,
            qualifiers,
            hashes,
            cpes: c.cpe.take().into_iter().collect(),
            supplier,
            creator,
            licenses_concluded,
            filename,
            source_package,
            locations,
            pedigree_ancestors,
            flags,
            refs: reference.iter().cloned().collect(),
            model,
            licenses,
            ..Default::default()
        };
        self.facts.packages.push(fact);
        let index = self.facts.packages.len() - 1;
        if let Some(reference) = reference {
            self.by_ref.insert(reference, index);
        }
        if is_model {
            let ancestors = c
                .pedigree
                .as_ref()
                .map(|p| {
                    p.ancestors
                        .iter()
                        .filter(|a| a.name.is_some() || a.purl.is_some())
                        .map(|a| {
                            (
                                a.purl.clone(),
                                a.name.clone().unwrap_or_default(),
                                a.version.clone(),
                                property(a, RELATION_PROPERTY).next(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let evaluated = property(c, EVALUATED_ON_PROPERTY).collect();
            self.ml
                .push((index, c.model_card.take(), ancestors, evaluated));
        }
        index
    }
}

/// Values of a component's properties named `name`.
fn property<'a>(c: &'a wire::Component, name: &'a str) -> impl Iterator<Item = String> + 'a {
    c.properties
        .iter()
        .filter(move |p| p.name.as_deref() == Some(name))
        .filter_map(|p| p.value.as_deref().map(str::to_owned))
}

fn purl_target(purl: &str, serial: Option<String>) -> Option<VexTarget> {
    let (key, synthesized, _) = key_for(Some(purl), "", None);
    (!synthesized).then_some(())?;
    Some(VexTarget::Package {
        key: key?.as_str().to_string(),
        serial,
    })
}

fn legacy_tool(t: wire::LegacyTool) -> Option<Tool> {
    Some(Tool {
        vendor: t.vendor,
        name: t.name?,
        version: t.version,
    })
}

/// Licences as stated, and apart those the document marks `concluded` but
/// does not also declare.
fn split_licences(choices: &[wire::LicenseChoice]) -> (Vec<String>, Vec<String>) {
    let mut stated = Vec::new();
    let mut concluded = Vec::new();
    for l in choices {
        let (text, ack) = match (&l.expression, &l.license) {
            (Some(e), _) => (Some(e.to_string()), l.acknowledgement.as_deref()),
            (None, Some(lic)) => (
                lic.id.as_deref().or(lic.name.as_deref()).map(str::to_owned),
                lic.acknowledgement
                    .as_deref()
                    .or(l.acknowledgement.as_deref()),
            ),
            (None, None) => (None, None),
        };
        let Some(text) = text else { continue };
        let list = if ack == Some("concluded") {
            &mut concluded
        } else {
            &mut stated
        };
        if !list.contains(&text) {
            list.push(text);
        }
    }
    // A licence both declared and concluded stays in the stated list, so
    // that readers of `licenses` see every licence; the concluded list says
    // which were concluded.
    for c in &concluded {
        if !stated.contains(c) {
            stated.push(c.clone());
        }
    }
    (stated, concluded)
}

/// The component creator with a contact: the manufacturer, else a supplier
/// with a contact, else the first author with an email address.
fn creator(c: &wire::Component) -> Option<Party> {
    let party = |o: &wire::Organization| {
        let urls = match &o.url {
            serde_json::Value::String(u) => vec![u.clone()],
            serde_json::Value::Array(list) => list
                .iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        Party {
            name: o.name.clone(),
            emails: o.contact.iter().filter_map(|p| p.email.clone()).collect(),
            urls: urls.into_iter().filter(|u| !u.is_empty()).collect(),
        }
    };
    let manufacturer = c.manufacturer.as_ref().map(party);
    if manufacturer.as_ref().is_some_and(Party::has_contact) {
        return manufacturer;
    }
    let supplier = c.supplier.as_ref().map(party);
    if supplier.as_ref().is_some_and(Party::has_contact) {
        return supplier;
    }
    c.authors
        .iter()
        .find(|a| a.email.is_some())
        .map(|a| Party {
            name: a.name.clone(),
            emails: a.email.iter().cloned().collect(),
            urls: Vec::new(),
        })
        .or(manufacturer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_type_names_the_field() {
        let err = import(br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"a","hashes":"x"}]}"#)
            .unwrap_err();
        let ImportError::Field { field, .. } = err else {
            panic!("{err}")
        };
        assert_eq!(field, "components[0].hashes");
    }

    #[test]
    fn tools_in_both_shapes() {
        let old = import(br#"{"bomFormat":"CycloneDX","specVersion":"1.4","metadata":{"tools":[{"vendor":"anchore","name":"syft","version":"0.58"}]}}"#).unwrap();
        assert_eq!(old.tools[0].name, "syft");
        let new = import(br#"{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{"tools":{"components":[{"type":"application","group":"aquasecurity","name":"trivy","version":"0.54.1"}]}}}"#).unwrap();
        assert_eq!(new.tools[0].version.as_deref(), Some("0.54.1"));
    }

    #[test]
    fn unsupported_version_is_named() {
        let err = import(br#"{"bomFormat":"CycloneDX","specVersion":"2.0"}"#).unwrap_err();
        assert!(err.to_string().contains("specVersion"), "{err}");
    }
}
