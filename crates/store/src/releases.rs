//! Releases and runtime observations of a deployment. A release freezes what
//! was approved to ship (documents, model artifacts, images, eval evidence,
//! the gate's verdict); it is written once and never changed. Observations
//! record what was seen running, in order, with their history kept. What a
//! release contains is decided by the release crate; the store keeps it.

use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use crate::tables::{EVIDENCE_FILES, OBSERVATIONS, RELEASES};
use crate::{RedbStore, Result, StoreError, decode, encode};

/// One document of the deployment as released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedDocument {
    pub id: u64,
    pub sha256: String,
    pub format: String,
    pub source_path: String,
}

/// One file of a released model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedArtifact {
    pub path: String,
    pub sha256: String,
    /// `safetensors`, `pickle`, `gguf`, `json`, … as the model importer named it.
    pub format: String,
}

/// A model (or adapter) as released: its node, its lineage and its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedModel {
    pub purl: String,
    /// The revision the purl names (`@rev`), if any.
    pub revision: Option<String>,
    /// (relation, purl) of each model it derives from: base, fine-tune, adapter.
    pub derived_from: Vec<(String, String)>,
    pub datasets: Vec<String>,
    pub artifacts: Vec<ReleasedArtifact>,
}

/// A metric an evaluation file reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The task (lm-evaluation-harness) or the key path of a plain JSON.
    pub task: String,
    pub metric: String,
    pub value: f64,
}

/// An evaluation file kept with a release (its bytes in `evidence_files`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalEvidence {
    pub file_name: String,
    pub sha256: String,
    pub size: u64,
    /// `lm-evaluation-harness` or `json`.
    pub kind: String,
    pub metrics: Vec<Metric>,
    /// What the file says about what was evaluated (model, revision, date).
    pub about: Vec<(String, String)>,
}

/// The gate's verdict when the release was made with a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseGate {
    pub policy: String,
    pub passed: bool,
    /// Rules that failed (`deny` violations).
    pub failed_rules: Vec<String>,
    /// RFC 3339 instant the policy was evaluated as of.
    pub at: String,
}

/// What was released: immutable once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub deployment: String,
    pub name: String,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Order among the deployment's releases (1, 2, …).
    pub sequence: u64,
    pub documents: Vec<ReleasedDocument>,
    /// Package keys (purls) the released documents list.
    pub packages: Vec<String>,
    pub models: Vec<ReleasedModel>,
    /// `REF@sha256:…` of each container image.
    pub images: Vec<String>,
    /// Open advisory matches at release time: (advisory, package key).
    pub advisories: Vec<(String, String)>,
    pub evals: Vec<EvalEvidence>,
    pub approved_by: Option<String>,
    pub note: Option<String>,
    pub gate: Option<ReleaseGate>,
    /// Why the release was made although its gate failed.
    pub forced: Option<String>,
    /// (name, version) of each runner approved to serve it.
    pub runners: Vec<(String, String)>,
}

/// What was seen running at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub deployment: String,
    /// Order among the deployment's observations.
    pub sequence: u64,
    /// Seconds since the epoch: when it was seen.
    pub at: u64,
    /// Lower-case hex SHA-256 of each model file loaded.
    pub model_sha256: Vec<String>,
    /// `sha256:…` of each image running.
    pub image_digests: Vec<String>,
    /// (name, version) of each runner (inference server, runtime).
    pub runners: Vec<(String, String)>,
    /// Who reported it (`cli`, `api`).
    pub source: String,
}

/// Removes a deployment's releases and observations inside `txn` (evidence
/// files stay: another release may keep the same bytes).
pub(crate) fn delete_of(txn: &redb::WriteTransaction, deployment: &str) -> Result<()> {
    let mut releases = txn.open_table(RELEASES)?;
    let mut names = Vec::new();
    for entry in releases.range((deployment, "")..)? {
        let (k, _) = entry?;
        if k.value().0 != deployment {
            break;
        }
        names.push(k.value().1.to_string());
    }
    for n in &names {
        releases.remove((deployment, n.as_str()))?;
    }
    let mut observations = txn.open_table(OBSERVATIONS)?;
    observations.retain_in((deployment, 0)..=(deployment, u64::MAX), |_, _| false)?;
    Ok(())
}

impl RedbStore {
    /// Writes `release` and its evidence files in one transaction. Refused
    /// (nothing written) when the deployment already has a release of that
    /// name: releases are never changed. The sequence is assigned here.
    pub fn put_release(&self, release: &Release, files: &[(String, Vec<u8>)]) -> Result<Release> {
        let txn = self.db.begin_write()?;
        let mut stored = release.clone();
        {
            let mut table = txn.open_table(RELEASES)?;
            let key = (release.deployment.as_str(), release.name.as_str());
            if table.get(key)?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "deployment {:?} already has a release named {:?}; releases are never changed",
                    release.deployment, release.name
                )));
            }
            let mut last = 0;
            for entry in table.range((release.deployment.as_str(), "")..)? {
                let (k, v) = entry?;
                if k.value().0 != release.deployment {
                    break;
                }
                let r: Release = decode(v.value(), "releases", k.value().1)?;
                last = last.max(r.sequence);
            }
            stored.sequence = last + 1;
            let mut buf = Vec::new();
            encode(&stored, &mut buf);
            table.insert(key, buf.as_slice())?;
            let mut blobs = txn.open_table(EVIDENCE_FILES)?;
            for (sha, bytes) in files {
                blobs.insert(sha.as_str(), bytes.as_slice())?;
            }
        }
        txn.commit()?;
        self.bump();
        Ok(stored)
    }

    /// The deployment's releases, oldest first.
    pub fn releases(&self, deployment: &str) -> Result<Vec<Release>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, RELEASES)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.range((deployment, "")..)? {
            let (k, v) = entry?;
            if k.value().0 != deployment {
                break;
            }
            out.push(decode::<Release>(v.value(), "releases", k.value().1)?);
        }
        out.sort_by_key(|r| r.sequence);
        Ok(out)
    }

    /// The deployment's latest release (highest sequence).
    pub fn latest_release(&self, deployment: &str) -> Result<Option<Release>> {
        Ok(self.releases(deployment)?.pop())
    }

    pub fn release(&self, deployment: &str, name: &str) -> Result<Option<Release>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, RELEASES)? else {
            return Ok(None);
        };
        table
            .get((deployment, name))?
            .map(|v| decode(v.value(), "releases", name))
            .transpose()
    }

    /// The bytes of an evidence file a release keeps.
    pub fn evidence_file(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, EVIDENCE_FILES)? else {
            return Ok(None);
        };
        Ok(table.get(sha256)?.map(|v| v.value().to_vec()))
    }

    /// Appends observations (a batch in one transaction); each gets the next
    /// sequence number of its deployment. Returns them as stored.
    pub fn put_observations(&self, batch: &[Observation]) -> Result<Vec<Observation>> {
        let txn = self.db.begin_write()?;
        let mut stored = Vec::with_capacity(batch.len());
        {
            let mut table = txn.open_table(OBSERVATIONS)?;
            let mut next: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
            for o in batch {
                let seq = match next.get(&o.deployment) {
                    Some(n) => *n,
                    None => {
                        let last = table
                            .range((o.deployment.as_str(), 0)..=(o.deployment.as_str(), u64::MAX))?
                            .next_back()
                            .transpose()?
                            .map_or(0, |(k, _)| k.value().1);
                        last + 1
                    }
                };
                next.insert(o.deployment.clone(), seq + 1);
                let mut row = o.clone();
                row.sequence = seq;
                let mut buf = Vec::new();
                encode(&row, &mut buf);
                table.insert((o.deployment.as_str(), seq), buf.as_slice())?;
                stored.push(row);
            }
        }
        txn.commit()?;
        self.bump();
        Ok(stored)
    }

    /// The deployment's observations, oldest first.
    pub fn observations(&self, deployment: &str) -> Result<Vec<Observation>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, OBSERVATIONS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.range((deployment, 0)..=(deployment, u64::MAX))? {
            let (k, v) = entry?;
            out.push(decode(v.value(), "observations", &k.value().1.to_string())?);
        }
        Ok(out)
    }

    /// The deployment's latest observation.
    pub fn latest_observation(&self, deployment: &str) -> Result<Option<Observation>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, OBSERVATIONS)? else {
            return Ok(None);
        };
        table
            .range((deployment, 0)..=(deployment, u64::MAX))?
            .next_back()
            .transpose()?
            .map(|(k, v)| decode(v.value(), "observations", &k.value().1.to_string()))
            .transpose()
    }
}
