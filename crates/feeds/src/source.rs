//! Where a feed comes from: a base URL laid out like the OSV data export, or
//! a directory with the same layout. Both answer "this file, unless it is
//! the version I already have".

use std::path::PathBuf;
use std::time::Duration;

use crate::FeedError;

/// A file fetched from a source, or the news that it has not changed.
pub enum Fetched {
    NotModified,
    NotFound,
    Body {
        bytes: Vec<u8>,
        /// What identifies this version for the next conditional request:
        /// the ETag (HTTP), or size and modification time (a directory).
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// The version of a file already held, for a conditional request.
#[derive(Default, Clone, Copy)]
pub struct Held<'a> {
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

pub enum Source {
    Http { base: String, agent: ureq::Agent },
    Dir(PathBuf),
}

/// The version of a file already held, and the most bytes it may have.
#[derive(Default, Clone, Copy)]
pub struct Bounded<'a> {
    pub held: Held<'a>,
    /// 0: [`MAX_FILE_BYTES`].
    pub max_bytes: u64,
}

/// Largest file fetched when the caller gives no bound (an ecosystem's
/// `all.zip` is the big one: PyPI's is tens of MB, Debian's hundreds).
pub(crate) const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

impl Source {
    /// `URL` (http:// or https://) or a directory.
    pub fn parse(source: &str) -> Result<Source, FeedError> {
        if source.starts_with("http://") || source.starts_with("https://") {
            let config = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(15)))
                .timeout_global(Some(Duration::from_secs(600)))
                .user_agent(concat!("aibomdb/", env!("CARGO_PKG_VERSION")))
                .build();
            return Ok(Source::Http {
                base: source.trim_end_matches('/').to_string(),
                agent: ureq::Agent::new_with_config(config),
            });
        }
        let dir = PathBuf::from(source);
        if !dir.is_dir() {
            return Err(FeedError::Source(format!(
                "{source}: neither an http(s) URL nor a directory"
            )));
        }
        Ok(Source::Dir(dir))
    }

    /// The source as it is named in the feed state and in messages: a URL
    /// without user-info (credentials are never stored or printed), a
    /// directory as an absolute path (however it was spelled).
    pub fn describe(&self) -> String {
        match self {
            Source::Http { base, .. } => without_userinfo(base),
            Source::Dir(d) => std::path::absolute(d)
                .unwrap_or_else(|_| d.clone())
                .display()
                .to_string(),
        }
    }

    /// Where the file at `segments` (relative to the base) is, for messages.
    pub fn url(&self, segments: &[&str]) -> String {
        match self {
            Source::Http { .. } => without_userinfo(&self.request_url(segments)),
            Source::Dir(dir) => segments
                .iter()
                .fold(dir.clone(), |p, s| p.join(s))
                .display()
                .to_string(),
        }
    }

    /// The URL requested for `segments`, credentials included.
    fn request_url(&self, segments: &[&str]) -> String {
        let base = match self {
            Source::Http { base, .. } => base.clone(),
            Source::Dir(d) => d.display().to_string(),
        };
        let mut url = base;
        for s in segments {
            url.push('/');
            url.push_str(&escape(s));
        }
        url
    }

    /// Fetches the file at `segments` (relative to the base). A segment
    /// that would leave the base (`..`, a separator) is refused.
    pub fn fetch(&self, segments: &[&str], held: Held<'_>) -> Result<Fetched, FeedError> {
        self.fetch_bounded(segments, Bounded { held, max_bytes: 0 })
    }

    /// As [`Source::fetch`], refusing a file over `bounded.max_bytes`.
    pub fn fetch_bounded(
        &self,
        segments: &[&str],
        bounded: Bounded<'_>,
    ) -> Result<Fetched, FeedError> {
        let (held, max) = match bounded.max_bytes {
            0 => (bounded.held, MAX_FILE_BYTES),
            n => (bounded.held, n),
        };
        if let Some(bad) = segments.iter().find(|s| !valid_segment(s)) {
            return Err(FeedError::Source(format!(
                "{bad:?} cannot be part of a feed path"
            )));
        }
        match self {
            Source::Http { agent, .. } => fetch_http(agent, &self.request_url(segments), held, max),
            Source::Dir(_) => fetch_file(std::path::Path::new(&self.url(segments)), held, max),
        }
    }
}

fn fetch_http(
    agent: &ureq::Agent,
    url: &str,
    held: Held<'_>,
    max: u64,
) -> Result<Fetched, FeedError> {
    let failed = |e: ureq::Error| FeedError::Fetch {
        url: without_userinfo(url),
        message: e.to_string(),
    };
    let mut request = agent.get(url);
    if let Some(etag) = held.etag {
        request = request.header("If-None-Match", etag);
    }
    if let Some(lm) = held.last_modified {
        request = request.header("If-Modified-Since", lm);
    }
    let mut response = request.call().map_err(failed)?;
    let status = response.status().as_u16();
    match status {
        304 => return Ok(Fetched::NotModified),
        404 => return Ok(Fetched::NotFound),
        200 => {}
        other => {
            return Err(FeedError::Fetch {
                url: without_userinfo(url),
                message: format!("HTTP {other}"),
            });
        }
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header("etag");
    let last_modified = header("last-modified");
    let expected = header("content-length").and_then(|v| v.parse::<u64>().ok());
    // A connection dropped mid-body is an error here, never a short file.
    let bytes = response
        .body_mut()
        .with_config()
        .limit(max)
        .read_to_vec()
        .map_err(failed)?;
    if let Some(n) = expected
        && n != bytes.len() as u64
    {
        return Err(FeedError::Fetch {
            url: without_userinfo(url),
            message: format!("body ended after {} of {n} bytes", bytes.len()),
        });
    }
    Ok(Fetched::Body {
        bytes,
        etag,
        last_modified,
    })
}

fn fetch_file(path: &std::path::Path, held: Held<'_>, max: u64) -> Result<Fetched, FeedError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Fetched::NotFound),
        Err(e) => {
            return Err(FeedError::Fetch {
                url: path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("{}-{modified}", meta.len());
    if held.etag == Some(etag.as_str()) {
        return Ok(Fetched::NotModified);
    }
    if meta.len() > max {
        return Err(FeedError::Fetch {
            url: path.display().to_string(),
            message: format!("{} bytes, over the limit of {max}", meta.len()),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| FeedError::Fetch {
        url: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Fetched::Body {
        bytes,
        etag: Some(etag),
        last_modified: None,
    })
}

/// Percent-encodes what may not appear raw in one path segment (ecosystem
/// names such as `Ubuntu:22.04:LTS` and `Red Hat` carry `:` and spaces).
/// `scheme://host/path` of `scheme://user:secret@host/path`.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Whether `s` can be one path segment under the base: not empty, not `.`
/// or `..`, no separator or NUL.
pub(crate) fn valid_segment(s: &str) -> bool {
    !(s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\', '\0']))
}

pub(crate) fn escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_ecosystem_names_readable() {
        assert_eq!(escape("Ubuntu:22.04:LTS"), "Ubuntu:22.04:LTS");
        assert_eq!(escape("Red Hat"), "Red%20Hat");
        assert_eq!(escape("a/b"), "a%2Fb");
    }

    #[test]
    fn credentials_in_a_source_url_are_never_shown() {
        let s = Source::parse("https://user:s3cret@mirror.example.org/osv").unwrap();
        assert_eq!(s.describe(), "https://mirror.example.org/osv");
        assert!(!s.url(&["PyPI", "all.zip"]).contains("s3cret"));
    }

    #[test]
    fn segments_cannot_leave_the_base() {
        let source = Source::Dir(std::env::temp_dir());
        for bad in ["..", ".", "", "a/b", "a\\b"] {
            assert!(
                source.fetch(&["PyPI", bad], Held::default()).is_err(),
                "{bad}"
            );
        }
    }
}
