//! Releases, runtime observations and drift: what reached production, who
//! approved it, what runs now, and what to roll back to.
//!
//! A release freezes a deployment's current state (documents, packages,
//! models with their lineage and file digests, image digests, open
//! advisories, eval evidence, the approver, the gate's verdict) and is never
//! changed. Observations record what was seen running; drift compares the
//! latest observation with the latest release.

mod create;
mod diff;
mod drift;
pub mod eval;

pub use create::{NewRelease, create};
pub use diff::{Change, ReleaseDiff, diff};
pub use drift::{Difference, Drift, NewObservation, drift, drift_all, observe};

use aibomdb_store::{Release, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Bad input: a file, an option, a name. Nothing was written.
    #[error("{what}: {message}")]
    BadInput { what: String, message: String },
    #[error("no deployment named {0:?}")]
    NoDeployment(String),
    #[error("deployment {deployment:?} has no release named {name:?}")]
    NoRelease { deployment: String, name: String },
    /// The gate failed and the release was not forced: nothing was written.
    #[error("the gate failed ({}); the release was not made (give --force REASON to record it anyway)", .failed.join(", "))]
    GateFailed { failed: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Query(String),
}

impl From<aibomdb_query::QueryError> for ReleaseError {
    fn from(e: aibomdb_query::QueryError) -> Self {
        match e {
            aibomdb_query::QueryError::Store(s) => ReleaseError::Store(s),
            other => ReleaseError::Query(other.to_string()),
        }
    }
}

/// The deployment's releases, oldest first.
pub fn list(store: &Store, deployment: &str) -> Result<Vec<Release>, ReleaseError> {
    known(store, deployment)?;
    Ok(store.releases(deployment)?)
}

pub fn show(store: &Store, deployment: &str, name: &str) -> Result<Release, ReleaseError> {
    known(store, deployment)?;
    store
        .release(deployment, name)?
        .ok_or_else(|| ReleaseError::NoRelease {
            deployment: deployment.to_string(),
            name: name.to_string(),
        })
}

/// The latest release before the current (latest) one that was not forced
/// past a failing gate; a release made without a policy is eligible. `None`
/// when there is no such release.
pub fn rollback_target(store: &Store, deployment: &str) -> Result<Option<Release>, ReleaseError> {
    let mut releases = list(store, deployment)?;
    releases.pop();
    Ok(releases.into_iter().rev().find(|r| r.forced.is_none()))
}

fn known(store: &Store, deployment: &str) -> Result<(), ReleaseError> {
    if store.has_deployment(deployment)? {
        Ok(())
    } else {
        Err(ReleaseError::NoDeployment(deployment.to_string()))
    }
}

/// Whether a model file's format is weights (what a server loads), as the
/// model importer names formats.
pub(crate) fn is_weight(format: &str) -> bool {
    matches!(
        format,
        "safetensors"
            | "pickle"
            | "torch-zip"
            | "torchscript"
            | "gguf"
            | "onnx"
            | "keras"
            | "numpy"
    )
}
