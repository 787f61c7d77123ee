//! What is wrong with a described model: its files (hashes, presence,
//! pickle scans, signatures), secrets found in it, and whether approvals
//! cover the digests now described. Read by `query models`, the gate and
//! the overview through [`crate::models`].

use aibomdb_graph::{Artifact, ModelInfo};
use aibomdb_store::Approval;

use crate::models::{ApprovalState, Finding, is_weight};

fn finding(kind: &'static str, path: Option<&str>, message: String) -> Finding {
    Finding {
        kind,
        path: path.map(str::to_string),
        message,
    }
}

pub(crate) fn findings(info: &ModelInfo, secrets: &[aibomdb_graph::SecretFinding]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in secrets {
        let place = match (s.line, s.offset) {
            (Some(line), _) => format!("line {line}"),
            (None, Some(offset)) => format!("byte {offset}"),
            (None, None) => String::new(),
        };
        let within = if s.within == "text" {
            String::new()
        } else {
            format!(" ({})", s.within)
        };
        out.push(finding(
            "secret",
            Some(&s.file),
            format!(
                "{}{}{within}: {} {} (sha256:{}); rotate it and remove it from the file",
                s.file,
                if place.is_empty() {
                    String::new()
                } else {
                    format!(" {place}")
                },
                s.rule,
                s.redacted,
                s.fingerprint
            ),
        ));
    }
    for a in &info.artifacts {
        let at = Some(a.path.as_str());
        match a.integrity.as_str() {
            "mismatch" => {
                for (source, digest) in &a.references {
                    if Some(digest) != a.sha256.as_ref() {
                        out.push(finding(
                            "hash-mismatch",
                            at,
                            format!(
                                "{}: SHA-256 {} differs from {} in {source}",
                                a.path,
                                a.sha256.as_deref().unwrap_or("?"),
                                digest
                            ),
                        ));
                    }
                }
            }
            "no reference" if is_weight(&a.format) => out.push(finding(
                "no-reference",
                at,
                format!("{}: no published digest to check it against", a.path),
            )),
            "not present" if is_weight(&a.format) => out.push(finding(
                "not-present",
                at,
                format!("{}: only a published digest; the file is not here", a.path),
            )),
            _ => {}
        }
        if let Some(p) = &a.pickle {
            // The same report for every format whose loading can run code:
            // what loading would import, and what of it runs code or needs a look.
            let (what, unknown_why) = match a.format.as_str() {
                "keras" => (
                    "Keras config deserialises",
                    "not shipped with Keras: custom code, review before loading",
                ),
                "onnx" => (
                    "ONNX graph uses",
                    "custom-operator domain: needs a native operator library, review before loading",
                ),
                "numpy" => (
                    "object array's pickle imports",
                    "not on the allow-list: review before loading",
                ),
                _ => (
                    "pickle imports",
                    "not on the allow-list: review before loading",
                ),
            };
            if !p.dangerous_imports.is_empty() {
                out.push(finding(
                    "pickle-dangerous",
                    at,
                    format!(
                        "{}: {what} {} (runs on load)",
                        a.path,
                        p.dangerous_imports.join(", ")
                    ),
                ));
            }
            if !p.unknown_imports.is_empty() {
                out.push(finding(
                    "pickle-unknown",
                    at,
                    format!(
                        "{}: {what} {} ({unknown_why})",
                        a.path,
                        p.unknown_imports.join(", ")
                    ),
                ));
            }
            if let Some(e) = &p.error {
                out.push(finding(
                    "pickle-error",
                    at,
                    format!("{}: pickle not fully scanned: {e}", a.path),
                ));
            }
        }
        for problem in &a.problems {
            out.push(finding(
                "file-problem",
                at,
                format!("{}: {problem}", a.path),
            ));
        }
    }
    let has_weights = info
        .artifacts
        .iter()
        .any(|a| is_weight(&a.format) && a.sha256.is_some());
    match &info.signing {
        None if has_weights => out.push(finding(
            "unsigned",
            None,
            "unsigned: no OpenSSF model-signing bundle (model.sig)".into(),
        )),
        None => {}
        Some(s) => {
            if s.status != "verified" {
                let detail = s
                    .detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                out.push(finding(
                    "signature",
                    Some("model.sig"),
                    format!("model.sig ({} signature): {}{detail}", s.method, s.status),
                ));
            }
            for f in &s.differ {
                out.push(finding(
                    "signature-mismatch",
                    Some(f),
                    format!("{f}: differs from its signed digest"),
                ));
            }
            for f in &s.missing {
                out.push(finding(
                    "signature-mismatch",
                    Some(f),
                    format!("{f}: signed but not present"),
                ));
            }
            for f in &s.unsigned {
                out.push(finding(
                    "unsigned",
                    Some(f),
                    format!("{f}: present but not covered by model.sig"),
                ));
            }
        }
    }
    out
}

/// The files an approval must cover: the weights, or every hashed file when
/// the model has no weights here.
fn approval_scope(info: &ModelInfo) -> Vec<&Artifact> {
    let hashed: Vec<&Artifact> = info
        .artifacts
        .iter()
        .filter(|a| a.sha256.is_some())
        .collect();
    let weights: Vec<&Artifact> = hashed
        .iter()
        .copied()
        .filter(|a| is_weight(&a.format))
        .collect();
    if weights.is_empty() { hashed } else { weights }
}

pub(crate) fn approval_state(info: &ModelInfo, approvals: &[Approval]) -> ApprovalState {
    let mut matched = Vec::new();
    let mut unapproved = Vec::new();
    for a in approval_scope(info) {
        match approvals
            .iter()
            .find(|x| a.sha256.as_deref() == Some(x.sha256.as_str()))
        {
            Some(x) => matched.push(x.clone()),
            None => unapproved.push(a.path.clone()),
        }
    }
    let state = if matched.is_empty() {
        "unapproved"
    } else if unapproved.is_empty() {
        "approved"
    } else {
        "partially approved"
    };
    ApprovalState {
        state,
        approvals: matched,
        unapproved,
    }
}

/// A model that was approved but whose files are no longer the approved
/// bytes: the drift is a finding. (A model never approved is only
/// `unapproved`, which `--unapproved` selects.)
pub(crate) fn approval_findings(info: &ModelInfo, approvals: &[Approval]) -> Vec<Finding> {
    if approvals.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for a in approval_scope(info) {
        let own = a.sha256.as_deref().unwrap_or("");
        if approvals.iter().any(|x| x.sha256 == own) {
            continue;
        }
        let message = match approvals
            .iter()
            .find(|x| x.path.as_deref() == Some(a.path.as_str()))
        {
            Some(x) => format!(
                "{}: SHA-256 {own} is not the approved {} (approved by {})",
                a.path, x.sha256, x.by
            ),
            None => format!("{}: not approved (other files of this model are)", a.path),
        };
        out.push(finding("unapproved", Some(&a.path), message));
    }
    out
}
