//! How a package in the graph is named in OSV: purl type → ecosystem, purl
//! namespace/name → OSV package name, distro qualifiers → the ecosystem's
//! release suffix, and Debian/Alpine binary packages → their source package
//! (OSV's Debian and Alpine records name source packages).

use aibomdb_graph::pep503_normalise;

/// One way to look a package up in OSV.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OsvName {
    /// With the release when the document told it (`Debian:11`, `Alpine:v3.20`).
    pub ecosystem: String,
    pub name: String,
    /// `Some(binary name)` when found through the source package.
    pub via_source_of: Option<String>,
}

impl OsvName {
    /// The index key: base ecosystem and the name as OSV compares it.
    pub fn key(&self) -> String {
        index_key(&self.ecosystem, &self.name)
    }
}

/// `PyPI/transformers`, `Debian/openssl`: what advisories and packages are
/// joined on. The release is checked when matching, not in the key.
pub fn index_key(ecosystem: &str, name: &str) -> String {
    let base = crate::base_ecosystem(ecosystem);
    if base == "PyPI" {
        format!("{base}/{}", pep503_normalise(name))
    } else {
        format!("{base}/{name}")
    }
}

/// The OSV names of a package given by its purl parts, qualifiers (as any
/// document stated them) and source package, if known. Empty when the purl
/// type has no OSV ecosystem here.
pub fn osv_names(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    qualifiers: &[(String, String)],
    source_package: Option<&str>,
) -> Vec<OsvName> {
    let q = |k: &str| {
        qualifiers
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let plain = |eco: &str, n: String| {
        vec![OsvName {
            ecosystem: eco.to_string(),
            name: n,
            via_source_of: None,
        }]
    };
    let joined = |sep: &str| match namespace {
        Some(ns) => format!("{ns}{sep}{name}"),
        None => name.to_string(),
    };
    match ty {
        "pypi" => plain("PyPI", name.to_string()),
        "npm" => plain("npm", joined("/")),
        "cargo" => plain("crates.io", name.to_string()),
        "golang" => plain("Go", joined("/")),
        "maven" => plain("Maven", joined(":")),
        "gem" => plain("RubyGems", name.to_string()),
        "nuget" => plain("NuGet", name.to_string()),
        "composer" => plain("Packagist", joined("/")),
        "hex" => plain("Hex", name.to_string()),
        "pub" => plain("Pub", name.to_string()),
        "cran" => plain("CRAN", name.to_string()),
        "hackage" => plain("Hackage", name.to_string()),
        "deb" | "apk" => {
            let distro = q("distro").unwrap_or("");
            let ecosystem = match (ty, namespace.map(str::to_ascii_lowercase).as_deref()) {
                ("deb", Some("ubuntu")) => {
                    release("Ubuntu", distro.trim_start_matches("ubuntu-"), "")
                }
                ("deb", _) => release("Debian", distro.trim_start_matches("debian-"), ""),
                _ => {
                    // syft: distro=alpine-3.20.3; Trivy: distro=3.20.3 → Alpine:v3.20
                    let v = distro.trim_start_matches("alpine-");
                    let minor: Vec<&str> = v.split('.').take(2).collect();
                    release("Alpine", &minor.join("."), "v")
                }
            };
            let mut out = Vec::new();
            if let Some(src) = source_package.filter(|s| *s != name) {
                out.push(OsvName {
                    ecosystem: ecosystem.clone(),
                    name: src.to_string(),
                    via_source_of: Some(name.to_string()),
                });
            }
            out.push(OsvName {
                ecosystem,
                name: name.to_string(),
                via_source_of: None,
            });
            out
        }
        _ => Vec::new(),
    }
}

fn release(base: &str, version: &str, prefix: &str) -> String {
    // Debian advisories name the major release (`Debian:12`).
    let v = if base == "Debian" {
        version.split('.').next().unwrap_or("")
    } else {
        version
    };
    if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_digit()) {
        base.to_string()
    } else {
        format!("{base}:{prefix}{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(k: &str, v: &str) -> Vec<(String, String)> {
        vec![(k.to_string(), v.to_string())]
    }

    #[test]
    fn ecosystems_and_names() {
        assert_eq!(
            osv_names("pypi", None, "Jinja2", &[], None)[0].key(),
            "PyPI/jinja2"
        );
        assert_eq!(
            osv_names("maven", Some("junit"), "junit", &[], None)[0].name,
            "junit:junit"
        );
        assert_eq!(
            osv_names("npm", Some("@types"), "node", &[], None)[0].name,
            "@types/node"
        );
        assert!(osv_names("rpm", Some("redhat"), "bash", &[], None).is_empty());
    }

    #[test]
    fn distro_releases_and_source_packages() {
        let n = osv_names(
            "deb",
            Some("debian"),
            "libssl1.1",
            &q("distro", "debian-11"),
            Some("openssl"),
        );
        assert_eq!(n[0].ecosystem, "Debian:11");
        assert_eq!(n[0].name, "openssl");
        assert_eq!(n[0].via_source_of.as_deref(), Some("libssl1.1"));
        assert_eq!(n[1].name, "libssl1.1");
        let a = osv_names(
            "apk",
            Some("alpine"),
            "busybox",
            &q("distro", "3.20.3"),
            None,
        );
        assert_eq!(a[0].ecosystem, "Alpine:v3.20");
        let a = osv_names(
            "apk",
            Some("alpine"),
            "busybox",
            &q("distro", "alpine-3.16.2"),
            None,
        );
        assert_eq!(a[0].ecosystem, "Alpine:v3.16");
        let u = osv_names(
            "deb",
            Some("ubuntu"),
            "bash",
            &q("distro", "ubuntu-22.04"),
            None,
        );
        assert_eq!(u[0].ecosystem, "Ubuntu:22.04");
        let none = osv_names("deb", Some("debian"), "bash", &[], None);
        assert_eq!(none[0].ecosystem, "Debian");
    }
}
