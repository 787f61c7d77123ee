//! Dependency-Track's BOM upload API, so that pipelines that already upload
//! SBOMs with its plugins, actions or `curl` work by changing one URL:
//! `PUT /api/v1/bom` (JSON, the BOM in base64) and `POST /api/v1/bom`
//! (multipart form), `projectName` (the deployment), `projectVersion`,
//! `autoCreate`, with the write token in `X-Api-Key` (or `Authorization:
//! Bearer`). The BOM is ingested before the answer, so the processing token
//! it returns is always done (`GET /api/v1/bom/token/{uuid}`).

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::{App, auth, error_response, graphql};

/// What an upload names, whichever form it came in.
#[derive(Default)]
struct Upload {
    project: Option<String>,
    project_name: Option<String>,
    project_version: Option<String>,
    auto_create: bool,
    bom: Vec<u8>,
}

fn key_allows_write(app: &App, headers: &HeaderMap) -> bool {
    auth::caller(app, headers).can_write
}

fn refused() -> Response {
    error_response(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        "uploading a BOM needs the write token in `X-Api-Key` (or `Authorization: Bearer`)",
    )
}

fn bad(message: impl Into<String>) -> Response {
    error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message.into())
}

/// `PUT /api/v1/bom`: `{"projectName", "projectVersion", "autoCreate", "bom": base64}`.
pub(crate) async fn put_bom(State(app): State<App>, request: Request) -> Response {
    if !key_allows_write(&app, request.headers()) {
        return refused();
    }
    let body = match graphql::json_route_body(&app, request, "PUT /api/v1/bom", true).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Form {
        project: Option<String>,
        project_name: Option<String>,
        project_version: Option<String>,
        #[serde(default)]
        auto_create: bool,
        bom: String,
    }
    let form: Form = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return bad(format!("the body is not a BOM upload: {e}")),
    };
    use base64::Engine as _;
    let bom = match base64::engine::general_purpose::STANDARD.decode(form.bom.trim().as_bytes()) {
        Ok(b) => b,
        Err(e) => return bad(format!("bom: not base64: {e}")),
    };
    ingest(
        app,
        Upload {
            project: form.project,
            project_name: form.project_name,
            project_version: form.project_version,
            auto_create: form.auto_create,
            bom,
        },
    )
    .await
}

/// `POST /api/v1/bom`: the multipart form (`bom` a file or a text field).
pub(crate) async fn post_bom(State(app): State<App>, request: Request) -> Response {
    if !key_allows_write(&app, request.headers()) {
        return refused();
    }
    let limit = app.config.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return graphql::too_large(limit, true);
    }
    let mut form = match Multipart::from_request(request, &()).await {
        Ok(m) => m,
        Err(e) => return bad(format!("POST /api/v1/bom takes multipart/form-data: {e}")),
    };
    let mut upload = Upload::default();
    let mut read = 0usize;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return bad(format!("the form could not be read: {e}")),
        };
        let name = field.name().unwrap_or("").to_string();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => return bad(format!("form field {name:?}: {e}")),
        };
        read += bytes.len();
        if read > limit {
            return graphql::too_large(limit, true);
        }
        let text = || String::from_utf8_lossy(&bytes).trim().to_string();
        match name.as_str() {
            "bom" => upload.bom = bytes.to_vec(),
            "project" => upload.project = Some(text()),
            "projectName" => upload.project_name = Some(text()),
            "projectVersion" => upload.project_version = Some(text()),
            "autoCreate" => upload.auto_create = text().eq_ignore_ascii_case("true"),
            // Dependency-Track's other fields (parentName, tags, …) have no
            // meaning here; they are named in the answer, not dropped silently.
            _ => {
                tracing::info!(field = %name, "BOM upload: form field not used");
            }
        }
    }
    ingest(app, upload).await
}

async fn ingest(app: App, upload: Upload) -> Response {
    let Some(deployment) = upload.project_name.filter(|n| !n.trim().is_empty()) else {
        return bad(if upload.project.is_some() {
            "a project UUID names nothing here: give projectName (the deployment)"
        } else {
            "projectName (the deployment) is required"
        });
    };
    if upload.bom.is_empty() {
        return bad("bom: missing or empty");
    }
    let store = app.store.clone();
    let version = upload.project_version;
    let auto_create = upload.auto_create;
    // Errors as (status, message): a response is built once, outside.
    let work = tokio::task::spawn_blocking(move || -> Result<String, (StatusCode, String)> {
        let exists = store
            .has_deployment(&deployment)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        if !auto_create && !exists {
            return Err((
                StatusCode::NOT_FOUND,
                format!("no deployment named {deployment:?} (autoCreate was not set)"),
            ));
        }
        let prepared = aibomdb_ingest::prepare_upload("bom.json", &upload.bom)
            .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        let outcome = aibomdb_ingest::commit(&store, prepared, Some(&deployment))
            .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        // A token of the upload's content, in the UUID form clients expect.
        let mut h = Sha256::new();
        h.update(deployment.as_bytes());
        h.update(version.unwrap_or_default().as_bytes());
        h.update(format!("{outcome:?}").as_bytes());
        let d = h.finalize();
        let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Ok(format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    });
    match work.await {
        Ok(Ok(token)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"token": token}).to_string(),
        )
            .into_response(),
        Ok(Err((status, message))) => error_response(
            status,
            if status == StatusCode::NOT_FOUND {
                "NOT_FOUND"
            } else if status.is_server_error() {
                "STORE"
            } else {
                "BAD_REQUEST"
            },
            &message,
        ),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &format!("internal: {e}"),
        ),
    }
}

/// `GET /api/v1/bom/token/{uuid}`: uploads are ingested before they are
/// answered, so none is still processing.
pub(crate) async fn bom_token(State(app): State<App>, headers: HeaderMap) -> Response {
    if !key_allows_write(&app, &headers) && auth::refuse_read(&app, &headers).is_some() {
        return refused();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"processing":false}"#,
    )
        .into_response()
}
