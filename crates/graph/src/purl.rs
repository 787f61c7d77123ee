//! Package URLs: a lenient parser for what real tools write, and the normalised
//! key that makes the same package from different tools one node.
//!
//! Traps seen in real SBOMs that the key absorbs:
//! - PyPI names differ in case and separators (`Jinja2`, `jinja2`, `zope_interface`,
//!   `zope.interface`): PEP 503 normalisation.
//! - Debian/RPM epochs appear in the version (`1:2.3`) or only as an `epoch=` qualifier.
//! - `+` is written literally or as `%2B`; `@` of an npm scope as `%40`.
//! - Qualifiers (`arch`, `distro`, `upstream`, `repository_url`) describe where a
//!   package came from, not what it is: they stay facts, never part of the key.

use std::borrow::Cow;
use std::fmt;

/// A parsed package URL, components percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// In document order, keys lower-cased.
    pub qualifiers: Vec<(String, String)>,
    pub subpath: Option<String>,
}

/// What [`Purl::parse_name`] reads: type, namespace and name, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurlName<'a> {
    pub ty: Cow<'a, str>,
    pub namespace: Option<Cow<'a, str>>,
    pub name: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurlError {
    #[error("a package URL starts with `pkg:`")]
    MissingScheme,
    #[error("package URL has no name")]
    MissingName,
    #[error("package URL type `{0}` has characters other than a-z, 0-9, `.`, `+`, `-`")]
    BadType(String),
}

impl Purl {
    /// Parses a purl leniently: unknown types and odd characters are accepted,
    /// as long as the scheme, type and name are there.
    pub fn parse(input: &str) -> Result<Self, PurlError> {
        let rest = input.trim();
        let rest = rest
            .strip_prefix("pkg:")
            .or_else(|| rest.strip_prefix("PKG:"))
            .ok_or(PurlError::MissingScheme)?;
        let rest = rest.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, s)) => (r, Some(s.trim_matches('/'))),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (ty, path) = rest.split_once('/').ok_or(PurlError::MissingName)?;
        if ty.is_empty() {
            return Err(PurlError::BadType(String::new()));
        }
        let ty = ty.to_ascii_lowercase();
        if !ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
        {
            return Err(PurlError::BadType(ty));
        }
        // The version starts at the last `@` of the path (an npm scope `@` is in the namespace).
        let path = path.trim_end_matches('/');
        let (path, version) = match path.rfind('@') {
            Some(at) if at > 0 && !path[at..].contains('/') => {
                (&path[..at], Some(percent_decode(&path[at + 1..])))
            }
            _ => (path, None),
        };
        let (namespace, name) = match path.rfind('/') {
            Some(slash) => {
                let ns: Vec<String> = path[..slash]
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(percent_decode)
                    .collect();
                let ns = if ns.is_empty() {
                    None
                } else {
                    Some(ns.join("/"))
                };
                (ns, percent_decode(&path[slash + 1..]))
            }
            None => (None, percent_decode(path)),
        };
        if name.is_empty() {
            return Err(PurlError::MissingName);
        }
        let mut qualifiers = Vec::new();
        if let Some(query) = query {
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let v = percent_decode(v);
                if !v.is_empty() {
                    qualifiers.push((k.to_ascii_lowercase(), v));
                }
            }
        }
        Ok(Purl {
            ty,
            namespace,
            name,
            version: version.filter(|v| !v.is_empty()),
            qualifiers,
            subpath: subpath.filter(|s| !s.is_empty()).map(percent_decode),
        })
    }

    /// The type, namespace and name of a purl exactly as [`Purl::parse`]
    /// reads them, borrowed where nothing needs decoding: for callers that
    /// need no version, qualifiers or subpath (the advisory lookup names of
    /// every occurrence an ingest reads).
    pub fn parse_name(input: &str) -> Result<PurlName<'_>, PurlError> {
        let rest = input.trim();
        let rest = rest
            .strip_prefix("pkg:")
            .or_else(|| rest.strip_prefix("PKG:"))
            .ok_or(PurlError::MissingScheme)?;
        let rest = rest.trim_start_matches('/');
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
        let (ty, path) = rest.split_once('/').ok_or(PurlError::MissingName)?;
        if ty.is_empty() {
            return Err(PurlError::BadType(String::new()));
        }
        let ty = match ty.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(ty.to_ascii_lowercase()),
            false => Cow::Borrowed(ty),
        };
        if !ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
        {
            return Err(PurlError::BadType(ty.into_owned()));
        }
        let path = path.trim_end_matches('/');
        let path = match path.rfind('@') {
            Some(at) if at > 0 && !path[at..].contains('/') => &path[..at],
            _ => path,
        };
        fn decode(s: &str) -> Cow<'_, str> {
            match s.contains('%') {
                true => Cow::Owned(percent_decode(s)),
                false => Cow::Borrowed(s),
            }
        }
        let (namespace, name) = match path.rfind('/') {
            Some(slash) => {
                let ns = &path[..slash];
                let plain = !ns.contains('%')
                    && !ns.contains("//")
                    && !ns.starts_with('/')
                    && !ns.ends_with('/');
                let ns = if plain && !ns.is_empty() {
                    Some(Cow::Borrowed(ns))
                } else {
                    let segments: Vec<String> = ns
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(percent_decode)
                        .collect();
                    (!segments.is_empty()).then(|| Cow::Owned(segments.join("/")))
                };
                (ns, decode(&path[slash + 1..]))
            }
            None => (None, decode(path)),
        };
        if name.is_empty() {
            return Err(PurlError::MissingName);
        }
        Ok(PurlName {
            ty,
            namespace,
            name,
        })
    }

    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The identity of the package this purl names (see [`PackageKey`]).
    pub fn key(&self) -> PackageKey {
        let (mut namespace, name, version) = normalise(self);
        // syft (≤ 0.9x) writes `pkg:alpine/musl`; the purl spec and Trivy write
        // `pkg:apk/alpine/musl`. One package, one key: the spec's form.
        let ty = if self.ty == "alpine" {
            namespace = namespace.or(Some(Cow::Borrowed("alpine")));
            "apk"
        } else {
            self.ty.as_str()
        };
        PackageKey::from_parts(ty, namespace.as_deref(), &name, version.as_deref())
    }
}

/// Applies the per-type normalisation rules of the purl specification plus the
/// ones real tools make necessary (epoch as qualifier).
fn normalise(p: &Purl) -> (Option<Cow<'_, str>>, Cow<'_, str>, Option<Cow<'_, str>>) {
    // Borrowed until a rule changes a part: most parts are kept as written.
    let mut namespace = p.namespace.as_deref().map(Cow::Borrowed);
    let mut name = Cow::Borrowed(p.name.as_str());
    let mut version = p.version.as_deref().map(Cow::Borrowed);
    fn lower(s: Cow<'_, str>) -> Cow<'_, str> {
        match s.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(s.to_ascii_lowercase()),
            false => s,
        }
    }
    match p.ty.as_str() {
        "pypi" => {
            name = Cow::Owned(pep503_normalise(&name));
            namespace = None;
            version = p.version.as_deref().map(|v| lower(Cow::Borrowed(v.trim())));
        }
        "deb" | "rpm" | "apk" | "alpine" | "alpm" => {
            namespace = namespace.map(lower);
            if p.ty != "rpm" {
                name = lower(name);
            }
            if let Some(v) = version.as_mut() {
                let has_epoch = v
                    .split_once(':')
                    .is_some_and(|(e, _)| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()));
                if !has_epoch {
                    if let Some(epoch) = p.qualifier("epoch").filter(|e| *e != "0") {
                        *v = Cow::Owned(format!("{epoch}:{v}"));
                    }
                } else if let Some(stripped) = v.strip_prefix("0:") {
                    // Epoch 0 is the same version as no epoch.
                    *v = Cow::Owned(stripped.to_string());
                }
            }
        }
        "npm" | "github" | "bitbucket" | "composer" | "hex" | "pub" => {
            namespace = namespace.map(lower);
            name = lower(name);
        }
        "golang" => {
            // Go module paths are case-sensitive; the spec's lower-casing is not applied.
        }
        "oci" | "docker" => {
            name = lower(name);
        }
        "huggingface" => {
            version = version.map(lower);
        }
        _ => {}
    }
    (namespace, name, version)
}

/// PEP 503: lower-case, runs of `-`, `_`, `.` become one `-`.
pub fn pep503_normalise(name: &str) -> String {
    let name = name.trim();
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            // ASCII (nearly every name) without the Unicode case tables.
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
            last_sep = false;
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes only the characters that would change how a key splits back into parts.
fn encode_segment(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            '@' => out.push_str("%40"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            ' ' => out.push_str("%20"),
            _ => out.push(c),
        }
    }
}

/// The identity of a Package node: a purl without qualifiers or subpath,
/// normalised per type. `pkg:type/namespace/name@version`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct PackageKey(String);

impl PackageKey {
    pub fn from_parts(
        ty: &str,
        namespace: Option<&str>,
        name: &str,
        version: Option<&str>,
    ) -> Self {
        let mut s = String::with_capacity(8 + ty.len() + name.len() + 16);
        s.push_str("pkg:");
        s.push_str(ty);
        s.push('/');
        if let Some(ns) = namespace {
            for (i, seg) in ns.split('/').enumerate() {
                if i > 0 {
                    s.push('/');
                }
                encode_segment(seg, &mut s);
            }
            s.push('/');
        }
        encode_segment(name, &mut s);
        if let Some(v) = version {
            s.push('@');
            encode_segment(v, &mut s);
        }
        PackageKey(s)
    }

    /// Wraps a string already in key form (read back from the store).
    pub fn from_stored(s: String) -> Self {
        PackageKey(s)
    }

    /// Normalises user input: a purl with or without qualifiers.
    pub fn parse(input: &str) -> Result<Self, PurlError> {
        Ok(Purl::parse(input)?.key())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `pkg:type/namespace/name`: what every version of this package shares.
    pub fn unversioned(&self) -> &str {
        let after_type = self.0.find('/').map_or(0, |i| i + 1);
        match self.0[after_type..].rfind('@') {
            Some(at) => &self.0[..after_type + at],
            None => &self.0,
        }
    }

    /// The type (ecosystem) of the purl, e.g. `pypi`, `deb`.
    pub fn ty(&self) -> &str {
        let rest = &self.0[4..];
        rest.split('/').next().unwrap_or("")
    }

    /// The version part, decoded.
    pub fn version(&self) -> Option<String> {
        let unversioned = self.unversioned().len();
        self.0
            .get(unversioned + 1..)
            .filter(|v| !v.is_empty())
            .map(percent_decode)
    }
}

impl fmt::Display for PackageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse_name` reads what `parse` reads, on purls real tools write and
    /// on generated ones with every character class the parser splits on.
    #[test]
    fn parse_name_agrees_with_parse() {
        let mut inputs: Vec<String> = [
            "pkg:pypi/Jinja2@3.1.2",
            "pkg:npm/%40angular/core@16.0.0",
            "pkg:npm/@angular/core@16.0.0",
            "pkg:deb/debian/openssl@1:3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            "pkg:golang/github.com/gorilla/mux@v1.8.0#sub/dir",
            "pkg:alpine/musl@1.2.4-r2",
            "PKG:PyPI/requests",
            "pkg://pypi/requests/",
            "pkg:generic/a//b/c@1",
            "pkg:generic//lead",
            "pkg:generic/a%2Fb@1",
            "pkg:generic/name@",
            "pkg:generic/@1",
            "pkg:/",
            "pkg:",
            "pkg:bad_type/x",
            "pkg:pypi/",
            "not a purl",
            "pkg:huggingface/org/model@abc?repository_url=https://hf.co",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let pieces = [
            "a", "B", "%40", "%2F", "@", "/", "//", "?", "#", "%", "", "x@y", "1.0",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    inputs.push(format!("pkg:t/{a}{b}/{c}"));
                    inputs.push(format!("pkg:T{a}/{b}@{c}"));
                }
            }
        }
        for input in &inputs {
            let full = Purl::parse(input);
            let name = Purl::parse_name(input);
            match (full, name) {
                (Ok(p), Ok(n)) => {
                    assert_eq!(p.ty, n.ty, "{input}");
                    assert_eq!(p.namespace.as_deref(), n.namespace.as_deref(), "{input}");
                    assert_eq!(p.name, n.name, "{input}");
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{input}"),
                (a, b) => panic!("{input}: parse {a:?}, parse_name {b:?}"),
            }
        }
    }

    fn key(s: &str) -> String {
        PackageKey::parse(s).unwrap().to_string()
    }

    #[test]
    fn syft_alpine_type_is_the_spec_apk_type() {
        let syft =
            Purl::parse("pkg:alpine/musl@1.2.3-r0?arch=x86_64&upstream=musl&distro=alpine-3.16.2")
                .unwrap()
                .key();
        let trivy = Purl::parse("pkg:apk/alpine/musl@1.2.3-r0?distro=3.16.2")
            .unwrap()
            .key();
        assert_eq!(syft, trivy);
        assert_eq!(syft.as_str(), "pkg:apk/alpine/musl@1.2.3-r0");
    }

    #[test]
    fn pypi_names_are_pep503_normalised() {
        assert_eq!(key("pkg:pypi/Jinja2@3.1.4"), "pkg:pypi/jinja2@3.1.4");
        assert_eq!(
            key("pkg:pypi/zope_interface@6.0"),
            "pkg:pypi/zope-interface@6.0"
        );
        assert_eq!(
            key("pkg:pypi/zope.interface@6.0"),
            "pkg:pypi/zope-interface@6.0"
        );
        assert_eq!(key("pkg:pypi/a__b-.c@1"), "pkg:pypi/a-b-c@1");
    }

    #[test]
    fn pep503_ascii_path_agrees_with_the_unicode_one() {
        // The rule as written before the ASCII path: char by char.
        let by_chars = |name: &str| {
            let mut out = String::new();
            let mut last_sep = false;
            for c in name.trim().chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !last_sep {
                        out.push('-');
                    }
                    last_sep = true;
                } else {
                    out.extend(c.to_lowercase());
                    last_sep = false;
                }
            }
            out
        };
        for name in [
            " Zope.Interface ",
            "a__b-.c",
            "-_lead",
            "trail._",
            "MiXeD09",
            "",
            "x",
            "A-_-.B",
        ] {
            assert_eq!(pep503_normalise(name), by_chars(name), "{name:?}");
        }
        assert_eq!(pep503_normalise("Ünï_Códe.X"), "ünï-códe-x");
    }

    #[test]
    fn debian_epoch_from_qualifier_or_version_is_one_key() {
        let a = key("pkg:deb/debian/libc6@2.31-13+deb11u3?arch=amd64&epoch=1&distro=debian-11");
        let b = key("pkg:deb/debian/libc6@1:2.31-13%2Bdeb11u3?arch=arm64");
        assert_eq!(a, b);
        assert_eq!(a, "pkg:deb/debian/libc6@1:2.31-13+deb11u3");
        assert_eq!(
            key("pkg:deb/debian/zlib1g@0:1.2.13?epoch=0"),
            "pkg:deb/debian/zlib1g@1.2.13"
        );
    }

    #[test]
    fn rpm_epoch_qualifier() {
        assert_eq!(
            key(
                "pkg:rpm/ol/gmp@6.1.2-10.el8?arch=x86_64&epoch=1&upstream=gmp-6.1.2-10.el8.src.rpm"
            ),
            "pkg:rpm/ol/gmp@1:6.1.2-10.el8"
        );
    }

    #[test]
    fn percent_encoding_is_canonical() {
        assert_eq!(
            key("pkg:deb/debian/a@1.0%2Bb1"),
            key("pkg:deb/debian/a@1.0+b1")
        );
        assert_eq!(
            key("pkg:npm/%40types/node@20.1.0"),
            "pkg:npm/%40types/node@20.1.0"
        );
        assert_eq!(
            key("pkg:npm/@types/node@20.1.0"),
            "pkg:npm/%40types/node@20.1.0"
        );
    }

    #[test]
    fn qualifiers_and_subpath_are_not_identity() {
        let p = Purl::parse("pkg:golang/github.com/Foo/bar@v1.2.3?type=module#sub/dir").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("github.com/Foo"));
        assert_eq!(p.qualifier("type"), Some("module"));
        assert_eq!(p.subpath.as_deref(), Some("sub/dir"));
        assert_eq!(p.key().as_str(), "pkg:golang/github.com/Foo/bar@v1.2.3");
    }

    #[test]
    fn key_parts() {
        let k = PackageKey::parse("pkg:pypi/transformers@5.23.0").unwrap();
        assert_eq!(k.unversioned(), "pkg:pypi/transformers");
        assert_eq!(k.ty(), "pypi");
        assert_eq!(k.version().as_deref(), Some("5.23.0"));
        let k = PackageKey::parse("pkg:npm/%40scope/x").unwrap();
        assert_eq!(k.unversioned(), "pkg:npm/%40scope/x");
        assert_eq!(k.version(), None);
    }

    #[test]
    fn rejects_what_is_not_a_purl() {
        assert_eq!(Purl::parse("pypi/x@1"), Err(PurlError::MissingScheme));
        assert_eq!(Purl::parse("pkg:pypi"), Err(PurlError::MissingName));
        assert_eq!(Purl::parse("pkg:/x"), Err(PurlError::MissingName));
        assert!(matches!(
            Purl::parse("pkg:py pi/x"),
            Err(PurlError::BadType(_))
        ));
    }
}
