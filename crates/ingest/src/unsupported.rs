//! SBOM encodings this build knows and does not read: named, so that the
//! refusal says what the file is instead of "not a recognised document".

/// The encodings the importers read, for the message.
const READ: &str = "CycloneDX JSON and XML, SPDX 2.x JSON and tag-value, SPDX 3 JSON-LD";

/// The known-but-unread format of a file, by its name (the extensions the
/// specifications give) or by its first bytes.
pub(crate) fn known(file_name: &str, head: &str) -> Option<String> {
    let name = file_name.to_ascii_lowercase();
    let by_name = if name.ends_with(".cdx.bin") || name.ends_with(".cdx.pb") {
        Some("CycloneDX protobuf")
    } else if name.ends_with(".spdx.rdf") || name.ends_with(".spdx.rdf.xml") {
        Some("SPDX RDF/XML")
    } else if name.ends_with(".spdx.yaml") || name.ends_with(".spdx.yml") {
        Some("SPDX YAML")
    } else {
        None
    };
    let text = head.trim_start_matches('\u{feff}').trim_start();
    let line_starts = |p: &str| {
        head.lines()
            .take(200)
            .any(|l| l.trim_start().starts_with(p))
    };
    let by_content = if text.starts_with('<') && head.contains("http://spdx.org/rdf/terms") {
        Some("SPDX RDF/XML")
    } else if line_starts("spdxVersion:") {
        Some("SPDX YAML")
    } else {
        None
    };
    by_content.or(by_name).map(|f| {
        format!("{f}: a known SBOM format that this build does not read (it reads {READ}); convert it to JSON with the tool that made it")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_contents() {
        // CycloneDX XML is read now.
        assert_eq!(known("bom.cdx.xml", ""), None);
        // So is SPDX tag-value.
        assert_eq!(known("a.spdx", "SPDXVersion: SPDX-2.3\n"), None);
        assert!(known("a.spdx.yaml", "").unwrap().starts_with("SPDX YAML:"));
        assert!(
            known("sbom.cdx.bin", "")
                .unwrap()
                .starts_with("CycloneDX protobuf:")
        );
        assert_eq!(known("notes.txt", "hello\n"), None);
        assert_eq!(
            known(
                "pom.xml",
                "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">"
            ),
            None
        );
    }
}
