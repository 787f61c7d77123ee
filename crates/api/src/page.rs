//! The pages: the dashboard (`web/`) and GraphiQL, every file embedded in the
//! binary. GraphiQL and React are vendored (`web/vendor/`, pinned and checked
//! by `web/vendor/fetch.sh`) and stored gzipped, so the page loads with no
//! network and nothing is fetched from a CDN. Security headers for every
//! answer are set here too.

use std::io::Read;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

const WEB_INDEX: &str = include_str!("../../../web/index.html");
const WEB_APP: &str = include_str!("../../../web/app.js");
const WEB_STYLE: &str = include_str!("../../../web/style.css");
const GRAPHIQL_PAGE: &str = include_str!("../../../web/graphiql.html");
const GRAPHIQL_INIT: &str = include_str!("../../../web/graphiql.js");

/// Vendored files, gzipped: (name, content type, bytes).
const VENDORED: [(&str, &str, &[u8]); 4] = [
    (
        "graphiql.min.js",
        "text/javascript",
        include_bytes!("../../../web/vendor/graphiql.min.js.gz"),
    ),
    (
        "graphiql.min.css",
        "text/css",
        include_bytes!("../../../web/vendor/graphiql.min.css.gz"),
    ),
    (
        "react.production.min.js",
        "text/javascript",
        include_bytes!("../../../web/vendor/react.production.min.js.gz"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../../../web/vendor/react-dom.production.min.js.gz"),
    ),
];

/// The pages' policy: everything from this origin, nothing inline but styles
/// (GraphiQL and the dashboard set style attributes), fonts and images also
/// from `data:` (GraphiQL's CSS embeds its fonts), no framing.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The CRA report is a document, not an application: its own inline style only.
pub(crate) const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(crate) async fn index() -> Html<&'static str> {
    Html(WEB_INDEX)
}

pub(crate) async fn app_js() -> Response {
    asset("text/javascript", WEB_APP)
}

pub(crate) async fn style_css() -> Response {
    asset("text/css", WEB_STYLE)
}

pub(crate) async fn graphiql() -> Html<&'static str> {
    Html(GRAPHIQL_PAGE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `/graphiql/{file}`: the start script, or a vendored file, sent gzipped
/// to clients that take gzip (every browser) and inflated for the rest.
pub(crate) async fn graphiql_asset(headers: HeaderMap, Path(file): Path<String>) -> Response {
    if file == "init.js" {
        return asset("text/javascript", GRAPHIQL_INIT);
    }
    let Some((_, content_type, gz)) = VENDORED.iter().find(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let takes_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|e| {
                e.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("gzip")
            })
        });
    if takes_gzip {
        return (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CONTENT_ENCODING, "gzip"),
                (header::VARY, "accept-encoding"),
            ],
            *gz,
        )
            .into_response();
    }
    let mut plain = Vec::new();
    match flate2::read::GzDecoder::new(*gz).read_to_end(&mut plain) {
        Ok(_) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::VARY, "accept-encoding"),
            ],
            plain,
        )
            .into_response(),
        Err(e) => crate::error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &format!("vendored {file}: {e}"),
        ),
    }
}

/// Headers every answer carries unless its handler set its own: no MIME
/// sniffing, no framing, and the pages' CSP.
pub(crate) fn security_headers<S>(router: axum::Router<S>) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

#[cfg(test)]
mod tests {
    /// The embedded files are byte for byte what web/vendor/SHA256SUMS
    /// (the packages' own files) says: no truncated or stale copy ships.
    #[test]
    fn vendored_files_match_their_checksums() {
        use sha2::Digest;
        use std::io::Read;
        let sums = include_str!("../../../web/vendor/SHA256SUMS");
        for (name, _, gz) in super::VENDORED {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(gz)
                .read_to_end(&mut plain)
                .unwrap();
            let hex: String = sha2::Sha256::digest(&plain)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(
                sums.lines().any(|l| l == format!("{hex}  {name}")),
                "{name}: sha256 {hex} is not the one in web/vendor/SHA256SUMS"
            );
        }
    }
}
