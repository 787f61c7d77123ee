//! OSV advisories: lenient loading (JSON, the PyPA YAML files, directories of
//! either, osv.dev's per-ecosystem `all.zip`) and exact range evaluation.
//! Matching against the graph lives with the store; this crate knows OSV.

pub mod epss;
mod estate;
pub mod kev;
mod load;
mod matcher;
mod names;
mod range;
mod record;
mod rematch;
mod report;
mod severity;
mod vex;

pub use estate::{
    AdvisoryExposure, Bits, DeploymentExposure, DocIndex, EstateExposure, estate_exposure,
};
pub use load::{
    LoadError, LoadLimits, Loaded, load_bytes, load_path, load_zip_bytes, sniff, sniff_file,
};
pub use matcher::{
    DocumentMatches, LoadSummary, PlannedLoad, STALE_RETRIES, apply_advisories, evaluate,
    evaluate_prepared, load_advisories, lookup_names, match_again, match_document, match_encoded,
    pause_before_retry, plan_advisories,
};
pub use names::{OsvName, index_key, osv_names};
pub use range::{
    Candidate, PreparedAdvisory, PreparedAffected, PreparedRange, Verdict, base_ecosystem,
    in_range, names_package,
};
pub use record::{Advisory, Affected, Event, Package, Range, Reference, Severity};
pub use rematch::{PlannedRematch, RematchSummary, plan_rematch, rematch_all};
pub use report::{
    AdvisoryCache, AdvisoryFacts, MatchReader, MatchRow, advisory_deployments, advisory_matches,
    deployment_matches, each_deployment_matches, matches_of, sarif,
};
pub use severity::{
    Level, best_cvss, cvss3_base_score, cvss4_base_score, severity, unknown_reason,
};
pub use vex::{VexResolver, VexVerdict};
