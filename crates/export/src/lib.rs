//! Documents written from the graph, for compliance evidence and exchange:
//! a deployment as CycloneDX 1.6 or 1.5 (BSI TR-03183-2 properties, ML-BOM
//! model cards with lineage, VEX analysis), SPDX 2.3, OpenVEX and CycloneDX
//! VEX, and a completeness report against TR-03183-2 v2.1.0 measured on the
//! CycloneDX export.
//!
//! Every writer formats one [`Inventory`] gathered from the store; none reads
//! the store itself.

mod cra;
mod cyclonedx;
mod evidence;
mod inventory;
mod openvex;
mod release;
mod spdx;
pub mod time;
mod vex_map;

use aibomdb_store::StoreError;
use serde_json::Value;

pub use cra::{CraReport, FieldResult, html as cra_html};
pub use cyclonedx::{EVALUATED_ON_PROPERTY, RELATION_PROPERTY};
pub use evidence::{EvidenceMemo, ListedFact, cra_report_listed, required_missing_listed};
pub use release::{RELEASE_PREDICATE, release_cyclonedx, release_statement};

use inventory::Inventory;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no deployment named {0:?}")]
    NoDeployment(String),
    #[error(
        "unknown export format {0:?} (cyclonedx-1.6, cyclonedx-1.5, spdx-2.3, openvex, cyclonedx-vex)"
    )]
    UnknownFormat(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    CycloneDx16,
    CycloneDx15,
    Spdx23,
    OpenVex,
    CycloneDxVex,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 5] = [
        ExportFormat::CycloneDx16,
        ExportFormat::CycloneDx15,
        ExportFormat::Spdx23,
        ExportFormat::OpenVex,
        ExportFormat::CycloneDxVex,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::CycloneDx16 => "cyclonedx-1.6",
            ExportFormat::CycloneDx15 => "cyclonedx-1.5",
            ExportFormat::Spdx23 => "spdx-2.3",
            ExportFormat::OpenVex => "openvex",
            ExportFormat::CycloneDxVex => "cyclonedx-vex",
        }
    }

    /// A file name suffix for downloads.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::CycloneDx16 | ExportFormat::CycloneDx15 => "cdx.json",
            ExportFormat::Spdx23 => "spdx.json",
            ExportFormat::OpenVex => "openvex.json",
            ExportFormat::CycloneDxVex => "vex.cdx.json",
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<Self, ExportError> {
        ExportFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ExportError::UnknownFormat(s.to_string()))
    }
}

/// What the graph cannot know about the evidence's creator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// The SBOM creator's e-mail (TR-03183-2 field 1).
    pub creator_email: Option<String>,
    /// The SBOM creator's URL, when there is no e-mail.
    pub creator_url: Option<String>,
    /// The organisation or person named as author.
    pub author: Option<String>,
}

/// The deployment's current documents written in `format`.
pub fn export(
    store: &aibomdb_store::Store,
    deployment: &str,
    format: ExportFormat,
    opts: &Options,
) -> Result<Value, ExportError> {
    let inv = Inventory::gather(store, deployment)?;
    // SPDX 2.3 carries no vulnerabilities: the matches are not read for it.
    let matches = match format {
        ExportFormat::Spdx23 => Vec::new(),
        _ => inv.matches(store)?,
    };
    Ok(match format {
        ExportFormat::CycloneDx16 => cyclonedx::bom(&inv, cyclonedx::Spec::V1_6, opts, &matches),
        ExportFormat::CycloneDx15 => cyclonedx::bom(&inv, cyclonedx::Spec::V1_5, opts, &matches),
        ExportFormat::Spdx23 => spdx::document(&inv, opts),
        ExportFormat::OpenVex => openvex::document(&inv, &matches, opts),
        ExportFormat::CycloneDxVex => cyclonedx::vex(&inv, &matches, opts),
    })
}

/// The deployment as CycloneDX 1.6 (what the dashboard's download button serves).
pub fn cyclonedx_1_6(
    store: &aibomdb_store::Store,
    deployment: &str,
    timestamp: &str,
) -> Result<Value, ExportError> {
    export(
        store,
        deployment,
        ExportFormat::CycloneDx16,
        &Options {
            timestamp: timestamp.to_string(),
            ..Default::default()
        },
    )
}

/// Completeness of the deployment's CycloneDX 1.6 export against BSI
/// TR-03183-2 v2.1.0.
pub fn cra_report(
    store: &aibomdb_store::Store,
    deployment: &str,
    opts: &Options,
) -> Result<CraReport, ExportError> {
    // The report looks at what TR-03183-2 asks for, which does not include
    // vulnerabilities: they are not read.
    let inv = Inventory::gather(store, deployment)?;
    let bom = cyclonedx::bom(&inv, cyclonedx::Spec::V1_6, opts, &[]);
    Ok(cra::report(deployment, &bom))
}

/// [`cra_report`] of documents the caller has read already (the gate has
/// them in hand): the same report, without reading the packages again.
pub fn cra_report_of(
    store: &aibomdb_store::Store,
    deployment: &str,
    documents: &[(
        aibomdb_store::DocumentRecord,
        Vec<(aibomdb_store::PackageRecord, aibomdb_store::Occurrence)>,
    )],
    opts: &Options,
) -> Result<CraReport, ExportError> {
    let inv = Inventory::of(store, deployment, documents)?;
    let bom = cyclonedx::bom(&inv, cyclonedx::Spec::V1_6, opts, &[]);
    Ok(cra::report(deployment, &bom))
}
