//! Runtime observations (`aibomdb observe`, `POST /v1/observations`) and
//! drift: the latest observation against the latest release.

use std::collections::{BTreeMap, BTreeSet};

use aibomdb_store::{Observation, Release, Store};
use serde::Serialize;

use crate::create::{image_digest, runner};
use crate::{ReleaseError, is_weight, known};

/// An observation as reported, before it is checked.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewObservation {
    pub deployment: String,
    #[serde(default)]
    pub model_sha256: Vec<String>,
    #[serde(default)]
    pub image_digests: Vec<String>,
    /// `NAME==VERSION`.
    #[serde(default)]
    pub runners: Vec<String>,
    /// Seconds since the epoch; now when absent.
    #[serde(default)]
    pub at: Option<i64>,
}

/// Checks and stores a batch of observations in one transaction: all or
/// nothing. `now` is used where an observation gives no time.
pub fn observe(
    store: &Store,
    batch: &[NewObservation],
    source: &str,
    now: i64,
) -> Result<Vec<Observation>, ReleaseError> {
    let mut known: BTreeSet<&str> = BTreeSet::new();
    let mut rows = Vec::with_capacity(batch.len());
    for (i, o) in batch.iter().enumerate() {
        let at = |field: &str| format!("observation {i} ({}) {field}", o.deployment);
        let bad = |what: String, message: String| ReleaseError::BadInput { what, message };
        if !known.contains(o.deployment.as_str()) {
            if !store.has_deployment(&o.deployment)? {
                return Err(ReleaseError::NoDeployment(o.deployment.clone()));
            }
            known.insert(&o.deployment);
        }
        if o.model_sha256.is_empty() && o.image_digests.is_empty() && o.runners.is_empty() {
            return Err(bad(
                at("body"),
                "says nothing: give model hashes, image digests or runners".into(),
            ));
        }
        let mut models = Vec::new();
        for h in &o.model_sha256 {
            let h = h.trim().to_ascii_lowercase();
            let h = h.strip_prefix("sha256:").unwrap_or(&h).to_string();
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(
                    at("model_sha256"),
                    format!("{h:?} is not a SHA-256 in hex"),
                ));
            }
            models.push(h);
        }
        for d in &o.image_digests {
            if image_digest(d).is_none() {
                return Err(bad(
                    at("image_digests"),
                    format!("{d:?} is not sha256:<64 lower-case hex>"),
                ));
            }
        }
        let runners = o
            .runners
            .iter()
            .map(|r| runner(r))
            .collect::<Result<Vec<_>, _>>()?;
        let when = o.at.unwrap_or(now);
        rows.push(Observation {
            deployment: o.deployment.clone(),
            sequence: 0,
            at: u64::try_from(when).map_err(|_| bad(at("at"), format!("{when} is before 1970")))?,
            model_sha256: models,
            image_digests: o.image_digests.clone(),
            runners,
            source: source.to_string(),
        });
    }
    Ok(store.put_observations(&rows)?)
}

/// One difference between what runs and what was released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `model-not-released`, `artifact-not-observed`, `image-not-released`,
    /// `image-not-observed`, `runner-differs`, `runner-not-released`.
    pub kind: &'static str,
    pub subject: String,
    /// What the release says (a digest, a version).
    pub released: Option<String>,
    /// What was observed.
    pub observed: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub deployment: String,
    pub release: String,
    pub observation: u64,
    /// When the observation was made (seconds since the epoch).
    pub observed_at: u64,
    pub drifted: bool,
    pub differences: Vec<Difference>,
}

/// The latest observation against the latest release. `Ok(None)` when the
/// deployment has no release or no observation yet (nothing to compare).
pub fn drift(store: &Store, deployment: &str) -> Result<Option<Drift>, ReleaseError> {
    known(store, deployment)?;
    let (Some(release), Some(seen)) = (
        store.latest_release(deployment)?,
        store.latest_observation(deployment)?,
    ) else {
        return Ok(None);
    };
    Ok(Some(compare(&release, &seen)))
}

/// Drift of every deployment that has both a release and an observation,
/// by name: one pass over the deployments, no per-deployment lookups of the
/// deployment list.
pub fn drift_all(store: &Store) -> Result<Vec<Drift>, ReleaseError> {
    let mut out = Vec::new();
    for d in store.deployments()? {
        let Some(seen) = store.latest_observation(&d.name)? else {
            continue;
        };
        if let Some(release) = store.latest_release(&d.name)? {
            out.push(compare(&release, &seen));
        }
    }
    Ok(out)
}

pub(crate) fn compare(release: &Release, seen: &Observation) -> Drift {
    let mut out = Vec::new();
    // Models: only when the observation reports model files at all.
    if !seen.model_sha256.is_empty() {
        let released: BTreeMap<&str, String> = release
            .models
            .iter()
            .flat_map(|m| {
                m.artifacts
                    .iter()
                    .map(move |a| (a.sha256.as_str(), format!("{} {}", m.purl, a.path)))
            })
            .collect();
        let observed: BTreeSet<&str> = seen.model_sha256.iter().map(String::as_str).collect();
        for h in &observed {
            if !released.contains_key(h) {
                out.push(Difference {
                    kind: "model-not-released",
                    subject: format!("sha256:{h}"),
                    released: None,
                    observed: Some(h.to_string()),
                });
            }
        }
        for m in &release.models {
            for a in m.artifacts.iter().filter(|a| is_weight(&a.format)) {
                if !observed.contains(a.sha256.as_str()) {
                    out.push(Difference {
                        kind: "artifact-not-observed",
                        subject: format!("{} {}", m.purl, a.path),
                        released: Some(a.sha256.clone()),
                        observed: None,
                    });
                }
            }
        }
    }
    if !seen.image_digests.is_empty() {
        let released: BTreeMap<&str, &str> = release
            .images
            .iter()
            .filter_map(|i| i.rsplit_once('@'))
            .map(|(r, d)| (d, r))
            .collect();
        for d in &seen.image_digests {
            if !released.contains_key(d.as_str()) {
                out.push(Difference {
                    kind: "image-not-released",
                    subject: d.clone(),
                    released: None,
                    observed: Some(d.clone()),
                });
            }
        }
        for (d, r) in &released {
            if !seen.image_digests.iter().any(|s| s == d) {
                out.push(Difference {
                    kind: "image-not-observed",
                    subject: format!("{r}@{d}"),
                    released: Some(d.to_string()),
                    observed: None,
                });
            }
        }
    }
    let approved: BTreeMap<&str, &str> = release
        .runners
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    for (name, version) in &seen.runners {
        match approved.get(name.as_str()) {
            Some(v) if v == version => {}
            Some(v) => out.push(Difference {
                kind: "runner-differs",
                subject: name.clone(),
                released: Some(v.to_string()),
                observed: Some(version.clone()),
            }),
            None => out.push(Difference {
                kind: "runner-not-released",
                subject: name.clone(),
                released: None,
                observed: Some(version.clone()),
            }),
        }
    }
    Drift {
        deployment: release.deployment.clone(),
        release: release.name.clone(),
        observation: seen.sequence,
        observed_at: seen.at,
        drifted: !out.is_empty(),
        differences: out,
    }
}

#[cfg(test)]
mod tests {
    use aibomdb_store::{Observation, Release, ReleasedArtifact, ReleasedModel};

    use super::compare;

    fn release() -> Release {
        Release {
            deployment: "svc".into(),
            name: "r1".into(),
            created_at: 0,
            sequence: 1,
            documents: vec![],
            packages: vec![],
            models: vec![ReleasedModel {
                purl: "pkg:huggingface/org/m@1".into(),
                revision: Some("1".into()),
                derived_from: vec![],
                datasets: vec![],
                artifacts: vec![
                    ReleasedArtifact {
                        path: "model.safetensors".into(),
                        sha256: "w".repeat(64),
                        format: "safetensors".into(),
                    },
                    ReleasedArtifact {
                        path: "config.json".into(),
                        sha256: "c".repeat(64),
                        format: "json".into(),
                    },
                ],
            }],
            images: vec![format!("reg/svc@sha256:{}", "1".repeat(64))],
            advisories: vec![],
            evals: vec![],
            approved_by: None,
            note: None,
            gate: None,
            forced: None,
            runners: vec![("vllm".into(), "0.6.3".into())],
        }
    }

    fn seen(models: &[String], images: &[String], runners: &[(&str, &str)]) -> Observation {
        Observation {
            deployment: "svc".into(),
            sequence: 1,
            at: 0,
            model_sha256: models.to_vec(),
            image_digests: images.to_vec(),
            runners: runners
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            source: "test".into(),
        }
    }

    fn kinds(d: &super::Drift) -> Vec<(&'static str, String)> {
        d.differences
            .iter()
            .map(|x| (x.kind, x.subject.clone()))
            .collect()
    }

    #[test]
    fn as_released_is_no_drift() {
        let r = release();
        let d = compare(
            &r,
            &seen(
                &["w".repeat(64)],
                &[format!("sha256:{}", "1".repeat(64))],
                &[("vllm", "0.6.3")],
            ),
        );
        assert!(!d.drifted, "{:?}", d.differences);
    }

    #[test]
    fn each_kind_of_difference() {
        let r = release();
        // Another weights file, another image, an unapproved runner; the
        // released weights and image not seen. Configs are not expected.
        let d = compare(
            &r,
            &seen(
                &["x".repeat(64)],
                &[format!("sha256:{}", "2".repeat(64))],
                &[("vllm", "0.7.0"), ("tgi", "2.0")],
            ),
        );
        assert_eq!(
            kinds(&d),
            [
                ("model-not-released", format!("sha256:{}", "x".repeat(64))),
                (
                    "artifact-not-observed",
                    "pkg:huggingface/org/m@1 model.safetensors".to_string()
                ),
                ("image-not-released", format!("sha256:{}", "2".repeat(64))),
                (
                    "image-not-observed",
                    format!("reg/svc@sha256:{}", "1".repeat(64))
                ),
                ("runner-differs", "vllm".to_string()),
                ("runner-not-released", "tgi".to_string()),
            ]
        );
        // An observation that reports only runners says nothing of models or images.
        let d = compare(&r, &seen(&[], &[], &[("vllm", "0.6.3")]));
        assert!(!d.drifted);
    }
}
