//! OpenVEX v0.2.0: one statement per (advisory, package) match of the
//! deployment, with its status.

use aibomdb_graph::VexStatus;
use serde_json::{Value, json};

use crate::Options;
use crate::inventory::Inventory;
use crate::vex_map::{openvex_justification, status_of};

pub(crate) fn document(
    inv: &Inventory,
    matches: &[aibomdb_osv::MatchRow],
    opts: &Options,
) -> Value {
    let statements: Vec<Value> = matches
        .iter()
        .map(|m| {
            let status = status_of(m);
            let mut s = json!({
                "vulnerability": {"name": m.advisory},
                "products": [{"@id": m.package}],
                "status": status.as_str(),
                "timestamp": m.vex.as_ref().and_then(|v| v.timestamp.clone()).unwrap_or_else(|| opts.timestamp.clone()),
            });
            if !m.aliases.is_empty() {
                s["vulnerability"]["aliases"] = json!(m.aliases);
            }
            let mut notes = Vec::new();
            if let Some(v) = &m.vex {
                match v.justification.as_deref().and_then(openvex_justification) {
                    Some(j) if status == VexStatus::NotAffected => s["justification"] = json!(j),
                    _ => {}
                }
                if let Some(d) = &v.detail {
                    s["impact_statement"] = json!(d);
                }
                notes.push(format!("from {} ({})", v.document_path, v.location));
            }
            match status {
                // OpenVEX requires one of these for not_affected …
                VexStatus::NotAffected
                    if s.get("justification").is_none() && s.get("impact_statement").is_none() =>
                {
                    s["impact_statement"] = json!(format!(
                        "stated not affected ({})",
                        m.vex.as_ref().map_or("", |v| v.state.as_str())
                    ));
                }
                // … and an action statement for affected.
                VexStatus::Affected => {
                    s["action_statement"] = json!(if m.fixed.is_empty() {
                        "No fixed version is known: mitigate or remove the package".to_string()
                    } else {
                        format!("Upgrade to {}", m.fixed.join(" or "))
                    });
                }
                _ => {}
            }
            if m.vex.is_none() && status == VexStatus::UnderInvestigation {
                notes.push(format!(
                    "version {} could not be evaluated: {}",
                    m.version.as_deref().unwrap_or("?"),
                    m.detail.as_deref().unwrap_or(&m.status)
                ));
            }
            if !notes.is_empty() {
                s["status_notes"] = json!(notes.join("; "));
            }
            s
        })
        .collect();
    let mut doc = json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("{}/openvex", inv.serial),
        "author": opts.author.clone().unwrap_or_else(|| "aibomdb".into()),
        "role": "Document Creator",
        "timestamp": opts.timestamp,
        "version": 1,
        "tooling": format!("aibomdb {}", env!("CARGO_PKG_VERSION")),
    });
    doc["statements"] = Value::Array(statements);
    doc
}
