//! OSV advisories: lenient loading (JSON, the PyPA YAML files, directories of
//! either, osv.dev's per-ecosystem `all.zip`) and exact range evaluation.
//! Matching against the graph lives with the store; this crate knows OSV.

mod load;
mod range;
mod record;

pub use load::{LoadError, LoadLimits, Loaded, load_bytes, load_path};
pub use range::{Verdict, base_ecosystem, in_range, names_package};
pub use record::{Advisory, Affected, Event, Package, Range, Reference, Severity};
