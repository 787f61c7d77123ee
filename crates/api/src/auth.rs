//! Who may do what: bearer tokens, and the `Host` check that keeps a page on
//! another origin (DNS rebinding) from reading the API through the browser.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::{App, error_response};

/// The shortest token accepted (read or write): a guessable token is no lock.
pub const MIN_TOKEN_LEN: usize = 16;

/// What the caller's `Authorization` header allows on this server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    pub(crate) can_read: bool,
    pub(crate) can_write: bool,
}

/// The token of `Authorization: Bearer <token>`; the scheme is matched in any
/// case (RFC 7235 §2.1).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares without an early exit, so timing does not leak the token's prefix.
pub(crate) fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub(crate) fn caller(app: &App, headers: &HeaderMap) -> Caller {
    // Dependency-Track's clients send the key as `X-Api-Key`: the same token.
    let token = bearer(headers).or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    });
    let matches = |expected: &Option<String>| matches!((token, expected), (Some(t), Some(e)) if same_token(t, e));
    let can_write = matches(&app.config.write_token);
    Caller {
        can_read: app.config.read_token.is_none() || can_write || matches(&app.config.read_token),
        can_write,
    }
}

pub(crate) fn unauthenticated() -> Response {
    error_response(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        "reads need `Authorization: Bearer <token>` on this server",
    )
}

/// The reader check shared by every read route: `Some(response)` refuses.
pub(crate) fn refuse_read(app: &App, headers: &HeaderMap) -> Option<Response> {
    (!caller(app, headers).can_read).then(unauthenticated)
}

/// The `Host` values this server answers to: `host:port` in lower case.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedHosts {
    names: Vec<String>,
    /// Listening on every address: any IP literal is this server (a rebinding
    /// attack needs a DNS name, never an address).
    any_ip: bool,
    port: u16,
}

impl AllowedHosts {
    /// From the bound address and the operator's extra names (`name` or
    /// `name:port`; without a port the listening port is meant).
    pub(crate) fn new(bound: SocketAddr, extra: &[String]) -> Self {
        let port = bound.port();
        let mut names = vec![format!("{bound}")];
        if bound.ip().is_loopback() || bound.ip().is_unspecified() {
            names.push(format!("localhost:{port}"));
        }
        for n in extra {
            let n = n.to_ascii_lowercase();
            names.push(if split_port(&n).1.is_some() {
                n
            } else {
                format!("{n}:{port}")
            });
        }
        AllowedHosts {
            names,
            any_ip: bound.ip().is_unspecified(),
            port,
        }
    }

    pub(crate) fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = split_port(&host);
        // No port in `Host` means the scheme's default (http: 80).
        let port = port.unwrap_or(80);
        let full = format!("{name}:{port}");
        if self.names.contains(&full) {
            return true;
        }
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        self.any_ip && port == self.port && bare.parse::<std::net::IpAddr>().is_ok()
    }
}

/// `("name", Some(port))` from `name:port` or `[v6]:port`.
fn split_port(host: &str) -> (&str, Option<u16>) {
    match host.rsplit_once(':') {
        Some((name, port))
            if !name.ends_with(':') && (!name.contains(':') || name.ends_with(']')) =>
        {
            match port.parse() {
                Ok(p) => (name, Some(p)),
                Err(_) => (host, None),
            }
        }
        _ => (host, None),
    }
}

/// Refuses a request whose `Host` is not one this server listens as (421),
/// before anything else runs.
pub(crate) async fn check_host(State(app): State<App>, request: Request, next: Next) -> Response {
    let Some(allowed) = app.hosts.as_ref() else {
        return next.run(request).await;
    };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if allowed.allows(&host) {
        return next.run(request).await;
    }
    tracing::warn!(host, "refused a request for another host name");
    error_response(
        StatusCode::MISDIRECTED_REQUEST,
        "BAD_HOST",
        &format!(
            "this server does not answer to Host {host:?}; start it with `--allow-host NAME` to add a name"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
    }

    #[test]
    fn hosts() {
        let lo = AllowedHosts::new("127.0.0.1:8080".parse().unwrap(), &["aibom.example".into()]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "aibom.example:8080",
        ] {
            assert!(lo.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "",
            "localhost",
        ] {
            assert!(!lo.allows(bad), "{bad}");
        }
        let any = AllowedHosts::new("0.0.0.0:80".parse().unwrap(), &[]);
        assert!(any.allows("10.1.2.3") && any.allows("[::1]:80") && any.allows("localhost"));
        assert!(!any.allows("rebind.example"));
        let v6 = AllowedHosts::new("[::1]:9000".parse().unwrap(), &[]);
        assert!(v6.allows("[::1]:9000") && v6.allows("localhost:9000"));
    }
}
