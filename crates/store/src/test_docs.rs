//! Documents for the store's unit tests.

use aibomdb_graph::{DocumentFacts, DocumentFormat, PackageFact, key_for};

use crate::NewDocument;

/// A package fact as an SBOM with this purl states it.
pub(crate) fn fact(purl: &str) -> PackageFact {
    let (key, synthesized, qualifiers) = key_for(Some(purl), "", None);
    PackageFact {
        key,
        purl: Some(purl.into()),
        purl_synthesized: synthesized,
        qualifiers,
        ..Default::default()
    }
}

/// Document `n` of `deployment` (its bytes' hash is `n` repeated), with a
/// non-ASCII path so that encodings of paths are tried on more than ASCII.
pub(crate) fn doc(deployment: &str, n: u8, packages: Vec<PackageFact>) -> NewDocument {
    let mut facts = DocumentFacts::new(DocumentFormat::CycloneDx, "1.6");
    facts.packages = packages;
    NewDocument {
        deployment: deployment.into(),
        source_path: format!("/estate/ü{n}.json"),
        sha256: [n; 32],
        size: 1,
        facts,
        lookup_names: Vec::new(),
        matches: Vec::new(),
        matched_at: None,
        rows: None,
    }
}
