//! Downloads the dashboard links to: a deployment as a compliance document,
//! and its TR-03183-2 completeness report. Same read check as `/graphql`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::auth::refuse_read;
use crate::{App, error_response};

/// The deployment as one CycloneDX 1.6 document (the dashboard's download).
pub(crate) async fn sbom(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    download(
        app,
        headers,
        name,
        aibomdb_export::ExportFormat::CycloneDx16,
    )
    .await
}

/// `/deployments/{name}/export/{format}`: any export format as a download.
pub(crate) async fn export(
    State(app): State<App>,
    headers: HeaderMap,
    Path((name, format)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = refuse_read(&app, &headers) {
        return refused;
    }
    match format.parse() {
        Ok(f) => download(app, headers, name, f).await,
        Err(e) => error_response(StatusCode::BAD_REQUEST, "BAD_INPUT", &e.to_string()),
    }
}

/// `/deployments/{name}/cra-report.html`: the TR-03183-2 completeness report.
pub(crate) async fn cra_report(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Some(refused) = refuse_read(&app, &headers) {
        return refused;
    }
    let store = app.store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let opts = aibomdb_export::Options {
            timestamp: aibomdb_export::time::rfc3339_now(),
            ..Default::default()
        };
        aibomdb_export::cra_report(&store, &name, &opts)
    })
    .await;
    match result {
        Ok(Ok(report)) => {
            let mut page = Html(aibomdb_export::cra_html(&report)).into_response();
            page.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(crate::page::REPORT_CSP),
            );
            page
        }
        Ok(Err(e)) => export_error(e),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &e.to_string(),
        ),
    }
}

fn export_error(e: aibomdb_export::ExportError) -> Response {
    match e {
        aibomdb_export::ExportError::NoDeployment(n) => error_response(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no deployment named {n:?}"),
        ),
        aibomdb_export::ExportError::UnknownFormat(_) => {
            error_response(StatusCode::BAD_REQUEST, "BAD_INPUT", &e.to_string())
        }
        e => error_response(StatusCode::INTERNAL_SERVER_ERROR, "STORE", &e.to_string()),
    }
}

async fn download(
    app: App,
    headers: HeaderMap,
    name: String,
    format: aibomdb_export::ExportFormat,
) -> Response {
    if let Some(refused) = refuse_read(&app, &headers) {
        return refused;
    }
    let store = app.store.clone();
    let file = format!(
        "{}.{}",
        name.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_' && c != '.',
            "_"
        ),
        format.extension()
    );
    let result = tokio::task::spawn_blocking(move || {
        let opts = aibomdb_export::Options {
            timestamp: aibomdb_export::time::rfc3339_now(),
            ..Default::default()
        };
        aibomdb_export::export(&store, &name, format, &opts)
    })
    .await;
    let content_type = match format {
        aibomdb_export::ExportFormat::CycloneDx16 | aibomdb_export::ExportFormat::CycloneDxVex => {
            "application/vnd.cyclonedx+json; version=1.6"
        }
        aibomdb_export::ExportFormat::CycloneDx15 => "application/vnd.cyclonedx+json; version=1.5",
        aibomdb_export::ExportFormat::Spdx23 => "application/spdx+json",
        aibomdb_export::ExportFormat::OpenVex => "application/json",
    };
    match result {
        Ok(Ok(doc)) => (
            [
                (header::CONTENT_TYPE, content_type.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}\""),
                ),
            ],
            serde_json::to_string_pretty(&doc).unwrap_or_default(),
        )
            .into_response(),
        Ok(Err(e)) => export_error(e),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &e.to_string(),
        ),
    }
}
