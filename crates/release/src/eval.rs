//! Metrics from what evaluation tools write: lm-evaluation-harness
//! `results_*.json` (`results.<task>.<metric>,<filter>`, with the model and
//! revision it evaluated under `config`), or a plain JSON of metrics (numbers
//! at any depth, named by their key path, as `evaluate.save` or a Trainer's
//! `eval_results.json` write them).

use aibomdb_store::{EvalEvidence, Metric};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ReleaseError;

/// Largest evaluation file a release keeps (its bytes are stored with it).
pub const MAX_EVAL_BYTES: usize = 16 << 20;

/// Reads one evaluation file: its metrics, what it says it evaluated, and its
/// SHA-256. A file that is neither form, or has no metric, is refused.
pub fn read(file_name: &str, bytes: &[u8]) -> Result<EvalEvidence, ReleaseError> {
    let bad = |message: String| ReleaseError::BadInput {
        what: file_name.to_string(),
        message,
    };
    if bytes.len() > MAX_EVAL_BYTES {
        return Err(bad(format!(
            "{} bytes; an evaluation file kept with a release is at most {MAX_EVAL_BYTES}",
            bytes.len()
        )));
    }
    let json: Value = serde_json::from_slice(bytes).map_err(|e| {
        bad(format!(
            "not JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(top) = &json else {
        return Err(bad("the top level is not a JSON object".into()));
    };
    let (kind, metrics, about) = match top.get("results") {
        Some(Value::Object(results))
            if top.contains_key("config") || top.contains_key("versions") =>
        {
            let mut metrics = Vec::new();
            for (task, values) in results {
                let Value::Object(values) = values else {
                    return Err(bad(format!("results.{task}: not an object")));
                };
                for (key, value) in values {
                    // `acc,none` is the metric `acc` under the filter `none`;
                    // the standard errors are kept as metrics of their own.
                    if let Some(v) = value.as_f64() {
                        let metric = key.strip_suffix(",none").unwrap_or(key).to_string();
                        metrics.push(Metric {
                            task: task.clone(),
                            metric,
                            value: v,
                        });
                    }
                }
            }
            let config = top.get("config");
            let text = |v: Option<&Value>| {
                v.and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            };
            let about: Vec<(String, String)> = [
                ("model", text(config.and_then(|c| c.get("model")))),
                ("model_args", text(config.and_then(|c| c.get("model_args")))),
                (
                    "model_revision",
                    text(config.and_then(|c| c.get("model_revision"))),
                ),
                ("model_sha", text(config.and_then(|c| c.get("model_sha")))),
                ("harness_git_hash", text(top.get("git_hash"))),
                ("date", text(top.get("date"))),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect();
            ("lm-evaluation-harness", metrics, about)
        }
        _ => {
            let mut metrics = Vec::new();
            flatten("", &json, &mut metrics);
            ("json", metrics, Vec::new())
        }
    };
    if metrics.is_empty() {
        return Err(bad(
            "no metric found (neither lm-evaluation-harness `results` nor numbers in a JSON object)"
                .into(),
        ));
    }
    Ok(EvalEvidence {
        file_name: file_name.to_string(),
        sha256: hex(&Sha256::digest(bytes)),
        size: bytes.len() as u64,
        kind: kind.to_string(),
        metrics,
        about,
    })
}

/// Numbers at any depth of a plain JSON, named by their key path.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<Metric>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                let (task, metric) = match prefix.rsplit_once('.') {
                    Some((t, m)) => (t.to_string(), m.to_string()),
                    None => (String::new(), prefix.to_string()),
                };
                out.push(Metric {
                    task,
                    metric,
                    value: x,
                });
            }
        }
        _ => {}
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
