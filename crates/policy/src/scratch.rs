//! "May this ship?" for a document that is not in the store: a pipeline or an
//! admission webhook sends an SBOM or a lockfile and gets the verdict, and the
//! store is left exactly as it was. The document goes into a private scratch
//! store together with what the real store knows that bears on it: the
//! advisories indexed under its packages' names and the approvals of its
//! models. Not carried over: the store's VEX statements (they speak for their
//! own deployments; a CycloneDX document's own analyses are read as usual),
//! base-model descriptions other documents hold (`require_known_base` flags
//! such bases), and digests other deployments publish for the same models.

use aibomdb_ingest::Prepared;
use aibomdb_store::Store;

use crate::{GateReport, Policy, PolicyError};

/// The deployment name the scratch document is evaluated under.
pub const SCRATCH_DEPLOYMENT: &str = "(uploaded document)";

/// Evaluates `policy` over one prepared document as if it were the only
/// document of a deployment, against the advisories and approvals `store`
/// holds. Nothing is written to `store`.
pub fn evaluate_document(
    store: &Store,
    policy: &Policy,
    prepared: Prepared,
    at: i64,
) -> Result<GateReport, PolicyError> {
    let dir = tempfile::tempdir().map_err(|e| PolicyError::Query(format!("scratch store: {e}")))?;
    let scratch = Store::open(dir.path().join("scratch.redb"))?;
    // The advisories that can match the document's packages.
    let mut keys: Vec<String> = prepared
        .facts
        .packages
        .iter()
        .flat_map(aibomdb_osv::lookup_names)
        .map(|n| n.key)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut advisories = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (_, id, json) in store.advisories_for_keys(&refs)? {
        if seen.insert(id)
            && let Ok(a) = serde_json::from_slice::<aibomdb_osv::Advisory>(&json)
        {
            advisories.push(a);
        }
    }
    if !advisories.is_empty() {
        aibomdb_osv::load_advisories(&scratch, &advisories)?;
    }
    // Approvals are bound to model digests, whoever gave them.
    let models: Vec<String> = prepared
        .facts
        .packages
        .iter()
        .filter(|p| p.model.is_some())
        .filter_map(|p| p.key.as_ref().map(|k| k.as_str().to_string()))
        .collect();
    for purl in &models {
        for approval in store.approvals(purl)? {
            scratch.approve(purl, &approval)?;
        }
    }
    aibomdb_ingest::commit(&scratch, prepared, Some(SCRATCH_DEPLOYMENT))
        .map_err(|e| PolicyError::Query(e.to_string()))?;
    crate::evaluate(&scratch, policy, &[SCRATCH_DEPLOYMENT.to_string()], at)
}
