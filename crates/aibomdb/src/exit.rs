//! Exit codes, and which errors are the user's and which are ours. CI scripts
//! tell "your file is wrong" (2) from "the tool broke" (3) by them, so errors
//! are classified by type, never by their message.

use aibomdb_export::ExportError;
use aibomdb_ingest::{ErrorKind, IngestError};
use aibomdb_osv::LoadError;
use aibomdb_query::QueryError;
use aibomdb_store::StoreError;

/// A gate tripped (`match --fail-on`, `cra-report`, `query models --risky`).
pub(crate) const GATE: u8 = 1;
/// Bad input or usage: a document, record, flag, name or `--db` file that is wrong.
pub(crate) const BAD_INPUT: u8 = 2;
/// Internal failure: store I/O, a damaged store, a bug (a panic).
pub(crate) const INTERNAL: u8 = 3;

/// An error that is the user's input, not ours: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadInput(pub(crate) String);

/// The exit code of an error that ended a command. Anything not known to be
/// the user's input is internal: a failure is never blamed on a correct file.
pub(crate) fn code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<BadInput>() {
            return BAD_INPUT;
        }
        if let Some(e) = cause.downcast_ref::<StoreError>() {
            return store(e);
        }
        if let Some(e) = cause.downcast_ref::<IngestError>() {
            return ingest(e);
        }
        if let Some(e) = cause.downcast_ref::<QueryError>() {
            return match e {
                QueryError::BadInput(_) | QueryError::BadRange(_) => BAD_INPUT,
                QueryError::Store(e) => store(e),
            };
        }
        if let Some(e) = cause.downcast_ref::<ExportError>() {
            return match e {
                ExportError::NoDeployment(_) | ExportError::UnknownFormat(_) => BAD_INPUT,
                ExportError::Store(e) => store(e),
            };
        }
        if let Some(e) = cause.downcast_ref::<LoadError>() {
            // A path the user named that cannot be read, or a broken zip.
            return match e {
                LoadError::Io { .. } | LoadError::Zip { .. } => BAD_INPUT,
            };
        }
    }
    INTERNAL
}

/// `--db` naming something that is not a store of this build, or a store a
/// server holds, is usage; the store failing to read or write is ours.
pub(crate) fn store(e: &StoreError) -> u8 {
    match e {
        StoreError::NotAStore { .. }
        | StoreError::Schema { .. }
        | StoreError::InUse { .. }
        | StoreError::Conflict(_)
        | StoreError::Unsupported { .. } => BAD_INPUT,
        StoreError::Open { .. }
        | StoreError::Backend(_)
        | StoreError::Stale(_)
        | StoreError::Corrupt { .. } => INTERNAL,
    }
}

/// One input that failed: unreadable or malformed input is the user's; a
/// failed commit is the store's.
pub(crate) fn ingest(e: &IngestError) -> u8 {
    match &e.kind {
        ErrorKind::Store(e) => store(e),
        ErrorKind::Io(_)
        | ErrorKind::Empty
        | ErrorKind::TooLarge { .. }
        | ErrorKind::UnknownFormat(_)
        | ErrorKind::Import { .. } => BAD_INPUT,
    }
}
