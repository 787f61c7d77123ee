//! The facts every importer emits and the identity rules that merge them.
//!
//! This crate knows nothing of storage, GraphQL or any input format: importers
//! depend on it, the store persists what it defines.

pub mod attestation;
pub mod facts;
pub mod json;
pub mod model;
pub mod purl;
pub mod sniff;
pub mod time;
pub mod vex;

pub use attestation::{Attestation, AttestationSignature, Binding};
pub use facts::{
    DependencyFact, DocumentFacts, DocumentFormat, EdgeKind, Hash, PackageFact, Party, Scope,
    Skipped, Subject, Tool, doubt_flags, key_for, upstream_source,
};
pub use model::{Artifact, FileMetadata, ModelInfo, PickleReport, SecretFinding, SigningReport};
pub use purl::{PackageKey, Purl, PurlError, pep503_normalise};
pub use vex::{BomLink, VexStatement, VexStatus, VexTarget, normalise_serial};

/// The error every importer returns: what went wrong and where in the document.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The bytes are not well-formed for the format (JSON syntax, wrong types).
    #[error("{}{message} at line {line}, column {column}", field.as_deref().map(|f| format!("in `{f}`: ")).unwrap_or_default())]
    Syntax {
        message: String,
        line: usize,
        column: usize,
        /// Where in the document the parser was, when known.
        field: Option<String>,
    },
    /// Well-formed, but a required field is missing or unusable.
    #[error("field `{field}`: {message}")]
    Field { field: String, message: String },
    /// The document is not of the format the importer reads.
    #[error("not a {expected} document: {message}")]
    WrongFormat {
        expected: &'static str,
        message: String,
    },
}

impl ImportError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ImportError::Field {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Maps a serde_json error: its message names the field path where serde knows it.
    pub fn from_json(e: &serde_json::Error) -> Self {
        // serde_json appends " at line L column C"; the position is kept apart.
        let text = e.to_string();
        let message = match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        ImportError::Syntax {
            message,
            line: e.line(),
            column: e.column(),
            field: None,
        }
    }
}
