//! The gate's verdict for machines: SARIF 2.1.0 for code-scanning
//! dashboards, JUnit XML for CI test reports. (JSON is the report itself.)

use serde_json::{Value, json};

use crate::{Enforcement, GateReport, Outcome, Violation};

fn path_text(v: &Violation) -> String {
    v.path()
        .iter()
        .map(|s| s.id.as_str())
        .collect::<Vec<_>>()
        .join(" → ")
}

/// One line per violation: what, why, and along which path.
pub fn violation_text(v: &Violation) -> String {
    let path = path_text(v);
    if path.is_empty() {
        format!("{}: {}", v.subject(), v.message())
    } else {
        format!("{}: {} (path: {path})", v.subject(), v.message())
    }
}

const RULES: [(&str, &str); 7] = [
    (
        "vulnerabilities",
        "Open advisory matches at or above the policy's severity",
    ),
    (
        "pinning",
        "Models by commit revision, images by digest, Python packages by version and hash",
    ),
    (
        "models",
        "Model artifacts signed, approved, free of dangerous pickles, from allowed bases and licences",
    ),
    (
        "licenses",
        "Declared licences against the allow and deny lists",
    ),
    ("evidence", "BSI TR-03183-2 required fields present"),
    (
        "freshness",
        "Pinned releases no older than the policy's limit",
    ),
    (
        "secrets",
        "No credential (gitleaks rules) in any file of the deployment's models",
    ),
];

/// The rules that produced a verdict, built-ins described, custom rules by
/// their expression (from their summary).
fn rule_descriptors(report: &GateReport) -> Vec<Value> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for r in report.deployments.iter().flat_map(|d| &d.rules) {
        if seen.contains(&r.rule.as_str()) {
            continue;
        }
        seen.push(&r.rule);
        let text = RULES
            .iter()
            .find(|(id, _)| *id == r.rule)
            .map(|(_, t)| (*t).to_string())
            .unwrap_or_else(|| {
                r.summary
                    .split(" (policy line")
                    .next()
                    .unwrap_or_default()
                    .to_string()
            });
        out.push(json!({"id": r.rule, "shortDescription": {"text": text}}));
    }
    out
}

pub fn sarif(report: &GateReport) -> Value {
    let mut results = Vec::new();
    for d in &report.deployments {
        for r in &d.rules {
            for v in &r.violations {
                let mut result = json!({
                    "ruleId": r.rule,
                    "level": if v.level == Enforcement::Deny { "error" } else { "warning" },
                    "message": {"text": format!("{}: {}", d.deployment, violation_text(v))},
                    "properties": {"deployment": d.deployment, "subject": v.subject()},
                });
                let logical = json!([{"name": d.deployment, "kind": "module"}]);
                result["locations"] = match &v.document {
                    Some(doc) => json!([{
                        "physicalLocation": {"artifactLocation": {"uri": doc}},
                        "logicalLocations": logical,
                    }]),
                    None => json!([{"logicalLocations": logical}]),
                };
                results.push(result);
            }
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "aibomdb gate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/aibomdb/aibomdb",
                "rules": rule_descriptors(report),
            }},
            "invocations": [{
                "executionSuccessful": true,
                "properties": {"policy": report.policy, "at": report.at},
            }],
            "results": results,
        }],
    })
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// One test suite per deployment, one test case per rule; a failing rule is a
/// `<failure>`, a warning is written to the case's `<system-out>`.
pub fn junit(report: &GateReport) -> String {
    let cases: usize = report.deployments.iter().map(|d| d.rules.len()).sum();
    let failures: usize = report
        .deployments
        .iter()
        .flat_map(|d| &d.rules)
        .filter(|r| r.outcome == Outcome::Fail)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{cases}\" failures=\"{failures}\" errors=\"0\">\n",
        xml(&format!("aibomdb gate: {}", report.policy))
    ));
    for d in &report.deployments {
        let failed = d
            .rules
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" timestamp=\"{}\">\n",
            xml(&d.deployment),
            d.rules.len(),
            xml(report.at.trim_end_matches('Z')),
        ));
        for r in &d.rules {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\">\n",
                xml(&d.deployment),
                xml(&r.rule)
            ));
            let lines: Vec<String> = r
                .violations
                .iter()
                .map(|v| {
                    format!(
                        "[{}] {}",
                        if v.level == Enforcement::Deny {
                            "deny"
                        } else {
                            "warn"
                        },
                        violation_text(v)
                    )
                })
                .collect();
            match r.outcome {
                Outcome::Fail => out.push_str(&format!(
                    "      <failure message=\"{}\" type=\"deny\">{}</failure>\n",
                    xml(&format!(
                        "{}: {} violations; {}",
                        r.rule,
                        r.violations.len(),
                        r.summary
                    )),
                    xml(&lines.join("\n"))
                )),
                Outcome::Warn => out.push_str(&format!(
                    "      <system-out>{}</system-out>\n",
                    xml(&lines.join("\n"))
                )),
                Outcome::Pass => {}
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
