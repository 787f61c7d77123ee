//! Which VEX statements cover which matches: the resolver lives with the
//! store (`aibomdb_store::vex`), so that the reports here and the events a
//! change records decide with the same function.

pub use aibomdb_store::{VexResolver, VexVerdict};
