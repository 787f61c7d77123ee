//! Writes: ingest, advisory loads, VEX, approvals, deletions (each needs the write token).

use super::*;

#[derive(SimpleObject)]
pub struct IngestResult {
    /// `ingested` or `unchanged` (the same bytes were already in the deployment).
    pub status: String,
    pub document: u64,
    pub format: String,
    pub packages: u64,
    pub new_packages: u64,
    pub edges: u64,
    pub superseded: Option<u64>,
    pub vex_statements: u64,
}

#[derive(SimpleObject)]
pub struct AdvisoryLoadResult {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
    pub matches: u64,
    /// Records that could not be read, with the reason.
    pub rejected: Vec<String>,
}

#[derive(Default)]
pub struct MutationRoot;

pub(crate) fn require_write(ctx: &Context<'_>) -> Result<()> {
    match ctx.data_opt::<Access>() {
        Some(a) if a.can_write => Ok(()),
        _ => Err(Error::new(
            "writes need `Authorization: Bearer <token>` with the server's write token",
        )
        .extend_with(|_, x| x.set("code", "UNAUTHENTICATED"))),
    }
}

async fn ingest_bytes(
    ctx: &Context<'_>,
    deployment: String,
    file_name: String,
    bytes: Vec<u8>,
) -> Result<IngestResult> {
    let store = store(ctx).clone();
    tokio::task::spawn_blocking(move || {
        let prepared = aibomdb_ingest::prepare_upload(&file_name, &bytes)
            .map_err(|e| bad_input(e.to_string()))?;
        let format = prepared.format.label().to_string();
        let vex_statements = prepared.facts.vex.len() as u64;
        let outcome = aibomdb_ingest::commit(&store, prepared, Some(&deployment))
            .map_err(|e| bad_input(e.to_string()))?;
        Ok(ingest_result(outcome, format, vex_statements))
    })
    .await
    .map_err(|e| Error::new(format!("internal: {e}")))?
}

/// One file of an uploaded model directory.
#[derive(InputObject)]
pub struct ModelFileInput {
    /// Path inside the model directory (`config.json`, `weights/model.safetensors`).
    pub path: String,
    /// The file's bytes, base64 (standard alphabet).
    pub content_base64: String,
}

fn ingest_result(
    outcome: aibomdb_store::IngestOutcome,
    format: String,
    vex_statements: u64,
) -> IngestResult {
    match outcome {
        aibomdb_store::IngestOutcome::Ingested {
            document,
            packages,
            new_packages,
            edges,
            superseded,
        } => IngestResult {
            status: "ingested".into(),
            document,
            format,
            packages,
            new_packages,
            edges,
            superseded,
            vex_statements,
        },
        aibomdb_store::IngestOutcome::Unchanged { document } => IngestResult {
            status: "unchanged".into(),
            document,
            format,
            packages: 0,
            new_packages: 0,
            edges: 0,
            superseded: None,
            vex_statements: 0,
        },
    }
}

#[Object]
impl MutationRoot {
    /// Ingests a model directory sent file by file (card, configs, weights,
    /// `SHA256SUMS`, `model.sig`): hashed, scanned and judged exactly as
    /// `aibomdb ingest-model` does, in one transaction. Paths must stay inside
    /// the directory; the request body limit bounds the upload. Signatures
    /// are checked only against keys and anchors the server was given none
    /// of: they show as unverified.
    #[allow(clippy::too_many_arguments)]
    async fn ingest_model(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        files: Vec<ModelFileInput>,
        id: Option<String>,
        revision: Option<String>,
        name: Option<String>,
    ) -> Result<IngestResult> {
        require_write(ctx)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut decoded = Vec::with_capacity(files.len());
        for f in files {
            use base64::Engine;
            let bytes = b64
                .decode(f.content_base64.as_bytes())
                .map_err(|e| bad_input(format!("{}: contentBase64: {e}", f.path)))?;
            decoded.push((f.path, bytes));
        }
        let store = store(ctx).clone();
        tokio::task::spawn_blocking(move || {
            let label = name
                .clone()
                .or_else(|| id.clone())
                .unwrap_or_else(|| "upload".into());
            let identity = aibomdb_importer_model::ModelIdentity {
                id,
                revision,
                name,
                ..Default::default()
            };
            let prepared = aibomdb_ingest::prepare_model_files(
                std::path::Path::new(&label),
                &decoded,
                &identity,
            )
            .map_err(|e| bad_input(e.to_string()))?;
            let format = prepared.format.label().to_string();
            let outcome = aibomdb_ingest::commit(&store, prepared, Some(&deployment))
                .map_err(|e| bad_input(e.to_string()))?;
            Ok(ingest_result(outcome, format, 0))
        })
        .await
        .map_err(|e| Error::new(format!("internal: {e}")))?
    }

    /// Ingests one document (SBOM, lockfile, VEX) into a deployment, whole or
    /// not at all. `fileName` is a label and picks the reader for lockfiles
    /// (`uv.lock`, `requirements.txt`); nothing beside it is read.
    async fn ingest_document(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        file_name: String,
        content: String,
    ) -> Result<IngestResult> {
        require_write(ctx)?;
        ingest_bytes(ctx, deployment, file_name, content.into_bytes()).await
    }

    /// Loads OSV records: one record, or a JSON array of records (JSON or the
    /// PyPA YAML form for a single record). Matches are updated incrementally.
    async fn load_advisories(
        &self,
        ctx: &Context<'_>,
        content: String,
        #[graphql(default_with = "\"upload.json\".to_string()")] file_name: String,
    ) -> Result<AdvisoryLoadResult> {
        require_write(ctx)?;
        let store = store(ctx).clone();
        tokio::task::spawn_blocking(move || {
            let mut advisories = Vec::new();
            let mut rejected = Vec::new();
            match serde_json::from_str::<Vec<serde_json::Value>>(&content) {
                Ok(list) => {
                    for (i, v) in list.iter().enumerate() {
                        let bytes = serde_json::to_vec(v).unwrap_or_default();
                        match aibomdb_osv::load_bytes(&format!("{file_name}[{i}]"), &bytes) {
                            Ok(a) => advisories.push(a),
                            Err(e) => rejected.push(format!("{file_name}[{i}]: {e}")),
                        }
                    }
                }
                Err(_) => match aibomdb_osv::load_bytes(&file_name, content.as_bytes()) {
                    Ok(a) => advisories.push(a),
                    Err(e) => rejected.push(format!("{file_name}: {e}")),
                },
            }
            let s = aibomdb_osv::load_advisories(&store, &advisories)
                .map_err(|e| Error::new(e.to_string()))?;
            Ok(AdvisoryLoadResult {
                added: s.added as u64,
                updated: s.updated as u64,
                unchanged: s.unchanged as u64,
                withdrawn: s.withdrawn as u64,
                matches: s.matches as u64,
                rejected,
            })
        })
        .await
        .map_err(|e| Error::new(format!("internal: {e}")))?
    }

    /// Records an operator's VEX statement for a package in a deployment. It
    /// is stored as an OpenVEX document of its own (kept with its time, so the
    /// latest statement decides), exactly as an uploaded VEX would be.
    #[allow(clippy::too_many_arguments)]
    async fn set_vex(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        advisory: String,
        purl: String,
        status: VexStatus,
        justification: Option<String>,
        detail: Option<String>,
        author: Option<String>,
    ) -> Result<IngestResult> {
        require_write(ctx)?;
        aibomdb_query::parse_purl(&purl).map_err(query_error)?;
        if status == VexStatus::NotAffected && justification.is_none() && detail.is_none() {
            return Err(bad_input(
                "a not_affected statement needs a justification or a detail (OpenVEX requires one)",
            ));
        }
        let now = aibomdb_export::time::rfc3339_now();
        let mut statement = serde_json::json!({
            "vulnerability": {"name": advisory},
            "products": [{"@id": purl}],
            "status": status.openvex(),
            "timestamp": now,
        });
        if let Some(j) = justification {
            statement["justification"] = j.into();
        }
        if let Some(d) = detail {
            statement["impact_statement"] = d.into();
        }
        let doc = serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": format!("aibomdb:setVex/{deployment}/{advisory}/{now}"),
            "author": author.unwrap_or_else(|| "aibomdb setVex".into()),
            "timestamp": now,
            "version": 1,
            "tooling": "aibomdb setVex",
            "statements": [statement],
        });
        let name = format!("setVex-{advisory}-{now}.openvex.json");
        ingest_bytes(
            ctx,
            deployment,
            name,
            serde_json::to_vec_pretty(&doc).unwrap_or_default(),
        )
        .await
    }

    /// Approves one file of a model by its SHA-256 (bound to those bytes: a
    /// changed file shows as unapproved). Returns the model purls approved.
    async fn approve_model(
        &self,
        ctx: &Context<'_>,
        model: String,
        artifact_sha256: String,
        by: String,
        note: Option<String>,
    ) -> Result<Vec<String>> {
        require_write(ctx)?;
        blocking(ctx, move |s| {
            aibomdb_query::approve(s, &model, &artifact_sha256, &by, note.as_deref())
        })
        .await
    }

    /// Deletes a deployment with its documents, edges and VEX statements.
    /// Returns false when there was none.
    async fn delete_deployment(&self, ctx: &Context<'_>, name: String) -> Result<bool> {
        require_write(ctx)?;
        blocking(ctx, move |s| Ok(s.delete_deployment(&name)?)).await
    }
}
