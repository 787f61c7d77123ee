//! What an in-toto attestation states about one of its subjects: the
//! statement's predicate, what the signature over it proved, what a SLSA
//! provenance says of the build, and what the subject was bound to in the
//! graph by digest. Held on the subject's [`crate::PackageFact`] in the
//! attestation's document.

use serde::{Deserialize, Serialize};

use crate::Hash;

/// One subject of an in-toto statement, as the attestation document states it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// `https://in-toto.io/Statement/v1` (or `v0.1`).
    pub statement_type: String,
    /// The statement's `predicateType`, whatever it is.
    pub predicate_type: String,
    /// How the statement came: `statement` (bare, unsigned), `dsse` (a DSSE
    /// envelope), `sigstore-bundle`.
    pub envelope: String,
    /// The subject's name and digests as the statement gives them.
    pub subject_name: String,
    pub subject_digests: Vec<Hash>,
    /// What the signature proved.
    pub signature: AttestationSignature,
    /// SLSA provenance: `runDetails.builder.id` (v1) / `builder.id` (v0.2).
    pub builder_id: Option<String>,
    /// SLSA provenance: `buildDefinition.buildType` (v1) / `buildType` (v0.2).
    pub build_type: Option<String>,
    /// OpenSSF model signing: each signed file (name, lower-case SHA-256),
    /// which bind the statement to a model's artifacts.
    pub resources: Vec<(String, String)>,
    /// What the subject was bound to in the graph by digest at ingest;
    /// `None`: its digests matched nothing the graph held then.
    pub bound: Option<Binding>,
}

/// What the signature over a statement proved, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationSignature {
    /// `none` (a bare statement), `key`, `certificate` or `keyless`.
    pub method: String,
    /// `verified`, `signature invalid`, `certificate chain invalid`,
    /// `unverified (no key given)`, `unverified (no trust anchor given)`,
    /// `unverified (needs transparency log)`, `unsigned (no signatures)`,
    /// `unsigned (bare statement)`. Only `verified` means a signature was
    /// checked against a key or chain the caller gave.
    pub status: String,
    /// Key ids the envelope names.
    pub key_ids: Vec<String>,
    pub signer: Option<String>,
    pub issuer: Option<String>,
    pub chain: Vec<String>,
    pub detail: Option<String>,
}

impl AttestationSignature {
    pub fn is_verified(&self) -> bool {
        self.status == "verified"
    }
}

/// A subject bound by digest to a node the graph already held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// `model artifact` or `image`.
    pub what: String,
    /// The package key bound to (the model, the image).
    pub purl: String,
    /// The model file's path, for a model artifact.
    pub path: Option<String>,
    /// The lower-case SHA-256 that matched.
    pub sha256: String,
    /// The document that holds the model or image, and its deployment.
    pub document: u64,
    pub deployment: String,
}
