//! CycloneDX 1.5 / 1.6 JSON from an [`Inventory`]: one component per package,
//! model and dataset (model files nested as `file` components), the
//! dependency graph with its completeness, ML-BOM model cards with lineage in
//! `pedigree`, the BSI TR-03183-2 property taxonomy, and the deployment's
//! advisories with their VEX analysis.

use std::collections::BTreeMap;

use aibomdb_graph::{Artifact, EdgeKind, VexStatus};
use aibomdb_osv::MatchRow;
use serde_json::{Value, json};

use crate::inventory::{Component, Inventory, spdx_expression};
use crate::{Options, vex_map};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spec {
    V1_5,
    V1_6,
}

impl Spec {
    fn as_str(self) -> &'static str {
        match self {
            Spec::V1_5 => "1.5",
            Spec::V1_6 => "1.6",
        }
    }
}

/// Properties our own writer and reader agree on, so that an exported BOM
/// re-ingested keeps what CycloneDX has no field for.
pub const RELATION_PROPERTY: &str = "aibomdb:lineage:relation";
pub const EVALUATED_ON_PROPERTY: &str = "aibomdb:lineage:evaluated_on";

const DEPENDENCY_KINDS: &[EdgeKind] = &[EdgeKind::DependsOn, EdgeKind::Contains];
const DERIVED_KINDS: &[EdgeKind] = &[
    EdgeKind::FinetunedFrom,
    EdgeKind::AdapterOf,
    EdgeKind::QuantizedFrom,
    EdgeKind::MergedFrom,
    EdgeKind::DerivedFrom,
];

pub(crate) fn root_ref(inv: &Inventory) -> String {
    format!("deployment:{}", inv.deployment)
}

/// The BOM; `matches` become its `vulnerabilities` (none for the
/// completeness report, which TR-03183-2's fields do not include).
pub(crate) fn bom(inv: &Inventory, spec: Spec, opts: &Options, matches: &[MatchRow]) -> Value {
    let root = root_ref(inv);
    let mut components = Vec::with_capacity(inv.components.len());
    let mut dependencies = vec![json!({
        "ref": root,
        "dependsOn": inv.roots.iter().collect::<Vec<_>>(),
    })];
    let mut complete = Vec::new();
    let mut unknown = Vec::new();
    for c in inv.components.values() {
        let (value, files) = component(inv, c, spec);
        components.push(value);
        let depends: Vec<&str> = inv
            .targets(&c.key, DEPENDENCY_KINDS)
            .map(|(t, _)| t)
            .collect();
        dependencies.push(json!({"ref": c.key, "dependsOn": depends}));
        for f in files {
            // A file is a leaf: its (empty) dependency list is complete.
            dependencies.push(json!({"ref": f, "dependsOn": []}));
            complete.push(f);
        }
        if c.from_lockfile {
            complete.push(c.key.clone());
        } else {
            unknown.push(c.key.clone());
        }
    }
    let mut metadata = json!({
        "timestamp": opts.timestamp,
        "lifecycles": [{"phase": "operations"}],
        "tools": {"components": [{
            "type": "application",
            "name": "aibomdb",
            "version": env!("CARGO_PKG_VERSION"),
        }]},
        "component": {
            "type": "application",
            "bom-ref": root,
            "name": inv.deployment,
            "properties": bsi_flags("executable", "no archive", "structured"),
        },
        "properties": std::iter::once(json!({
            "name": "aibomdb:bsi:derived",
            "value": "bsi:component:executable, :archive and :structured are derived by rule from the component type and, for model files, the file format",
        }))
        .chain(inv.documents.iter().map(|(d, _)| json!({
            "name": "aibomdb:source-document",
            "value": format!("{} {} sha256:{}", d.format, d.source_path, d.sha256),
        })))
        .chain(released_and_observed(inv))
        .collect::<Vec<_>>(),
    });
    if let Some(author) = &opts.author {
        metadata["authors"] = json!([{"name": author}]);
    }
    if spec == Spec::V1_6 && (opts.creator_email.is_some() || opts.creator_url.is_some()) {
        let mut m = json!({"name": opts.author.clone().unwrap_or_else(|| "SBOM creator".into())});
        if let Some(url) = &opts.creator_url {
            m["url"] = json!([url]);
        }
        if let Some(email) = &opts.creator_email {
            m["contact"] = json!([{"email": email}]);
        }
        metadata["manufacturer"] = m;
    }
    let mut compositions = Vec::new();
    if !complete.is_empty() {
        compositions.push(json!({"aggregate": "complete", "dependencies": complete}));
    }
    if !unknown.is_empty() {
        compositions.push(json!({"aggregate": "unknown", "dependencies": unknown}));
    }
    // Large values are moved in, not passed to `json!` (which would copy them).
    let mut out = json!({
        "bomFormat": "CycloneDX",
        "specVersion": spec.as_str(),
        "serialNumber": inv.serial,
        "version": 1,
    });
    out["metadata"] = metadata;
    out["components"] = Value::Array(components);
    out["dependencies"] = Value::Array(dependencies);
    out["compositions"] = Value::Array(compositions);
    if !matches.is_empty() {
        out["vulnerabilities"] =
            Value::Array(vulnerability_entries(matches, |key| key.to_string()));
    }
    out
}

/// A CycloneDX VEX: the deployment's advisories with their analysis, each
/// `affects` a BOM-Link into the SBOM export of the same content (same
/// serial number).
pub(crate) fn vex(inv: &Inventory, matches: &[MatchRow], opts: &Options) -> Value {
    let serial = inv.serial.trim_start_matches("urn:uuid:").to_string();
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", crate::inventory::uuid_from(&sha2_of(&inv.serial))),
        "version": 1,
        "metadata": {
            "timestamp": opts.timestamp,
            "tools": {"components": [{
                "type": "application",
                "name": "aibomdb",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {"type": "application", "bom-ref": root_ref(inv), "name": inv.deployment},
        },
    });
    doc["vulnerabilities"] = Value::Array(vulnerability_entries(matches, |key| {
        format!("urn:cdx:{serial}/1#{}", bom_link_escape(key))
    }));
    doc
}

fn sha2_of(s: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).to_vec()
}

/// A bom-ref inside a BOM-Link fragment: percent-encode what a URN fragment
/// cannot hold as is.
fn bom_link_escape(r: &str) -> String {
    let mut out = String::new();
    for b in r.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b':'
            | b'/'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One entry per (advisory, analysis): matches of one advisory that share a
/// VEX verdict share an entry.
fn vulnerability_entries(matches: &[MatchRow], reference: impl Fn(&str) -> String) -> Vec<Value> {
    let mut groups: BTreeMap<(String, String), Vec<&MatchRow>> = BTreeMap::new();
    for m in matches {
        let status = vex_map::status_of(m);
        groups
            .entry((
                m.advisory.clone(),
                format!("{status:?}{:?}", m.vex.as_ref().map(|v| v.document)),
            ))
            .or_default()
            .push(m);
    }
    let mut out = Vec::new();
    for (n, ((advisory, _), rows)) in groups.into_iter().enumerate() {
        let first = rows[0];
        let status = vex_map::status_of(first);
        let version_status = if status == VexStatus::Fixed || status == VexStatus::NotAffected {
            "unaffected"
        } else {
            "affected"
        };
        let affects: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut a = json!({"ref": reference(&r.package)});
                if let Some(v) = &r.version {
                    a["versions"] = json!([{"version": v, "status": version_status}]);
                }
                a
            })
            .collect();
        let mut v = json!({
            "bom-ref": format!("vulnerability:{n}:{advisory}"),
            "id": advisory,
            "source": {"name": "OSV", "url": format!("https://osv.dev/vulnerability/{advisory}")},
        });
        v["affects"] = Value::Array(affects);
        v["analysis"] = vex_map::cyclonedx_analysis(first, status);
        if !first.aliases.is_empty() {
            v["references"] = first
                .aliases
                .iter()
                .map(|a| json!({"id": a, "source": {"name": alias_source(a)}}))
                .collect();
        }
        if let Some(summary) = &first.summary {
            v["description"] = json!(summary);
        }
        if let Some(score) = first.score {
            v["ratings"] = json!([{
                "score": score,
                "severity": vex_map::severity_name(first.severity),
                "method": match first.cvss_version {
                    Some("4.0") => "CVSSv4",
                    Some("3.1") => "CVSSv31",
                    _ => "CVSSv3",
                },
            }]);
        }
        if !first.fixed.is_empty() {
            v["recommendation"] = json!(format!("Upgrade to {}", first.fixed.join(" or ")));
        }
        out.push(v);
    }
    out
}

fn alias_source(id: &str) -> &'static str {
    if id.starts_with("CVE-") {
        "NVD"
    } else if id.starts_with("GHSA-") {
        "GitHub"
    } else {
        "OSV"
    }
}

/// A URL of one downloadable file (a wheel, an archive), not of an index:
/// only that is "the deployable form" TR-03183-2 asks for.
pub(crate) fn is_file_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && [
            ".whl", ".tar.gz", ".tgz", ".zip", ".jar", ".gem", ".crate", ".deb", ".rpm", ".apk",
        ]
        .iter()
        .any(|ext| s.split(['?', '#']).next().unwrap_or(s).ends_with(ext))
}

fn bsi_flags(executable: &str, archive: &str, structured: &str) -> Vec<Value> {
    vec![
        json!({"name": "bsi:component:executable", "value": executable}),
        json!({"name": "bsi:component:archive", "value": archive}),
        json!({"name": "bsi:component:structured", "value": structured}),
    ]
}

fn cyclonedx_alg(alg: &str) -> Option<&'static str> {
    crate::inventory::hash_names(alg).map(|(cdx, _)| cdx)
}

fn component_type(kind: Option<&str>) -> &'static str {
    match kind {
        Some("application") => "application",
        Some("framework") => "framework",
        Some("container") => "container",
        Some("operating-system") => "operating-system",
        Some("firmware") => "firmware",
        Some("device") => "device",
        Some("machine-learning-model") => "machine-learning-model",
        Some("data") => "data",
        Some("platform") => "platform",
        _ => "library",
    }
}

/// File formats whose loading runs code (pickle) or that are archives.
fn file_flags(a: &Artifact) -> (&'static str, &'static str, &'static str) {
    let executable = matches!(a.format.as_str(), "pickle" | "torch-zip" | "torchscript");
    let archive = matches!(a.format.as_str(), "torch-zip" | "torchscript");
    let structured = a.format != "other";
    (
        if executable {
            "executable"
        } else {
            "non-executable"
        },
        if archive { "archive" } else { "no archive" },
        if structured {
            "structured"
        } else {
            "unstructured"
        },
    )
}

/// The component and the bom-refs of its nested file components.
pub(crate) fn component(inv: &Inventory, c: &Component, spec: Spec) -> (Value, Vec<String>) {
    let kind = if c.model.as_ref().is_some_and(|m| m.node == "dataset") {
        "data"
    } else if c.model.is_some() {
        "machine-learning-model"
    } else {
        component_type(c.kind.as_deref())
    };
    let name = match (&c.namespace, c.ecosystem.as_str()) {
        (Some(ns), "npm") => format!("{ns}/{}", c.name),
        (Some(ns), "huggingface") => format!("{ns}/{}", c.name),
        _ => c.name.clone(),
    };
    let mut v = json!({
        "type": kind,
        "bom-ref": c.key,
        "name": name,
        "purl": c.key,
    });
    if let (Some(ns), "maven") = (&c.namespace, c.ecosystem.as_str()) {
        v["group"] = json!(ns);
    }
    if let Some(ver) = &c.version {
        v["version"] = json!(ver);
    }
    if let Some(s) = &c.supplier {
        v["supplier"] = json!({"name": s});
    }
    if spec == Spec::V1_6
        && let Some(p) = &c.creator
    {
        let mut m = json!({});
        if let Some(n) = &p.name {
            m["name"] = json!(n);
        }
        if !p.urls.is_empty() {
            m["url"] = json!(p.urls);
        }
        if !p.emails.is_empty() {
            m["contact"] = p.emails.iter().map(|e| json!({"email": e})).collect();
        }
        v["manufacturer"] = m;
    }
    if let Some(cpe) = c.cpes.iter().next() {
        v["cpe"] = json!(cpe);
    }
    let hashes: Vec<Value> = c
        .hashes
        .iter()
        .filter_map(|(alg, value)| cyclonedx_alg(alg).map(|a| json!({"alg": a, "content": value})))
        .collect();
    if !hashes.is_empty() {
        v["hashes"] = Value::Array(hashes);
    }
    if let Some(licenses) = licenses(c, spec) {
        v["licenses"] = licenses;
    }
    let mut refs = Vec::new();
    if let Some(source) = &c.source {
        if let Some(url) = source.strip_prefix("git+") {
            refs.push(json!({"type": "vcs", "url": url}));
        } else if is_file_url(source) {
            refs.push(json!({"type": "distribution", "url": source}));
        }
    }
    if !refs.is_empty() {
        v["externalReferences"] = Value::Array(refs);
    }
    let mut properties = match kind {
        "data" => bsi_flags("non-executable", "no archive", "structured"),
        "machine-learning-model" => {
            let runs_code = c
                .model
                .iter()
                .flat_map(|m| &m.artifacts)
                .any(|a| file_flags(a).0 == "executable");
            bsi_flags(
                if runs_code {
                    "executable"
                } else {
                    "non-executable"
                },
                "no archive",
                "structured",
            )
        }
        _ => bsi_flags("executable", "no archive", "structured"),
    };
    let mut files = Vec::new();
    if let Some(m) = &c.model {
        if let Some(k) = &m.kind {
            properties.push(json!({"name": "aibomdb:model:kind", "value": k}));
        }
        if let Some(s) = &m.signing {
            properties.push(json!({"name": "aibomdb:model:signature", "value": s.status}));
        }
        for (to, _) in inv.targets(&c.key, &[EdgeKind::EvaluatedOn]) {
            properties.push(json!({"name": EVALUATED_ON_PROPERTY, "value": to}));
        }
        if kind == "machine-learning-model" {
            if let Some(card) = model_card(inv, c, m) {
                v["modelCard"] = card;
            }
            let ancestors: Vec<Value> = inv
                .targets(&c.key, DERIVED_KINDS)
                .map(|(to, k)| {
                    let base = inv.components.get(to);
                    let mut a = json!({
                        "type": "machine-learning-model",
                        "name": base.map_or(to.to_string(), |b| match &b.namespace {
                            Some(ns) if b.ecosystem == "huggingface" => format!("{ns}/{}", b.name),
                            _ => b.name.clone(),
                        }),
                        "purl": to,
                    });
                    if let Some(ver) = base.and_then(|b| b.version.as_ref()) {
                        a["version"] = json!(ver);
                    }
                    if let Some(relation) = k.relation() {
                        a["properties"] = json!([{"name": RELATION_PROPERTY, "value": relation}]);
                    }
                    a
                })
                .collect();
            if !ancestors.is_empty() {
                v["pedigree"] = json!({"ancestors": ancestors});
            }
        }
        let nested: Vec<Value> = m
            .artifacts
            .iter()
            .filter(|a| a.sha256.is_some())
            .map(|a| {
                let r = format!("{}#file:{}", c.key, a.path);
                files.push(r.clone());
                let (e, ar, st) = file_flags(a);
                let mut props = bsi_flags(e, ar, st);
                props.push(json!({
                    "name": "bsi:component:filename",
                    "value": a.path.rsplit('/').next().unwrap_or(&a.path),
                }));
                props.push(json!({"name": "aibomdb:file:format", "value": a.format}));
                props.push(json!({"name": "aibomdb:file:integrity", "value": a.integrity}));
                let mut hashes = vec![json!({"alg": "SHA-256", "content": a.sha256})];
                if let Some(d) = &a.sha512 {
                    hashes.push(json!({"alg": "SHA-512", "content": d}));
                }
                let mut f = json!({
                    "type": "file",
                    "bom-ref": r,
                    "name": a.path,
                    "hashes": hashes,
                    "properties": props,
                });
                if let Some(d) = &a.pickle
                    && !d.dangerous_imports.is_empty()
                {
                    let what = match a.format.as_str() {
                        "keras" => "Keras config deserialises",
                        "numpy" => "object array's pickle imports",
                        _ => "pickle imports",
                    };
                    f["description"] = json!(format!(
                        "{what} {} (runs on load)",
                        d.dangerous_imports.join(", ")
                    ));
                }
                f
            })
            .collect();
        if !nested.is_empty() {
            v["components"] = Value::Array(nested);
        }
    }
    if let Some(f) = &c.filename {
        properties.push(json!({"name": "bsi:component:filename", "value": f}));
    }
    for a in &c.attestations {
        let mut value = format!(
            "{} ({}), signature {}",
            a.predicate_type, a.envelope, a.signature.status
        );
        if let Some(b) = &a.builder_id {
            value.push_str(&format!(", builder {b}"));
        }
        if let Some(path) = a.bound.as_ref().and_then(|b| b.path.as_ref()) {
            value.push_str(&format!(", subject {path}"));
        }
        properties.push(json!({"name": "aibomdb:attestation", "value": value}));
    }
    v["properties"] = Value::Array(properties);
    (v, files)
}

/// The latest release and the latest runtime observation, as properties.
fn released_and_observed(inv: &Inventory) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some((name, sequence)) = &inv.released {
        out.push(json!({"name": "aibomdb:release", "value": format!("{name} (#{sequence})")}));
    }
    if let Some(o) = &inv.observed {
        out.push(json!({
            "name": "aibomdb:observed:at",
            "value": format!("{} (observation {}, {})", crate::time::rfc3339(o.at), o.sequence, o.source),
        }));
        for h in &o.model_sha256 {
            out.push(json!({"name": "aibomdb:observed:model-sha256", "value": h}));
        }
        for d in &o.image_digests {
            out.push(json!({"name": "aibomdb:observed:image", "value": d}));
        }
        for (n, v) in &o.runners {
            out.push(json!({"name": "aibomdb:observed:runner", "value": format!("{n}=={v}")}));
        }
    }
    out
}

fn licenses(c: &Component, spec: Spec) -> Option<Value> {
    if c.licenses.is_empty() {
        return None;
    }
    let all: Vec<&String> = c.licenses.iter().collect();
    if spec != Spec::V1_6 {
        // Before 1.6 there is no acknowledgement: every licence as stated.
        return Some(licence_entries(&all, None));
    }
    let (concluded, declared): (Vec<&String>, Vec<&String>) = all
        .into_iter()
        .partition(|l| c.licenses_concluded.contains(*l));
    Some(match (declared.is_empty(), concluded.is_empty()) {
        (_, true) => licence_entries(&declared, Some("declared")),
        (true, false) => licence_entries(&concluded, Some("concluded")),
        // 1.6 allows one expression, or a list of licences: both
        // acknowledgements fit only when every licence is a single one.
        // Otherwise the concluded licence, which TR-03183-2 requires, wins.
        (false, false) if declared.iter().chain(&concluded).all(|l| is_single(l)) => declared
            .iter()
            .map(|l| single_licence(l, "declared"))
            .chain(concluded.iter().map(|l| single_licence(l, "concluded")))
            .collect(),
        (false, false) => licence_entries(&concluded, Some("concluded")),
    })
}

/// A licence that is one identifier or one name, not a compound expression.
fn is_single(licence: &str) -> bool {
    spdx_expression(licence).is_none_or(|e| !e.contains(char::is_whitespace))
}

fn single_licence(licence: &str, ack: &str) -> Value {
    match spdx_expression(licence).filter(|e| spdx::license_id(e).is_some()) {
        Some(id) => json!({"license": {"id": id, "acknowledgement": ack}}),
        None => json!({"license": {"name": licence, "acknowledgement": ack}}),
    }
}

/// One SPDX expression when every licence is valid SPDX, else each licence
/// by name; `ack` marks them (CycloneDX 1.6).
fn licence_entries(list: &[&String], ack: Option<&str>) -> Value {
    let mark = |mut v: Value| {
        if let Some(a) = ack {
            v["acknowledgement"] = json!(a);
        }
        v
    };
    let expressions: Option<Vec<String>> = list.iter().map(|l| spdx_expression(l)).collect();
    match expressions {
        // CycloneDX takes one expression, or a list of licences.
        Some(list) => {
            let expression = if list.len() == 1 {
                list[0].clone()
            } else {
                list.iter()
                    .map(|l| format!("({l})"))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            };
            json!([mark(json!({"expression": expression}))])
        }
        None => list
            .iter()
            .map(|l| json!({"license": mark(json!({"name": l}))}))
            .collect(),
    }
}

fn model_card(inv: &Inventory, c: &Component, m: &aibomdb_graph::ModelInfo) -> Option<Value> {
    let mut params = serde_json::Map::new();
    if let Some(task) = &m.pipeline_tag {
        params.insert("task".into(), json!(task));
    }
    if let Some(t) = &m.model_type {
        params.insert("architectureFamily".into(), json!(t));
    }
    if let Some(a) = m.architectures.first() {
        params.insert("modelArchitecture".into(), json!(a));
    }
    let datasets: Vec<Value> = inv
        .targets(&c.key, &[EdgeKind::TrainedOn])
        .map(|(to, _)| json!({"ref": to}))
        .collect();
    if !datasets.is_empty() {
        params.insert("datasets".into(), Value::Array(datasets));
    }
    (!params.is_empty()).then(|| json!({"modelParameters": params}))
}
