//! A match's VEX status and how each format spells it. A match with no VEX
//! statement is `affected` (its version is in the advisory's range) unless
//! the version could not be evaluated, which is `under_investigation`.

use aibomdb_graph::VexStatus;
use aibomdb_osv::{Level, MatchRow};
use serde_json::{Value, json};

pub(crate) fn status_of(m: &MatchRow) -> VexStatus {
    match &m.vex {
        Some(v) => v.status,
        None if m.status == "affected" => VexStatus::Affected,
        None => VexStatus::UnderInvestigation,
    }
}

pub(crate) fn severity_name(level: Level) -> &'static str {
    match level {
        Level::Critical => "critical",
        Level::High => "high",
        Level::Medium => "medium",
        Level::Low => "low",
        Level::None => "none",
        Level::Unknown => "unknown",
    }
}

/// OpenVEX justification → CycloneDX `analysis.justification`.
fn cyclonedx_justification(j: &str) -> Option<&'static str> {
    Some(match j {
        "component_not_present" | "vulnerable_code_not_present" | "code_not_present" => {
            "code_not_present"
        }
        "vulnerable_code_not_in_execute_path" | "code_not_reachable" => "code_not_reachable",
        "vulnerable_code_cannot_be_controlled_by_adversary" | "requires_environment" => {
            "requires_environment"
        }
        "inline_mitigations_already_exist" | "protected_by_mitigating_control" => {
            "protected_by_mitigating_control"
        }
        "requires_configuration" => "requires_configuration",
        "requires_dependency" => "requires_dependency",
        "protected_by_compiler" => "protected_by_compiler",
        "protected_at_runtime" => "protected_at_runtime",
        "protected_at_perimeter" => "protected_at_perimeter",
        _ => return None,
    })
}

/// CycloneDX justification → OpenVEX justification.
pub(crate) fn openvex_justification(j: &str) -> Option<&'static str> {
    Some(match j {
        "component_not_present" => "component_not_present",
        "vulnerable_code_not_present" | "code_not_present" => "vulnerable_code_not_present",
        "vulnerable_code_not_in_execute_path" | "code_not_reachable" => {
            "vulnerable_code_not_in_execute_path"
        }
        "vulnerable_code_cannot_be_controlled_by_adversary"
        | "requires_configuration"
        | "requires_dependency"
        | "requires_environment" => "vulnerable_code_cannot_be_controlled_by_adversary",
        "inline_mitigations_already_exist"
        | "protected_by_compiler"
        | "protected_at_runtime"
        | "protected_at_perimeter"
        | "protected_by_mitigating_control" => "inline_mitigations_already_exist",
        _ => return None,
    })
}

const CYCLONEDX_RESPONSES: &[&str] = &[
    "can_not_fix",
    "will_not_fix",
    "update",
    "rollback",
    "workaround_available",
];

pub(crate) fn cyclonedx_analysis(m: &MatchRow, status: VexStatus) -> Value {
    let state = match status {
        VexStatus::NotAffected => "not_affected",
        VexStatus::Fixed => "resolved",
        VexStatus::Affected => "exploitable",
        VexStatus::UnderInvestigation => "in_triage",
    };
    let mut a = json!({"state": state});
    let mut detail = Vec::new();
    if let Some(v) = &m.vex {
        if let Some(j) = &v.justification {
            match cyclonedx_justification(j) {
                Some(cj) if status == VexStatus::NotAffected => a["justification"] = json!(cj),
                _ => detail.push(format!("justification: {j}")),
            }
        }
        if let Some(d) = &v.detail {
            detail.push(d.clone());
        }
        let responses: Vec<&str> = v
            .response
            .iter()
            .map(String::as_str)
            .filter(|r| CYCLONEDX_RESPONSES.contains(r))
            .collect();
        if !responses.is_empty() {
            a["response"] = json!(responses);
        }
        detail.push(format!(
            "VEX statement from {} ({})",
            v.document_path, v.location
        ));
    } else if status == VexStatus::Affected {
        if !m.fixed.is_empty() {
            a["response"] = json!(["update"]);
        }
        detail.push(format!(
            "version {} is in the advisory's affected range (no VEX statement)",
            m.version.as_deref().unwrap_or("?")
        ));
    } else if let Some(d) = &m.detail {
        detail.push(d.clone());
    }
    if !detail.is_empty() {
        a["detail"] = json!(detail.join("; "));
    }
    a
}
