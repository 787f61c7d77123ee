//! SPDX → graph facts: SPDX 2.2/2.3 JSON and tag-value ([`import_v2`]; the
//! tag-value reader fills the JSON reader's wire structures, `tag_value.rs`)
//! and SPDX 3.0.1 JSON-LD ([`import_v3`]). Packages known only through
//! lineage relationships are folded (`lineage.rs`).
//!
//! `spdx-rs` denies unknown fields and rejects values the official 2.3 schema
//! allows (`"OPERATING-SYSTEM"`), and has no SPDX 3, so both versions are read
//! through private lenient wire structs: unknown fields ignored, `null` taken
//! as absent, enumerations kept as strings.

mod lineage;
mod tag_value;
mod v2;
mod v3;

pub use tag_value::{MAX_LINES, MAX_PACKAGES, sniff_tag_value};
pub use v3::import_v3;

/// True when the JSON looks like SPDX 2.x.
pub fn sniff_v2(head: &str) -> bool {
    aibomdb_graph::sniff::contains(head, "\"spdxVersion\"")
}

/// True when the JSON looks like SPDX 3 JSON-LD.
pub fn sniff_v3(head: &str) -> bool {
    use aibomdb_graph::sniff::contains;
    contains(head, "\"@context\"") && contains(head, "spdx.org/rdf/3")
}

/// Reads one SPDX 2.2/2.3 document, JSON or tag-value (told apart by the
/// first character that is not white space: JSON starts with `{`). Both
/// encodings fill the same wire structures and share one mapping, so the
/// same document gives the same facts in either.
pub fn import_v2(bytes: &[u8]) -> Result<aibomdb_graph::DocumentFacts, aibomdb_graph::ImportError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let doc = if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        aibomdb_graph::json::parse(bytes)?
    } else {
        tag_value::parse(body)?
    };
    v2::map(doc)
}
