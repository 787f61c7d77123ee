//! What an AI bill of materials adds to a package node: a model's or
//! dataset's metadata and the integrity of its files. Lineage itself is edges
//! (`EdgeKind::FinetunedFrom`, `AdapterOf`, `QuantizedFrom`, `MergedFrom`,
//! `TrainedOn`, `EvaluatedOn`) between package nodes, so blast-radius queries
//! walk from a deployment through an adapter to its base model unchanged.

use serde::{Deserialize, Serialize};

/// Metadata of a Model (or Dataset) node as its sources state it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `model` or `dataset`.
    pub node: String,
    /// base, fine-tune, adapter, quantized, merged — when known.
    pub kind: Option<String>,
    pub license: Option<String>,
    pub library_name: Option<String>,
    pub pipeline_tag: Option<String>,
    pub architectures: Vec<String>,
    pub model_type: Option<String>,
    pub transformers_version: Option<String>,
    /// PEFT method (`LORA`, …) for adapters.
    pub peft_type: Option<String>,
    /// e.g. `bitsandbytes nf4 4-bit`, `gguf`.
    pub quantization: Option<String>,
    /// Which files this was read from (`README.md`, `adapter_config.json`, …).
    pub sources: Vec<String>,
    /// Weight, tokenizer and config files, each with its integrity verdict.
    pub artifacts: Vec<Artifact>,
    /// The OpenSSF model-signing bundle (`model.sig`), checked offline.
    pub signing: Option<SigningReport>,
}

/// What an OpenSSF model-signing bundle says and what could be checked offline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningReport {
    /// `v1.0` (`model_signing/signature/v1.0`) or `v0.1` (`Digests/v0.1`).
    pub format: String,
    /// `key`, `certificate` or `keyless`.
    pub method: String,
    /// `verified`, `signature invalid`, `certificate chain invalid`,
    /// `unverified (no key given)`, `unverified (no trust anchor given)`,
    /// `unverified (needs transparency log)`, or `unreadable: …`. Only
    /// `verified` means the signature (and for certificates, the chain to a
    /// trust anchor the caller gave) was checked.
    pub status: String,
    /// Files whose signed digest equals the file's.
    pub covered: Vec<String>,
    /// Files the signature names that are not here.
    pub missing: Vec<String>,
    /// Files whose digest differs from the signed one.
    pub differ: Vec<String>,
    /// Files present that the signature does not cover (not ignored by it).
    pub unsigned: Vec<String>,
    /// Who the certificate says signed: its SAN (e-mail or URI) or subject.
    /// For keyless bundles a claim only, until the transparency log is checked.
    pub signer: Option<String>,
    /// The OIDC issuer (Fulcio extension) or the certificate's issuer.
    pub issuer: Option<String>,
    /// Subjects of the certificate chain checked, leaf first.
    pub chain: Vec<String>,
    /// Why the status is what it is, when there is more to say.
    pub detail: Option<String>,
    /// Paths the signature says it ignores.
    pub ignored: Vec<String>,
}

/// A credential found in a file of a model by a gitleaks rule. The secret
/// itself is never kept: only where it is, a redacted form (its first
/// characters, then `…`) and the SHA-256 of its bytes, so the same secret can
/// be recognised elsewhere without being stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFinding {
    /// The gitleaks rule id (`huggingface-access-token`, `private-key`, …).
    pub rule: String,
    /// The file, relative to the model directory.
    pub file: String,
    /// What inside the file was read: `text`, `pickle string`, a zip entry
    /// (`archive/data.pkl`), `safetensors header`, `file name`.
    pub within: String,
    /// 1-based line in the text read (text files only).
    pub line: Option<u64>,
    /// Byte offset of the secret in the file (or in the zip entry named by `within`).
    pub offset: Option<u64>,
    pub redacted: String,
    /// Lower-case hex SHA-256 of the secret.
    pub fingerprint: String,
}

/// One fact a weight file's own header states, as read: a GGUF metadata key
/// (`general.name`, `general.base_model.0.repo_url`, …), an ONNX model's
/// `producer_name` or an `opset_import`, a Keras archive's `keras_version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMetadata {
    /// The file, relative to the model directory.
    pub file: String,
    pub key: String,
    pub value: String,
}

/// One file of a model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Path relative to the model directory.
    pub path: String,
    pub size: Option<u64>,
    /// Lower-case hex SHA-256 of the bytes read; `None` when the file is not present.
    pub sha256: Option<String>,
    /// Lower-case hex SHA-512, computed when asked for (BSI TR-03183-2 wants
    /// SHA-512 for deliverables; it costs a second pass of hashing time).
    pub sha512: Option<String>,
    /// safetensors, pickle, torch-zip, torchscript, onnx, gguf, keras,
    /// numpy, config, tokenizer, other.
    pub format: String,
    /// Digests published elsewhere: (source, sha256).
    pub references: Vec<(String, String)>,
    /// `verified`, `mismatch`, `no reference`, or `not present` (only a published digest).
    pub integrity: String,
    /// What loading the file would import and run, never executed: the
    /// opcode scan of pickle data (a pickle, a torch zip, a NumPy object
    /// array); for a Keras archive the objects its config deserialises
    /// (`Lambda` dangerous, custom objects unknown); for ONNX the operators
    /// its graph uses (custom-operator domains unknown).
    pub pickle: Option<PickleReport>,
    /// Tensor count from the header (safetensors, GGUF), or an ONNX graph's
    /// initializers.
    pub tensors: Option<u64>,
    /// Problems reading the file (bad header, too large, …).
    pub problems: Vec<String>,
}

/// What a pickle stream would import and call if it were loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickleReport {
    /// `module.name` of every GLOBAL/STACK_GLOBAL/INST, in order, unique.
    pub imports: Vec<String>,
    /// Imports known to run code or reach the system when loaded (`os.system`,
    /// `builtins.eval`, `subprocess.Popen`, …): the file must not be loaded.
    pub dangerous_imports: Vec<String>,
    /// Imports neither on the allow-list of what checkpoints need nor known to
    /// be dangerous: a person has to look.
    pub unknown_imports: Vec<String>,
    /// Pickle streams scanned (a torch zip holds one per `*.pkl` entry).
    pub streams: u64,
    pub error: Option<String>,
}

impl Artifact {
    /// Compares the computed digest with every published one.
    pub fn judge(&mut self) {
        self.integrity = match (&self.sha256, self.references.is_empty()) {
            (None, false) => "not present".into(),
            (None, true) => "not hashed".into(),
            (Some(_), true) => "no reference".into(),
            (Some(own), false) => {
                if self
                    .references
                    .iter()
                    .all(|(_, d)| d.eq_ignore_ascii_case(own))
                {
                    "verified".into()
                } else {
                    "mismatch".into()
                }
            }
        };
    }
}
