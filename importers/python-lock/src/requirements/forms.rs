//! What a requirement line names, decided as pip's
//! `req.constructors.parse_req_from_line` and `parse_editable` decide it: a
//! URL (`https:`, `file:`, `git+…`), a local archive or directory, or a PEP
//! 508 specifier (`name @ url` included). A link's name comes from its
//! `#egg=` fragment, else from the file name: a wheel's per the binary
//! distribution format spec (`{name}-{version}(-{build})?-{py}-{abi}-{plat}.whl`),
//! an sdist's per the source distribution format spec (`{name}-{version}.tar.gz`,
//! legacy names with `-` read too). pip itself learns the name of anything
//! else only by building it; that is reported, not guessed.

use std::str::FromStr;

use crate::graph::Source;

/// What one requirement line (its arguments, options removed) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Form {
    /// A package with a name.
    Named(Named),
    /// The project the file belongs to (`.`, `-e .`): the document's subject.
    Project { editable: bool },
    /// A link whose name pip learns only by building it.
    Unnamed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Named {
    pub(super) name: String,
    pub(super) version: Option<String>,
    /// What the line asks for when nothing exact is pinned.
    pub(super) requested: Option<String>,
    pub(super) source: Option<Source>,
    pub(super) extras: Vec<String>,
    pub(super) marker: Option<String>,
    /// A local directory whose project file could not be read: the name is
    /// the directory's, which the caller reports.
    pub(super) name_from_directory: bool,
}

/// pip's `is_archive_file` extensions.
const ARCHIVES: &[&str] = &[
    ".whl",
    ".tar.gz",
    ".tgz",
    ".tar",
    ".zip",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
];

const VCS: &[&str] = &["git", "hg", "svn", "bzr"];

/// pip's `is_url`: a scheme it fetches from, or a VCS scheme.
fn is_url(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    matches!(scheme.as_str(), "http" | "https" | "file" | "ftp") || vcs_of(&scheme).is_some()
}

/// `git+https` → `git`; a bare `git` scheme too.
fn vcs_of(scheme: &str) -> Option<&'static str> {
    let head = scheme.split('+').next().unwrap_or(scheme);
    VCS.iter()
        .find(|v| **v == head && (scheme == head || scheme.contains('+')))
        .copied()
}

fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.contains('\\') || s.starts_with('.')
}

fn is_archive(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    ARCHIVES.iter().any(|e| lower.ends_with(e))
}

/// pip's `strip_extras`: `path[extra1,extra2]` → (`path`, extras).
fn strip_extras(s: &str) -> (&str, Vec<String>) {
    if let Some(open) = s.rfind('[')
        && s.ends_with(']')
        && open > 0
    {
        let extras = s[open + 1..s.len() - 1]
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        return (&s[..open], extras);
    }
    (s, Vec::new())
}

/// Reads a local directory's `pyproject.toml` (by a path relative to the
/// top file's directory); `None` when it is not readable.
pub(super) type ReadProject<'a> = &'a dyn Fn(&str) -> Option<(String, Option<String>)>;

/// Decides what `args` names. `editable` for `-e`/`--editable` values.
pub(super) fn classify(
    args: &str,
    editable: bool,
    read_project: ReadProject<'_>,
) -> Result<Form, String> {
    let args = args.trim();
    if editable {
        return editable_form(args, read_project);
    }
    let url = is_url(args);
    let (body, marker) = match args.split_once(if url { "; " } else { ";" }) {
        Some((b, m)) => (b.trim(), parse_marker(m)?),
        None => (args, None),
    };
    if url {
        return link_form(body, Vec::new(), marker, false, read_project);
    }
    let (path, extras) = strip_extras(body);
    // `name @ url` is PEP 508 even though it contains `/` (pip: a part
    // before `@` that does not look like a path).
    let pep508_at = body
        .split_once('@')
        .is_some_and(|(before, _)| !looks_like_path(before));
    if !pep508_at && (is_archive(path) || looks_like_path(path)) {
        return link_form(path, extras, marker, false, read_project);
    }
    pep508(args)
}

fn parse_marker(m: &str) -> Result<Option<String>, String> {
    let m = m.trim();
    if m.is_empty() {
        return Ok(None);
    }
    pep508_rs::MarkerTree::from_str(m)
        .map(|t| t.try_to_string())
        .map_err(|e| format!("invalid marker {m:?}: {}", e.message))
}

/// pip's `parse_editable`: a local project directory, or a VCS URL with
/// `#egg=`.
fn editable_form(args: &str, read_project: ReadProject<'_>) -> Result<Form, String> {
    let (body, marker) = match args.split_once(';') {
        Some((b, m)) => (b.trim(), parse_marker(m)?),
        None => (args, None),
    };
    let (path, extras) = strip_extras(body);
    let scheme = path.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some(s) if vcs_of(s).is_some() => {
            if fragment(path, "egg").is_none() {
                return Err(format!(
                    "could not detect the requirement name of {path:?}: pip needs #egg=<name> on an editable VCS URL"
                ));
            }
            link_form(path, extras, marker, true, read_project)
        }
        Some("file") => link_form(path, extras, marker, true, read_project),
        Some(s) if s.len() > 1 && is_url(path) => Err(format!(
            "{path:?} should be either a path to a local project or a VCS URL (beginning with bzr+, git+, hg+, or svn+)"
        )),
        _ => link_form(path, extras, marker, true, read_project),
    }
}

/// A value of a `#key=value` URL fragment.
fn fragment<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, frag) = url.split_once('#')?;
    frag.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A link (URL, local archive or directory): name and version from the
/// `#egg=` fragment or the file name, source from the scheme.
fn link_form(
    link: &str,
    mut extras: Vec<String>,
    marker: Option<String>,
    editable: bool,
    read_project: ReadProject<'_>,
) -> Result<Form, String> {
    let without_fragment = link.split('#').next().unwrap_or(link);
    let scheme = link
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .filter(|_| is_url(link));
    let egg = fragment(link, "egg").map(|e| {
        let (name, more) = strip_extras(e);
        extras.extend(more);
        name.to_string()
    });
    if let Some(e) = &egg
        && !valid_name(e)
    {
        return Err(format!("#egg={e} is not a valid project name"));
    }
    let file_name = without_fragment
        .split(['?'])
        .next()
        .unwrap_or(without_fragment)
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let mut named = Named {
        extras,
        marker,
        ..Default::default()
    };
    match scheme.as_deref() {
        Some(s) if vcs_of(s).is_some() => {
            let Some(name) = egg else {
                return Ok(Form::Unnamed(format!(
                    "{}: a VCS URL without #egg=<name>",
                    redact(link)
                )));
            };
            named.name = name;
            named.requested = Some(redact(link));
            named.source = Some(vcs_source(link));
            return Ok(Form::Named(named));
        }
        Some("file") | None => {
            let path = match scheme {
                Some(_) => file_url_path(without_fragment),
                None => without_fragment.to_string(),
            };
            named.source = Some(Source::Path {
                path: path.clone(),
                editable,
            });
            if !is_archive(&path) {
                // A local project directory.
                if scheme.is_none() && matches!(path.trim_end_matches('/'), "." | "./" | "") {
                    return Ok(Form::Project { editable });
                }
                let read = (scheme.is_none() && !path.starts_with('/'))
                    .then(|| read_project(&path))
                    .flatten();
                match (egg, read) {
                    (_, Some((name, version))) => {
                        named.name = name;
                        named.version = version;
                    }
                    (Some(name), None) => named.name = name,
                    (None, None) => {
                        let dir = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                        if !valid_name(dir) {
                            return Ok(Form::Unnamed(format!(
                                "{path}: a directory whose project file is not beside this file"
                            )));
                        }
                        named.name = dir.to_string();
                        named.name_from_directory = true;
                    }
                }
                named.requested = Some(if editable {
                    format!("editable {link}")
                } else {
                    link.to_string()
                });
                return Ok(Form::Named(named));
            }
        }
        Some(_) => named.source = Some(Source::Url(redact(without_fragment))),
    }
    // An archive, local or remote.
    let from_file = if file_name.to_ascii_lowercase().ends_with(".whl") {
        Some(wheel_name(file_name)?)
    } else {
        sdist_name(file_name)
    };
    match (egg, from_file) {
        (Some(name), file) => {
            named.version = file.filter(|(n, _)| same_name(n, &name)).map(|(_, v)| v);
            named.name = name;
        }
        (None, Some((name, version))) => {
            named.name = name;
            named.version = Some(version);
        }
        (None, None) => {
            return Ok(Form::Unnamed(format!(
                "{}: an archive whose file name does not say its name and version",
                redact(link)
            )));
        }
    }
    if named.version.is_none() {
        named.requested = Some(redact(link));
    }
    Ok(Form::Named(named))
}

/// A PEP 508 specifier, `name @ url` included (its version taken from a
/// wheel or sdist file name in the URL when that names the same project).
fn pep508(args: &str) -> Result<Form, String> {
    let parsed = crate::parse_pep508(args)?;
    let name = parsed.name.to_string();
    let mut named = Named {
        extras: parsed.extras.iter().map(ToString::to_string).collect(),
        marker: parsed.marker.try_to_string(),
        ..Default::default()
    };
    match &parsed.version_or_url {
        Some(pep508_rs::VersionOrUrl::VersionSpecifier(specs)) => {
            let exact = (specs.len() == 1)
                .then(|| specs.iter().next())
                .flatten()
                .filter(|s| {
                    matches!(
                        s.operator(),
                        pep440_rs::Operator::Equal | pep440_rs::Operator::ExactEqual
                    )
                })
                .map(|s| s.version().to_string());
            match exact {
                Some(v) => named.version = Some(v),
                None => named.requested = Some(specs.to_string()),
            }
        }
        Some(pep508_rs::VersionOrUrl::Url(url)) => {
            // As written: pep508_rs expands `${NAME}` from this process's
            // environment, which is not the environment the file was made for.
            let text = url
                .given()
                .map_or_else(|| url.raw().to_string(), str::to_string);
            named.source = Some(url_source(&text));
            // pip does not check the file name of a `name @ url` link when it
            // reads the line; a version is taken only from a valid one.
            let file = text.split(['#', '?']).next().unwrap_or(&text);
            let file = file.rsplit('/').next().unwrap_or(file);
            let from_file = if file.to_ascii_lowercase().ends_with(".whl") {
                wheel_name(file).ok()
            } else {
                sdist_name(file)
            };
            named.version = from_file
                .filter(|(n, _)| same_name(n, &name))
                .map(|(_, v)| v);
            if named.version.is_none() {
                named.requested = Some(redact(&text));
            }
        }
        None => named.requested = Some("*".into()),
    }
    named.name = name;
    Ok(Form::Named(named))
}

/// Where a URL points: a VCS, a local path (`file:`) or a download.
fn url_source(url: &str) -> Source {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some(s) if vcs_of(s).is_some() => vcs_source(url),
        Some("file") => Source::Path {
            path: file_url_path(url.split('#').next().unwrap_or(url)),
            editable: false,
        },
        _ => Source::Url(redact(url.split('#').next().unwrap_or(url))),
    }
}

/// `git+https://host/repo@rev#egg=x&subdirectory=sub` → Git { url, rev, subdirectory }.
fn vcs_source(link: &str) -> Source {
    let without_fragment = link.split('#').next().unwrap_or(link);
    let body = without_fragment
        .split_once('+')
        .map_or(without_fragment, |(_, b)| b);
    // The revision follows the last `@` after the host (a `user@` before the
    // host is credentials, not a revision).
    let path_start = body.find("://").map_or(0, |i| i + 3);
    let path_start = body[path_start..]
        .find('/')
        .map_or(body.len(), |i| path_start + i);
    let (url, rev) = match body[path_start..].rfind('@') {
        Some(i) => (
            body[..path_start + i].to_string(),
            Some(body[path_start + i + 1..].to_string()),
        ),
        None => (body.to_string(), None),
    };
    Source::Git {
        url: redact(&url),
        rev,
        subdirectory: fragment(link, "subdirectory").map(str::to_string),
    }
}

/// `file:///a/b` → `/a/b`; `file:/a/b` (pip-compile writes it) too.
fn file_url_path(url: &str) -> String {
    let rest = &url[url.find(':').map_or(0, |i| i + 1)..];
    match rest.strip_prefix("//") {
        Some(after) => match after.find('/') {
            Some(i) => after[i..].to_string(),
            None => after.to_string(),
        },
        None => rest.to_string(),
    }
}

/// pip's `redact_auth_from_url`, stricter: credentials in a URL (`user:pass@`,
/// often an expanded `${TOKEN}`) are never recorded.
pub(super) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let host_start = scheme_end + 3;
    let host_end = url[host_start..]
        .find('/')
        .map_or(url.len(), |i| host_start + i);
    match url[host_start..host_end].rfind('@') {
        Some(at) => format!("{}****{}", &url[..host_start], &url[host_start + at..]),
        None => url.to_string(),
    }
}

/// A project name as PEP 508 allows it.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn same_name(a: &str, b: &str) -> bool {
    aibomdb_graph::pep503_normalise(a) == aibomdb_graph::pep503_normalise(b)
}

fn is_version(s: &str) -> bool {
    pep440_rs::Version::from_str(s).is_ok()
}

/// `{name}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl`.
fn wheel_name(file: &str) -> Result<(String, String), String> {
    let stem = &file[..file.len() - ".whl".len()];
    let parts: Vec<&str> = stem.split('-').collect();
    if !(5..=6).contains(&parts.len()) || !valid_name(parts[0]) || !is_version(parts[1]) {
        return Err(format!("{file} is not a valid wheel filename"));
    }
    Ok((parts[0].to_string(), parts[1].to_string()))
}

/// `{name}-{version}.{archive}`: the name is everything before the first `-`
/// that starts a valid version (legacy sdists keep `-` in the name).
fn sdist_name(file: &str) -> Option<(String, String)> {
    let lower = file.to_ascii_lowercase();
    let ext = ARCHIVES.iter().find(|e| lower.ends_with(*e))?;
    let stem = &file[..file.len() - ext.len()];
    stem.match_indices('-').find_map(|(i, _)| {
        let (name, version) = (&stem[..i], &stem[i + 1..]);
        (valid_name(name) && is_version(version)).then(|| (name.to_string(), version.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(args: &str) -> Named {
        match classify(args, false, &|_| None).unwrap() {
            Form::Named(n) => n,
            other => panic!("{args}: {other:?}"),
        }
    }

    #[test]
    fn links_as_pip_reads_them() {
        // pip tests/unit/test_req_file.py (commit
        // 6d309205789d368b2749d93fd6193d584811efd5):
        // test_yield_pep440_line_requirement.
        let n = named("SomeProject @ https://url/SomeProject-py2-py3-none-any.whl");
        assert_eq!(
            (n.name.as_str(), n.version.as_deref()),
            ("someproject", None)
        );
        // test_req_file_parse_egginfo_end_of_line_with_url
        assert_eq!(named("https://example.com/foo.tar.gz#egg=wat").name, "wat");
        // test_req_file_parse_comment_end_of_line_with_url (comment stripped)
        assert!(matches!(
            classify("https://example.com/foo.tar.gz", false, &|_| None),
            Ok(Form::Unnamed(_))
        ));
    }

    #[test]
    fn file_names_give_name_and_version() {
        let n = named("./downloads/pkg-1.0-py3-none-any.whl");
        assert_eq!(
            (n.name.as_str(), n.version.as_deref()),
            ("pkg", Some("1.0"))
        );
        let n = named(
            "https://h/p/torch-2.4.0+cu121-1-cp311-cp311-linux_x86_64.whl ; sys_platform == 'linux'",
        );
        assert_eq!(
            (n.name.as_str(), n.version.as_deref()),
            ("torch", Some("2.4.0+cu121"))
        );
        assert_eq!(n.marker.as_deref(), Some("sys_platform == 'linux'"));
        let n = named("../dist/python-dateutil-2.9.0.tar.gz");
        assert_eq!(
            (n.name.as_str(), n.version.as_deref()),
            ("python-dateutil", Some("2.9.0"))
        );
        let n = named("six @ https://h/packages/six-1.16.0-py2.py3-none-any.whl");
        assert_eq!(n.version.as_deref(), Some("1.16.0"));
        assert!(classify("./x/not-a-wheel.whl", false, &|_| None).is_err());
    }

    #[test]
    fn vcs_and_editables() {
        let n = match classify(
            "git+https://u:secret@github.com/o/r.git@v1.2#egg=r&subdirectory=pkg",
            true,
            &|_| None,
        )
        .unwrap()
        {
            Form::Named(n) => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(n.name, "r");
        assert_eq!(
            n.source,
            Some(Source::Git {
                url: "https://****@github.com/o/r.git".into(),
                rev: Some("v1.2".into()),
                subdirectory: Some("pkg".into())
            })
        );
        assert_eq!(
            classify(".", true, &|_| None).unwrap(),
            Form::Project { editable: true }
        );
        assert!(classify("git+https://github.com/o/r", true, &|_| None).is_err());
        assert!(matches!(
            classify("git+https://github.com/o/r", false, &|_| None),
            Ok(Form::Unnamed(_))
        ));
        let n = match classify("./libs/x", true, &|p| {
            (p == "./libs/x").then(|| ("real-x".into(), Some("0.3".into())))
        })
        .unwrap()
        {
            Form::Named(n) => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (n.name.as_str(), n.version.as_deref()),
            ("real-x", Some("0.3"))
        );
    }
}
