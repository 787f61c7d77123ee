//! Hub API model info (`GET /api/models/{id}`): the repo id and revision
//! (`sha`), card metadata (`cardData.base_model`, `datasets`, `license`), the
//! lineage tags the Hub derives (`base_model:finetune:org/name`,
//! `dataset:name`), and `siblings` with their LFS SHA-256 when the response
//! was asked with `?blobs=true` — the published digests a local copy is
//! checked against.

use aibomdb_graph::{
    Artifact, DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, ImportError, ModelInfo,
    PackageFact, Subject,
};
use serde_json::Value;

use crate::{dataset_key, hub_key};

/// True when the JSON looks like Hub model info.
pub fn sniff(head: &str) -> bool {
    use aibomdb_graph::sniff::contains;
    contains(head, "\"modelId\"") && contains(head, "\"siblings\"")
}

pub fn import(bytes: &[u8]) -> Result<DocumentFacts, ImportError> {
    let v: Value = aibomdb_graph::json::parse(bytes)?;
    let id = v
        .get("id")
        .or_else(|| v.get("modelId"))
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::field("id", "missing"))?;
    let sha = v.get("sha").and_then(Value::as_str).map(str::to_string);
    let key = hub_key(id, sha.as_deref())
        .ok_or_else(|| ImportError::field("id", format!("{id:?} is not an `org/name` hub id")))?;
    let mut facts = DocumentFacts::new(DocumentFormat::HubModelInfo, "1");
    facts.serial = Some(format!("{id}@{}", sha.as_deref().unwrap_or("")));
    facts.created = v
        .get("lastModified")
        .and_then(Value::as_str)
        .map(str::to_string);
    let card = v.get("cardData");
    let tags: Vec<&str> = v
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let strings = |x: Option<&Value>| -> Vec<String> {
        match x {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut info = ModelInfo {
        node: "model".into(),
        license: card
            .and_then(|c| c.get("license"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                tags.iter()
                    .find_map(|t| t.strip_prefix("license:"))
                    .map(str::to_string)
            }),
        library_name: v
            .get("library_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        pipeline_tag: v
            .get("pipeline_tag")
            .and_then(Value::as_str)
            .map(str::to_string),
        architectures: strings(v.pointer("/config/architectures")),
        model_type: v
            .pointer("/config/model_type")
            .and_then(Value::as_str)
            .map(str::to_string),
        sources: vec!["Hub model info".into()],
        ..Default::default()
    };
    for (i, s) in v
        .get("siblings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(path) = s.get("rfilename").and_then(Value::as_str) else {
            return Err(ImportError::field(
                format!("siblings[{i}].rfilename"),
                "missing",
            ));
        };
        let mut a = Artifact {
            path: path.to_string(),
            format: crate::format_of(path).into(),
            size: s.get("size").and_then(Value::as_u64),
            ..Default::default()
        };
        if let Some(d) = s.pointer("/lfs/sha256").and_then(Value::as_str) {
            a.references
                .push(("Hub siblings lfs.sha256".into(), d.to_ascii_lowercase()));
            a.size = a
                .size
                .or_else(|| s.pointer("/lfs/size").and_then(Value::as_u64));
        }
        a.judge();
        info.artifacts.push(a);
    }
    // Lineage: the Hub's derived tags name the relation; cardData names bases.
    let mut bases: Vec<(String, Option<EdgeKind>)> = Vec::new();
    for t in &tags {
        if let Some(rest) = t.strip_prefix("base_model:") {
            match rest.split_once(':') {
                Some((relation, base)) if EdgeKind::from_relation(relation).is_some() => {
                    bases.push((base.to_string(), EdgeKind::from_relation(relation)));
                }
                _ => bases.push((rest.to_string(), None)),
            }
        }
    }
    for b in strings(card.and_then(|c| c.get("base_model"))) {
        bases.push((b, None));
    }
    let explicit = card
        .and_then(|c| c.get("base_model_relation"))
        .and_then(Value::as_str)
        .and_then(EdgeKind::from_relation);
    let mut distinct: Vec<(String, Option<EdgeKind>)> = Vec::new();
    for (b, k) in bases {
        match distinct
            .iter_mut()
            .find(|(x, _)| x.eq_ignore_ascii_case(&b))
        {
            Some(e) => e.1 = e.1.or(k),
            None => distinct.push((b, k)),
        }
    }
    let mut datasets: Vec<String> = strings(card.and_then(|c| c.get("datasets")));
    for t in &tags {
        if let Some(d) = t.strip_prefix("dataset:")
            && !datasets.iter().any(|x| x == d)
        {
            datasets.push(d.to_string());
        }
    }
    info.kind = Some(
        match (
            distinct.is_empty(),
            explicit.or(distinct.first().and_then(|d| d.1)),
        ) {
            (true, _) => "base",
            (false, Some(EdgeKind::AdapterOf)) => "adapter",
            (false, Some(EdgeKind::QuantizedFrom)) => "quantized",
            (false, Some(EdgeKind::MergedFrom)) => "merged",
            (false, _) => "fine-tune",
        }
        .to_string(),
    );
    facts.packages.push(PackageFact {
        purl: Some(key.as_str().to_string()),
        name: id.to_string(),
        version: sha.clone(),
        kind: Some("machine-learning-model".into()),
        licenses: info.license.iter().cloned().collect(),
        key: Some(key),
        model: Some(Box::new(info)),
        ..Default::default()
    });
    facts.subject = Some(Subject {
        name: id.to_string(),
        version: sha,
        kind: Some("machine-learning-model".into()),
        package: Some(0),
        reference: None,
    });
    for (base, kind) in distinct {
        let Some(key) = hub_key(&base, None) else {
            facts
                .warnings
                .push(format!("base model {base:?} is not an `org/name` hub id"));
            continue;
        };
        facts.packages.push(PackageFact {
            purl: Some(key.as_str().to_string()),
            name: base,
            kind: Some("machine-learning-model".into()),
            key: Some(key),
            model: Some(Box::new(ModelInfo {
                node: "model".into(),
                ..Default::default()
            })),
            ..Default::default()
        });
        facts.dependencies.push(DependencyFact {
            from: 0,
            to: facts.packages.len() - 1,
            kind: explicit.or(kind).unwrap_or(EdgeKind::FinetunedFrom),
            scope: None,
            marker: None,
            via_extra: None,
        });
    }
    for d in datasets {
        let key = dataset_key(&d);
        facts.packages.push(PackageFact {
            purl: Some(key.as_str().to_string()),
            purl_synthesized: true,
            name: d,
            kind: Some("data".into()),
            key: Some(key),
            model: Some(Box::new(ModelInfo {
                node: "dataset".into(),
                ..Default::default()
            })),
            ..Default::default()
        });
        facts.dependencies.push(DependencyFact {
            from: 0,
            to: facts.packages.len() - 1,
            kind: EdgeKind::TrainedOn,
            scope: None,
            marker: None,
            via_extra: None,
        });
    }
    facts.entries_read = facts.packages.len() - 1;
    Ok(facts.finish())
}
