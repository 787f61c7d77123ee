//! SPDX 2.2/2.3 tag-value → the wire structures the JSON reader deserialises
//! into ([`crate::v2::wire`]), so that both encodings share one mapping and
//! the same document gives the same facts in either.
//!
//! A line is `Tag: value`, a comment (`#…`) or blank; a value may be a
//! `<text>…</text>` block running over several lines. Sections start with
//! their first tag (`PackageName`, `FileName`, `SnippetSPDXID`, `LicenseID`,
//! `Relationship`, `Annotator`, `Reviewer`), and `SPDXID` names the element of
//! the section it is in. The tags this reader maps are those the JSON reader
//! reads; every other tag of the SPDX 2.2/2.3 specification is known and
//! passed over as the JSON reader passes over its field, and a tag outside
//! the specification is reported as a warning on the document with its line.
//! Bounded: at most [`MAX_LINES`] lines and [`MAX_PACKAGES`] packages, the
//! document size by the caller. Every fault names its line and tag.

use aibomdb_graph::ImportError;

use crate::v2::wire::{Checksum, CreationInfo, Document, ExternalRef, Package, Relationship};

/// Most lines read from one tag-value document.
pub const MAX_LINES: usize = 10_000_000;
/// Most packages in one SPDX 2 document (either encoding).
pub const MAX_PACKAGES: usize = 500_000;
/// Unknown tags reported one by one; past this, only their count.
const MAX_WARNINGS: usize = 50;

/// True when the start of a file is SPDX tag-value: among its first lines
/// that are neither blank nor comments (up to ten), an `SPDXVersion: …` line
/// comes before any line that is not `Tag: value` (so prose that quotes the
/// format, such as a README, is not taken for it).
pub fn sniff_tag_value(head: &str) -> bool {
    let mut version = false;
    for l in head
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .take(10)
    {
        // A line that is not `Tag: value` (prose, or the inside of a
        // `<text>` block) ends the look: the version must come before it.
        match l.split_once(':') {
            Some((tag, _)) if !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                version |= tag == "SPDXVersion";
            }
            _ => return version,
        }
    }
    version
}

/// Tags of the SPDX 2.2/2.3 tag-value format that carry nothing the JSON
/// reader reads either (file, snippet, licence, annotation and review
/// details, package prose).
const PASSED_OVER: &[&str] = &[
    "DataLicense",
    "DocumentComment",
    "ExternalDocumentRef",
    "LicenseListVersion",
    "CreatorComment",
    "PackageDownloadLocation",
    "FilesAnalyzed",
    "PackageVerificationCode",
    "PackageHomePage",
    "PackageLicenseInfoFromFiles",
    "PackageLicenseComments",
    "PackageCopyrightText",
    "PackageSummary",
    "PackageDescription",
    "PackageComment",
    "ExternalRefComment",
    "PackageAttributionText",
    "ReleaseDate",
    "BuiltDate",
    "ValidUntilDate",
    "FileType",
    "FileChecksum",
    "LicenseConcluded",
    "LicenseInfoInFile",
    "LicenseComments",
    "FileCopyrightText",
    "FileComment",
    "FileNotice",
    "FileContributor",
    "FileAttributionText",
    "FileDependency",
    "ArtifactOfProjectName",
    "ArtifactOfProjectHomePage",
    "ArtifactOfProjectURI",
    "SnippetFromFileSPDXID",
    "SnippetByteRange",
    "SnippetLineRange",
    "SnippetLicenseConcluded",
    "LicenseInfoInSnippet",
    "SnippetLicenseComments",
    "SnippetCopyrightText",
    "SnippetComment",
    "SnippetName",
    "SnippetAttributionText",
    "ExtractedText",
    "LicenseName",
    "LicenseCrossReference",
    "LicenseComment",
    "RelationshipComment",
    "AnnotationDate",
    "AnnotationType",
    "SPDXREF",
    "AnnotationComment",
    "ReviewDate",
    "ReviewComment",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Document,
    Package,
    File,
    Other,
}

struct Reader {
    doc: Document,
    section: Section,
    document_id: bool,
    unknown: usize,
}

fn fault(line: usize, tag: &str, message: impl Into<String>) -> ImportError {
    ImportError::Syntax {
        message: message.into(),
        line,
        column: 1,
        field: (!tag.is_empty()).then(|| tag.to_string()),
    }
}

/// Sets a field that may be given once per element.
fn once(
    slot: &mut Option<String>,
    value: String,
    line: usize,
    tag: &str,
) -> Result<(), ImportError> {
    if slot.is_some() {
        return Err(fault(
            line,
            tag,
            format!("`{tag}` given twice for one element"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

impl Reader {
    fn package(&mut self, line: usize, tag: &str) -> Result<&mut Package, ImportError> {
        match (self.section, self.doc.packages.last_mut()) {
            (Section::Package, Some(p)) => Ok(p),
            _ => Err(fault(
                line,
                tag,
                format!("`{tag}` outside a package (no `PackageName` before it in this section)"),
            )),
        }
    }

    fn creation(&mut self) -> &mut CreationInfo {
        self.doc
            .creation_info
            .get_or_insert_with(CreationInfo::default)
    }

    fn tag(&mut self, line: usize, tag: &str, value: String) -> Result<(), ImportError> {
        match tag {
            "SPDXVersion" => {
                if !value.starts_with("SPDX-2.") {
                    return Err(fault(
                        line,
                        tag,
                        format!("unsupported SPDX version {value:?} (tag-value is read for 2.x)"),
                    ));
                }
                once(&mut self.doc.spdx_version, value, line, tag)?;
            }
            "DocumentName" => once(&mut self.doc.name, value, line, tag)?,
            "DocumentNamespace" => once(&mut self.doc.document_namespace, value, line, tag)?,
            "Creator" => self.creation().creators.push(value),
            "Created" => once(&mut self.creation().created, value, line, tag)?,
            "SPDXID" => match self.section {
                Section::Document if !self.document_id => self.document_id = true,
                Section::Package => once(&mut self.package(line, tag)?.spdx_id, value, line, tag)?,
                Section::File => {}
                _ => {
                    return Err(fault(
                        line,
                        tag,
                        "`SPDXID` outside the document's, a package's or a file's information",
                    ));
                }
            },
            "PackageName" => {
                if self.doc.packages.len() >= MAX_PACKAGES {
                    return Err(fault(
                        line,
                        tag,
                        format!("more than {MAX_PACKAGES} packages (the reader's bound)"),
                    ));
                }
                self.section = Section::Package;
                self.doc.packages.push(Package {
                    name: Some(value),
                    ..Default::default()
                });
            }
            "PackageVersion" => once(&mut self.package(line, tag)?.version_info, value, line, tag)?,
            "PackageSupplier" => once(&mut self.package(line, tag)?.supplier, value, line, tag)?,
            "PackageOriginator" => {
                once(&mut self.package(line, tag)?.originator, value, line, tag)?
            }
            "PackageFileName" => {
                once(
                    &mut self.package(line, tag)?.package_file_name,
                    value,
                    line,
                    tag,
                )?;
            }
            "PackageSourceInfo" => {
                once(&mut self.package(line, tag)?.source_info, value, line, tag)?
            }
            "PackageLicenseConcluded" => {
                once(
                    &mut self.package(line, tag)?.license_concluded,
                    value,
                    line,
                    tag,
                )?;
            }
            "PackageLicenseDeclared" => {
                once(
                    &mut self.package(line, tag)?.license_declared,
                    value,
                    line,
                    tag,
                )?;
            }
            "PrimaryPackagePurpose" => {
                once(
                    &mut self.package(line, tag)?.primary_package_purpose,
                    value,
                    line,
                    tag,
                )?;
            }
            "PackageChecksum" => {
                let Some((algorithm, hex)) = value
                    .split_once(':')
                    .map(|(a, h)| (a.trim(), h.trim()))
                    .filter(|(a, h)| !a.is_empty() && !h.is_empty())
                else {
                    return Err(fault(
                        line,
                        tag,
                        format!("expected `ALGORITHM: value`, found {value:?}"),
                    ));
                };
                let checksum = Checksum {
                    algorithm: algorithm.to_string(),
                    checksum_value: hex.to_string(),
                };
                self.package(line, tag)?.checksums.push(checksum);
            }
            "ExternalRef" => {
                let mut parts = value.split_whitespace();
                let (Some(_category), Some(ty), Some(locator)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(fault(
                        line,
                        tag,
                        format!("expected `CATEGORY TYPE LOCATOR`, found {value:?}"),
                    ));
                };
                if parts.next().is_some() {
                    return Err(fault(
                        line,
                        tag,
                        format!(
                            "a locator has no spaces; found more than three words in {value:?}"
                        ),
                    ));
                }
                let reference = ExternalRef {
                    reference_type: Some(ty.to_string()),
                    reference_locator: Some(locator.to_string()),
                };
                self.package(line, tag)?.external_refs.push(reference);
            }
            "Relationship" => {
                self.section = Section::Other;
                let parts: Vec<&str> = value.split_whitespace().collect();
                let [a, ty, b] = parts.as_slice() else {
                    return Err(fault(
                        line,
                        tag,
                        format!("expected `SPDXID TYPE SPDXID`, found {value:?}"),
                    ));
                };
                self.doc.relationships.push(Relationship {
                    spdx_element_id: Some(a.to_string()),
                    relationship_type: Some(ty.to_string()),
                    related_spdx_element: Some(b.to_string()),
                });
            }
            "FileName" => self.section = Section::File,
            "SnippetSPDXID" | "LicenseID" | "Annotator" | "Reviewer" => {
                self.section = Section::Other;
            }
            t if PASSED_OVER.contains(&t) => {}
            _ => {
                self.unknown += 1;
                if self.unknown <= MAX_WARNINGS {
                    self.doc.warnings.push(format!(
                        "line {line}: `{tag}` is not an SPDX 2.2/2.3 tag; its value was not read"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Reads tag-value bytes into the JSON reader's wire structures.
pub(crate) fn parse(bytes: &[u8]) -> Result<Document, ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        fault(line, "", "not UTF-8")
    })?;
    let mut reader = Reader {
        doc: Document::default(),
        section: Section::Document,
        document_id: false,
        unknown: 0,
    };
    // An open `<text>` block: its tag, the line it opened on, what it holds.
    let mut open: Option<(String, usize, String)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        if line > MAX_LINES {
            return Err(fault(
                line,
                "",
                format!("more than {MAX_LINES} lines (the reader's bound)"),
            ));
        }
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some((tag, start, mut value)) = open.take() {
            match raw.find("</text>") {
                Some(end) => {
                    value.push_str(&raw[..end]);
                    trailing(&raw[end + 7..], line, &tag)?;
                    reader.tag(start, &tag, value)?;
                }
                None => {
                    value.push_str(raw);
                    value.push('\n');
                    open = Some((tag, start, value));
                }
            }
            continue;
        }
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((tag, value)) = trimmed.split_once(':') else {
            return Err(fault(
                line,
                "",
                format!("expected `Tag: value`, found {:?}", clip(trimmed)),
            ));
        };
        let tag = tag.trim();
        if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(fault(
                line,
                "",
                format!("expected `Tag: value`, found {:?}", clip(trimmed)),
            ));
        }
        let value = value.trim();
        match value.strip_prefix("<text>") {
            Some(rest) => match rest.find("</text>") {
                Some(end) => {
                    trailing(&rest[end + 7..], line, tag)?;
                    reader.tag(line, tag, rest[..end].to_string())?;
                }
                None => open = Some((tag.to_string(), line, format!("{rest}\n"))),
            },
            None => reader.tag(line, tag, value.to_string())?,
        }
    }
    if let Some((tag, start, _)) = open {
        return Err(fault(
            start,
            &tag,
            "`<text>` opened here is never closed by `</text>`",
        ));
    }
    if reader.doc.spdx_version.is_none() {
        return Err(ImportError::WrongFormat {
            expected: "SPDX 2 tag-value",
            message: "no `SPDXVersion` line".into(),
        });
    }
    if reader.unknown > MAX_WARNINGS {
        reader.doc.warnings.push(format!(
            "{} more lines with tags outside SPDX 2.2/2.3 were not read",
            reader.unknown - MAX_WARNINGS
        ));
    }
    Ok(reader.doc)
}

/// Only white space may follow `</text>` on its line.
fn trailing(after: &str, line: usize, tag: &str) -> Result<(), ImportError> {
    if after.trim().is_empty() {
        Ok(())
    } else {
        Err(fault(
            line,
            tag,
            format!("text after `</text>`: {:?}", clip(after.trim())),
        ))
    }
}

/// At most 80 characters of a line, for a message.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_a_leading_version_line() {
        assert!(sniff_tag_value(
            "## Document Information\nSPDXVersion: SPDX-2.3\n"
        ));
        assert!(!sniff_tag_value("spdxVersion: SPDX-2.3\n"));
        assert!(!sniff_tag_value(&format!(
            "{}SPDXVersion: SPDX-2.3\n",
            "a: b\n".repeat(10)
        )));
        assert!(!sniff_tag_value(
            "# Tag-value\n\nA document starts with:\n\nSPDXVersion: SPDX-2.3\n"
        ));
        assert!(sniff_tag_value(
            "SPDXVersion: SPDX-2.3\nDocumentComment: <text>one\ntwo words</text>\n"
        ));
    }

    #[test]
    fn faults_name_line_and_tag() {
        let e = parse(b"SPDXVersion: SPDX-2.3\nPackageVersion: 1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "in `PackageVersion`: `PackageVersion` outside a package (no `PackageName` before it in this section) at line 2, column 1"
        );
        let e =
            parse(b"SPDXVersion: SPDX-2.3\nPackageName: a\nPackageChecksum: abc\n").unwrap_err();
        assert!(e.to_string().contains("at line 3"), "{e}");
        let e = parse(b"SPDXVersion: SPDX-2.3\nPackageComment: <text>a\nb\n").unwrap_err();
        assert!(
            e.to_string().contains("never closed") && e.to_string().contains("line 2"),
            "{e}"
        );
        let e = parse(b"SPDXVersion: SPDX-2.3\nno colon here\n").unwrap_err();
        assert!(e.to_string().contains("at line 2"), "{e}");
        let e = parse(b"SPDXVersion: SPDX-3.0\n").unwrap_err();
        assert!(e.to_string().contains("unsupported SPDX version"), "{e}");
        assert!(parse(b"DocumentName: x\n").is_err());
        assert!(parse(b"SPDXVersion: SPDX-2.3\n\xff\n").is_err());
    }

    #[test]
    fn text_blocks_and_unknown_tags() {
        let doc = parse(
            b"SPDXVersion: SPDX-2.3\nPackageName: a\nPackageSourceInfo: <text>one\ntwo</text>\nMadeUpTag: x\n",
        )
        .unwrap();
        assert_eq!(doc.packages[0].source_info.as_deref(), Some("one\ntwo"));
        assert_eq!(
            doc.warnings,
            vec!["line 5: `MadeUpTag` is not an SPDX 2.2/2.3 tag; its value was not read"]
        );
    }
}
