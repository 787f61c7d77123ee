//! Model lineage's types: models, their files, scans, signatures, approvals and
//! the lineage graph.

use super::*;

#[derive(SimpleObject)]
pub struct PickleScan {
    /// `module.name` the pickle would import on load, in order.
    pub imports: Vec<String>,
    /// Imports that run code or reach the system on load (`os.system`,
    /// `builtins.eval`, …): never load the file.
    pub dangerous_imports: Vec<String>,
    /// Imports neither allowed nor known to be dangerous: review them.
    pub unknown_imports: Vec<String>,
    /// A truncated or malformed stream: not a pass.
    pub error: Option<String>,
}

#[derive(SimpleObject)]
pub struct DigestReference {
    pub source: String,
    pub sha256: String,
}

/// One file of a model, with its integrity verdict.
#[derive(SimpleObject)]
pub struct Artifact {
    pub path: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    /// Computed when the directory was ingested with `--sha512`.
    pub sha512: Option<String>,
    /// safetensors, pickle, torch-zip, torchscript, gguf, onnx, config, tokenizer, other.
    pub format: String,
    /// verified, mismatch, no reference, not present.
    pub integrity: String,
    pub references: Vec<DigestReference>,
    pub pickle: Option<PickleScan>,
    pub tensors: Option<u64>,
    pub problems: Vec<String>,
}

/// The OpenSSF model-signing bundle, as checked offline.
#[derive(SimpleObject)]
pub struct Signing {
    /// v1.0 or v0.1.
    pub format: String,
    /// key, certificate or keyless.
    pub method: String,
    /// Only `verified` means the signature was checked (for certificates:
    /// and the chain to a trust anchor).
    pub status: String,
    pub covered: Vec<String>,
    pub missing: Vec<String>,
    pub differ: Vec<String>,
    pub unsigned: Vec<String>,
    pub ignored: Vec<String>,
    /// Who the certificate names (SAN or subject); a claim only for keyless bundles.
    pub signer: Option<String>,
    pub issuer: Option<String>,
    /// Certificate subjects checked, leaf to anchor.
    pub chain: Vec<String>,
    pub detail: Option<String>,
}

/// Something about a model's files a responder should look at.
#[derive(SimpleObject)]
pub struct ModelFinding {
    /// unsigned, signature, signature-mismatch, hash-mismatch, no-reference,
    /// not-present, pickle-dangerous, pickle-unknown, pickle-error,
    /// file-problem, unapproved, secret.
    pub kind: String,
    pub path: Option<String>,
    pub message: String,
}

/// A person's approval of one file, bound to its SHA-256.
#[derive(SimpleObject)]
pub struct Approval {
    pub sha256: String,
    pub by: String,
    pub note: Option<String>,
    /// Seconds since the epoch.
    pub at: u64,
    pub path: Option<String>,
}

impl From<aibomdb_store::Approval> for Approval {
    fn from(a: aibomdb_store::Approval) -> Self {
        Approval {
            sha256: a.sha256,
            by: a.by,
            note: a.note,
            at: a.at,
            path: a.path,
        }
    }
}

/// Whether a model's files are approved as they are now.
#[derive(SimpleObject)]
pub struct ApprovalState {
    /// approved, partially approved, unapproved.
    pub state: String,
    pub approvals: Vec<Approval>,
    /// Files without an approval of their current bytes.
    pub unapproved: Vec<String>,
}

#[derive(SimpleObject)]
pub struct Lineage {
    /// finetune, adapter, quantized, merge.
    pub relation: String,
    pub purl: String,
}

/// A model a deployment runs, with its lineage and the state of its files.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Model {
    pub purl: String,
    pub name: String,
    pub deployment: String,
    pub document: u64,
    /// base, fine-tune, adapter, quantized, merged.
    pub kind: Option<String>,
    pub license: Option<String>,
    pub library_name: Option<String>,
    pub pipeline_tag: Option<String>,
    pub architectures: Vec<String>,
    pub peft_type: Option<String>,
    pub quantization: Option<String>,
    /// The files it was read from.
    pub sources: Vec<String>,
    pub derived_from: Vec<Lineage>,
    /// Adapters among `derivedFrom`'s relations point the other way: the base
    /// models this model adapts.
    pub adapter_of: Vec<String>,
    pub trained_on: Vec<String>,
    pub evaluated_on: Vec<String>,
    pub artifacts: Vec<Artifact>,
    pub signing: Option<Signing>,
    /// Digest mismatches, pickles that run code, unsigned weights, approval
    /// drift, secrets, …
    pub findings: Vec<ModelFinding>,
    pub approval: ApprovalState,
    /// Credentials found in the model's files (never the secret itself).
    pub secrets: Vec<SecretFinding>,
    /// What the model's weight files state in their own headers: GGUF
    /// metadata keys, an ONNX file's producer and opsets, a Keras archive's
    /// version and layers.
    pub file_metadata: Vec<FileMetadata>,
}

/// One fact a weight file's header states, as read.
#[derive(SimpleObject)]
pub struct FileMetadata {
    pub file: String,
    pub key: String,
    pub value: String,
}

/// A credential found in a model's file by a gitleaks rule: where, which
/// rule, a redacted form and the SHA-256 of the secret. The secret itself is
/// not stored.
#[derive(SimpleObject)]
pub struct SecretFinding {
    /// The gitleaks rule id.
    pub rule: String,
    pub file: String,
    /// `text`, `pickle string`, a zip entry, `safetensors header`, `file name`.
    pub within: String,
    pub line: Option<u64>,
    pub offset: Option<u64>,
    pub redacted: String,
    pub fingerprint: String,
}

#[async_graphql::ComplexObject]
impl Model {
    /// Adapters (from any deployment) that apply on top of this model, found
    /// through the reverse edge index, not by reading every model.
    async fn adapters(&self, ctx: &Context<'_>) -> Result<Vec<Model>> {
        let purl = self.purl.clone();
        let views = blocking(ctx, move |s| {
            let graph = aibomdb_query::lineage(s, &purl, aibomdb_query::Direction::Down, 1)?;
            let adapters: Vec<String> = graph
                .links
                .into_iter()
                .filter(|l| l.relation == "derived_from:adapter" && l.to == purl)
                .map(|l| l.from)
                .collect();
            aibomdb_query::model_views(s, &adapters)
        })
        .await?;
        Ok(views.into_iter().map(Model::from).collect())
    }
}

impl From<aibomdb_query::ModelView> for Model {
    fn from(v: aibomdb_query::ModelView) -> Self {
        let info = v.info;
        Model {
            adapter_of: v
                .derived_from
                .iter()
                .filter(|l| l.relation == "adapter")
                .map(|l| l.purl.clone())
                .collect(),
            derived_from: v
                .derived_from
                .into_iter()
                .map(|l| Lineage {
                    relation: l.relation,
                    purl: l.purl,
                })
                .collect(),
            file_metadata: v
                .file_metadata
                .into_iter()
                .map(|m| FileMetadata {
                    file: m.file,
                    key: m.key,
                    value: m.value,
                })
                .collect(),
            secrets: v
                .secrets
                .into_iter()
                .map(|s| SecretFinding {
                    rule: s.rule,
                    file: s.file,
                    within: s.within,
                    line: s.line,
                    offset: s.offset,
                    redacted: s.redacted,
                    fingerprint: s.fingerprint,
                })
                .collect(),
            purl: v.purl,
            name: v.name,
            deployment: v.deployment,
            document: v.document,
            kind: info.kind,
            license: info.license,
            library_name: info.library_name,
            pipeline_tag: info.pipeline_tag,
            architectures: info.architectures,
            peft_type: info.peft_type,
            quantization: info.quantization,
            sources: info.sources,
            trained_on: v.trained_on,
            evaluated_on: v.evaluated_on,
            signing: info.signing.map(|s| Signing {
                format: s.format,
                method: s.method,
                status: s.status,
                covered: s.covered,
                missing: s.missing,
                differ: s.differ,
                unsigned: s.unsigned,
                ignored: s.ignored,
                signer: s.signer,
                issuer: s.issuer,
                chain: s.chain,
                detail: s.detail,
            }),
            artifacts: info
                .artifacts
                .into_iter()
                .map(|a| Artifact {
                    path: a.path,
                    size: a.size,
                    sha256: a.sha256,
                    sha512: a.sha512,
                    format: a.format,
                    integrity: a.integrity,
                    references: a
                        .references
                        .into_iter()
                        .map(|(source, sha256)| DigestReference { source, sha256 })
                        .collect(),
                    pickle: a.pickle.map(|p| PickleScan {
                        imports: p.imports,
                        dangerous_imports: p.dangerous_imports,
                        unknown_imports: p.unknown_imports,
                        error: p.error,
                    }),
                    tensors: a.tensors,
                    problems: a.problems,
                })
                .collect(),
            findings: v
                .findings
                .into_iter()
                .map(|f| ModelFinding {
                    kind: f.kind.to_string(),
                    path: f.path,
                    message: f.message,
                })
                .collect(),
            approval: ApprovalState {
                state: v.approval.state.to_string(),
                approvals: v
                    .approval
                    .approvals
                    .into_iter()
                    .map(Approval::from)
                    .collect(),
                unapproved: v.approval.unapproved,
            },
        }
    }
}

/// A node of a lineage walk.
#[derive(SimpleObject)]
pub struct LineageNode {
    pub purl: String,
    pub name: String,
    /// model, dataset, or package when no document describes it.
    pub node: String,
    pub kind: Option<String>,
    /// Hops from the model asked about: negative up (bases, datasets), positive down.
    pub level: i32,
}

/// An edge of a lineage walk with the current documents that state it.
#[derive(SimpleObject)]
pub struct LineageLink {
    pub from: String,
    pub to: String,
    /// derived_from:finetune|adapter|quantized|merge, derived_from, trained_on, evaluated_on.
    pub relation: String,
    pub documents: Vec<u64>,
}

#[derive(SimpleObject)]
pub struct LineageGraph {
    pub roots: Vec<String>,
    pub nodes: Vec<LineageNode>,
    pub links: Vec<LineageLink>,
}

impl From<aibomdb_query::LineageGraph> for LineageGraph {
    fn from(g: aibomdb_query::LineageGraph) -> Self {
        LineageGraph {
            roots: g.roots,
            nodes: g
                .nodes
                .into_iter()
                .map(|n| LineageNode {
                    purl: n.purl,
                    name: n.name,
                    node: n.node,
                    kind: n.kind,
                    level: n.level,
                })
                .collect(),
            links: g
                .links
                .into_iter()
                .map(|l| LineageLink {
                    from: l.from,
                    to: l.to,
                    relation: l.relation,
                    documents: l.documents,
                })
                .collect(),
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum LineageDirection {
    /// Bases and datasets.
    Up,
    /// Fine-tunes, adapters, quantizations and merges of the model.
    Down,
    Both,
}
