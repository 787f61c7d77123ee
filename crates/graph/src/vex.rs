//! VEX statements: what a supplier or operator says about one vulnerability in
//! some packages or products. CycloneDX (`vulnerabilities[].analysis`) and
//! OpenVEX both become these; the matcher decides which matches they cover.

use serde::{Deserialize, Serialize};

/// The four statuses that CISA's minimum VEX requirements and OpenVEX use.
/// CycloneDX states map onto them; the original state is kept alongside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }

    /// A statement with this status takes the match out of the count of open
    /// findings (and out of `--fail-on` gates).
    pub fn suppresses(self) -> bool {
        matches!(self, VexStatus::NotAffected | VexStatus::Fixed)
    }

    /// CycloneDX `analysis.state`.
    pub fn from_cyclonedx(state: &str) -> Option<Self> {
        Some(match state {
            "not_affected" | "false_positive" => VexStatus::NotAffected,
            "exploitable" => VexStatus::Affected,
            "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
            "in_triage" => VexStatus::UnderInvestigation,
            _ => return None,
        })
    }

    /// OpenVEX `status`.
    pub fn from_openvex(status: &str) -> Option<Self> {
        Some(match status {
            "not_affected" => VexStatus::NotAffected,
            "affected" => VexStatus::Affected,
            "fixed" => VexStatus::Fixed,
            "under_investigation" => VexStatus::UnderInvestigation,
            _ => return None,
        })
    }
}

impl std::fmt::Display for VexStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VexTarget {
    /// A package by normalised purl key; a key without `@version` covers every version.
    /// `serial` is the BOM the reference pointed into (a BOM-Link), when it did.
    Package { key: String, serial: Option<String> },
    /// The product the VEX document itself describes (its `metadata.component`):
    /// every package of the deployments the statement covers.
    Product,
    /// A `bom-ref` inside another BOM (BOM-Link whose fragment is not a purl),
    /// resolved against the store when matches are reported.
    BomRef { serial: String, reference: String },
    /// A reference nothing could resolve; kept so that it can be shown.
    Unresolved { reference: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexStatement {
    /// The vulnerability id as the statement gives it (CVE-, GHSA-, PYSEC-…).
    pub vulnerability: String,
    /// Other ids the statement names for the same vulnerability.
    pub aliases: Vec<String>,
    pub targets: Vec<VexTarget>,
    pub status: VexStatus,
    /// The state as the document wrote it (`false_positive`, `resolved_with_pedigree`, …).
    pub state: String,
    pub justification: Option<String>,
    /// CycloneDX `analysis.detail`, OpenVEX `impact_statement`/`status_notes`.
    pub detail: Option<String>,
    /// CycloneDX `analysis.response`, OpenVEX `action_statement`.
    pub response: Vec<String>,
    pub timestamp: Option<String>,
    /// Where in the document the statement is (`vulnerabilities[3]`, `statements[0]`).
    pub location: String,
}

impl VexStatement {
    /// Every id the statement answers to, upper-cased for lookup.
    pub fn identifiers(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::iter::once(&self.vulnerability)
            .chain(&self.aliases)
            .map(|i| i.trim().to_ascii_uppercase())
            .filter(|i| !i.is_empty())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// A CycloneDX BOM-Link: `urn:cdx:<serial-uuid>/<version>#<bom-ref>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BomLink {
    /// As a `serialNumber` would be written: `urn:uuid:<uuid>`.
    pub serial: String,
    pub version: Option<String>,
    /// Percent-decoded `bom-ref`; `None` when the link names the whole BOM.
    pub reference: Option<String>,
}

impl BomLink {
    pub fn parse(text: &str) -> Option<BomLink> {
        let rest = text.strip_prefix("urn:cdx:")?;
        let (head, fragment) = match rest.split_once('#') {
            Some((h, f)) => (h, Some(f)),
            None => (rest, None),
        };
        let (uuid, version) = match head.split_once('/') {
            Some((u, v)) => (u, Some(v.to_string())),
            None => (head, None),
        };
        if uuid.is_empty() {
            return None;
        }
        Some(BomLink {
            serial: format!("urn:uuid:{}", uuid.to_ascii_lowercase()),
            version,
            reference: fragment.filter(|f| !f.is_empty()).map(percent_decode),
        })
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (
                (bytes[i + 1] as char).to_digit(16),
                (bytes[i + 2] as char).to_digit(16),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serial numbers are compared in one spelling: lower case, `urn:uuid:` prefix.
pub fn normalise_serial(serial: &str) -> String {
    let s = serial.trim().to_ascii_lowercase();
    if s.starts_with("urn:uuid:") {
        s
    } else {
        format!("urn:uuid:{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_links() {
        let l = BomLink::parse(
            "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar",
        )
        .unwrap();
        assert_eq!(l.serial, "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79");
        assert_eq!(l.version.as_deref(), Some("1"));
        assert!(l.reference.unwrap().starts_with("pkg:maven/"));
        let l = BomLink::parse("urn:cdx:abc/2#pkg%3Apypi%2Fpip%4022.2.2").unwrap();
        assert_eq!(l.reference.as_deref(), Some("pkg:pypi/pip@22.2.2"));
        assert_eq!(BomLink::parse("urn:cdx:abc").unwrap().reference, None);
        assert!(BomLink::parse("product-ABC").is_none());
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn cyclonedx_states() {
        assert_eq!(
            VexStatus::from_cyclonedx("false_positive"),
            Some(VexStatus::NotAffected)
        );
        assert!(
            VexStatus::from_cyclonedx("resolved_with_pedigree").is_some_and(|s| s.suppresses())
        );
        assert!(!VexStatus::from_cyclonedx("in_triage").unwrap().suppresses());
        assert_eq!(VexStatus::from_cyclonedx("bogus"), None);
    }
}
