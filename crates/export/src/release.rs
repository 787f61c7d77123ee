//! A release as evidence: CycloneDX 1.6 (the released models with their
//! files and lineage, images, packages and eval files as components; the
//! evaluation runs under `formulation`; the approval under `declarations`)
//! and an in-toto Statement v1 with the release predicate
//! (`https://in-toto.io/attestation/release/v0.1`) whose subjects are every
//! released digest.

use aibomdb_store::Release;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::inventory::uuid_from;
use crate::time::rfc3339;

/// The predicate type of in-toto's release attestation.
pub const RELEASE_PREDICATE: &str = "https://in-toto.io/attestation/release/v0.1";

fn release_ref(r: &Release) -> String {
    format!("release:{}/{}", r.deployment, r.name)
}

/// The same release always gets the same serial number.
fn serial(r: &Release) -> String {
    let mut h = Sha256::new();
    h.update(r.deployment.as_bytes());
    h.update([0]);
    h.update(r.name.as_bytes());
    h.update(r.sequence.to_le_bytes());
    format!("urn:uuid:{}", uuid_from(&h.finalize()))
}

fn image_parts(image: &str) -> (&str, &str) {
    image.rsplit_once('@').unwrap_or((image, ""))
}

/// The release as a CycloneDX 1.6 BOM.
pub fn release_cyclonedx(r: &Release) -> Value {
    let root = release_ref(r);
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    let mut direct = Vec::new();
    for m in &r.models {
        let files: Vec<Value> = m
            .artifacts
            .iter()
            .map(|a| {
                json!({
                    "type": "file",
                    "bom-ref": format!("{}#file:{}", m.purl, a.path),
                    "name": a.path,
                    "hashes": [{"alg": "SHA-256", "content": a.sha256}],
                    "properties": [{"name": "aibomdb:file:format", "value": a.format}],
                })
            })
            .collect();
        let mut c = json!({
            "type": "machine-learning-model",
            "bom-ref": m.purl,
            "name": m.purl.split('@').next().unwrap_or(&m.purl).trim_start_matches("pkg:huggingface/"),
            "purl": m.purl,
        });
        if let Some(rev) = &m.revision {
            c["version"] = json!(rev);
        }
        if !files.is_empty() {
            c["components"] = Value::Array(files);
        }
        if !m.derived_from.is_empty() {
            c["pedigree"] = json!({"ancestors": m.derived_from.iter().map(|(relation, purl)| json!({
                "type": "machine-learning-model",
                "name": purl.split('@').next().unwrap_or(purl).trim_start_matches("pkg:huggingface/"),
                "purl": purl,
                "properties": [{"name": crate::RELATION_PROPERTY, "value": relation}],
            })).collect::<Vec<_>>()});
        }
        if !m.datasets.is_empty() {
            c["properties"] = m
                .datasets
                .iter()
                .map(|d| json!({"name": "aibomdb:model:trained-on", "value": d}))
                .collect();
        }
        direct.push(m.purl.clone());
        components.push(c);
    }
    for image in &r.images {
        let (reference, digest) = image_parts(image);
        let mut c = json!({
            "type": "container",
            "bom-ref": image,
            "name": reference,
            "version": digest,
        });
        if let Some(hex) = digest.strip_prefix("sha256:") {
            c["hashes"] = json!([{"alg": "SHA-256", "content": hex}]);
        }
        direct.push(image.clone());
        components.push(c);
    }
    for p in &r.packages {
        if r.models.iter().any(|m| &m.purl == p) {
            continue;
        }
        components.push(json!({"type": "library", "bom-ref": p, "name": p, "purl": p}));
        direct.push(p.clone());
    }
    let mut tasks = Vec::new();
    for (i, e) in r.evals.iter().enumerate() {
        let file_ref = format!("eval:{}", e.sha256);
        components.push(json!({
            "type": "data",
            "bom-ref": file_ref,
            "name": e.file_name,
            "hashes": [{"alg": "SHA-256", "content": e.sha256}],
            "data": [{"type": "other", "name": e.kind}],
        }));
        tasks.push(json!({
            "bom-ref": format!("task:eval:{i}"),
            "uid": format!("{}:eval:{i}", r.name),
            "name": format!("evaluation ({})", e.kind),
            "taskTypes": ["test"],
            "outputs": [{"type": "evidence", "resource": {"ref": file_ref}}],
            "properties": e.metrics.iter().map(|m| json!({
                "name": if m.task.is_empty() { format!("aibomdb:metric:{}", m.metric) } else { format!("aibomdb:metric:{}:{}", m.task, m.metric) },
                "value": m.value.to_string(),
            })).collect::<Vec<_>>(),
        }));
    }
    dependencies.push(json!({"ref": root, "dependsOn": direct}));
    let mut properties = vec![
        json!({"name": "aibomdb:release:sequence", "value": r.sequence.to_string()}),
        json!({"name": "aibomdb:release:deployment", "value": r.deployment}),
    ];
    for d in &r.documents {
        properties.push(json!({
            "name": "aibomdb:source-document",
            "value": format!("{} {} sha256:{}", d.format, d.source_path, d.sha256),
        }));
    }
    for (name, version) in &r.runners {
        properties
            .push(json!({"name": "aibomdb:release:runner", "value": format!("{name}=={version}")}));
    }
    for (advisory, package) in &r.advisories {
        properties.push(json!({"name": "aibomdb:release:open-advisory", "value": format!("{advisory} in {package}")}));
    }
    if let Some(g) = &r.gate {
        properties.push(json!({
            "name": "aibomdb:release:gate",
            "value": format!("{} {} at {}{}", g.policy, if g.passed { "passed" } else { "failed" }, g.at,
                if g.failed_rules.is_empty() { String::new() } else { format!(" ({})", g.failed_rules.join(", ")) }),
        }));
    }
    if let Some(reason) = &r.forced {
        properties.push(json!({"name": "aibomdb:release:forced", "value": reason}));
    }
    if let Some(note) = &r.note {
        properties.push(json!({"name": "aibomdb:release:note", "value": note}));
    }
    let mut bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial(r),
        "version": 1,
        "metadata": {
            "timestamp": rfc3339(r.created_at),
            "lifecycles": [{"phase": "pre-build"}, {"phase": "operations"}],
            "tools": {"components": [{"type": "application", "name": "aibomdb", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {"type": "application", "bom-ref": root, "name": r.deployment, "version": r.name},
            "properties": properties,
        },
        "components": components,
        "dependencies": dependencies,
    });
    if !tasks.is_empty() {
        bom["formulation"] = json!([{
            "bom-ref": format!("formula:{}", r.name),
            "workflows": [{
                "bom-ref": format!("workflow:{}:evaluation", r.name),
                "uid": format!("{}:evaluation", r.name),
                "name": "evaluation evidence of the release",
                "taskTypes": ["test"],
                "tasks": tasks,
            }],
        }]);
    }
    if let Some(by) = &r.approved_by {
        let mut statement = format!("{by} approved release {} of {}", r.name, r.deployment);
        if let Some(reason) = &r.forced {
            statement.push_str(&format!(", forced past a failing gate: {reason}"));
        }
        bom["declarations"] = json!({
            "affirmation": {
                "statement": statement,
                "signatories": [{
                    "name": by,
                    "role": "approver",
                    "organization": {"name": by},
                    "externalReference": {"type": "other", "url": format!("urn:aibomdb:release:{}:{}", r.deployment, r.name)},
                }],
            },
        });
    }
    bom
}

/// The release as an in-toto Statement v1: every released digest a subject.
pub fn release_statement(r: &Release) -> Value {
    let mut subjects = Vec::new();
    for m in &r.models {
        for a in &m.artifacts {
            subjects.push(json!({
                "name": format!("{} {}", m.purl, a.path),
                "digest": {"sha256": a.sha256},
            }));
        }
    }
    for image in &r.images {
        let (reference, digest) = image_parts(image);
        if let Some(hex) = digest.strip_prefix("sha256:") {
            subjects.push(json!({"name": reference, "digest": {"sha256": hex}}));
        }
    }
    for d in &r.documents {
        subjects.push(json!({"name": d.source_path, "digest": {"sha256": d.sha256}}));
    }
    for e in &r.evals {
        subjects.push(json!({"name": e.file_name, "digest": {"sha256": e.sha256}}));
    }
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": RELEASE_PREDICATE,
        "predicate": {
            "purl": aibomdb_graph::PackageKey::from_parts("generic", None, &r.deployment, Some(&r.name)).as_str(),
            "releaseId": r.name,
            "deployment": r.deployment,
            "sequence": r.sequence,
            "createdAt": rfc3339(r.created_at),
            "approvedBy": r.approved_by,
            "forced": r.forced,
            "gate": r.gate.as_ref().map(|g| json!({"policy": g.policy, "passed": g.passed, "failedRules": g.failed_rules, "at": g.at})),
            "runners": r.runners.iter().map(|(n, v)| json!({"name": n, "version": v})).collect::<Vec<_>>(),
            "lineage": r.models.iter().map(|m| json!({"model": m.purl, "derivedFrom": m.derived_from.iter().map(|(rel, p)| json!({"relation": rel, "purl": p})).collect::<Vec<_>>(), "datasets": m.datasets})).collect::<Vec<_>>(),
            "metrics": r.evals.iter().flat_map(|e| e.metrics.iter().map(move |m| json!({"file": e.file_name, "task": m.task, "metric": m.metric, "value": m.value}))).collect::<Vec<_>>(),
        },
    })
}
