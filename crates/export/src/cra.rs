//! Completeness against BSI TR-03183-2 v2.1.0 (the German technical
//! guideline for EU Cyber Resilience Act SBOMs), field by field, measured on
//! the CycloneDX 1.6 document the export writes — so the report says what the
//! evidence handed over actually contains. Field numbers and mappings follow
//! the §8.2 tables as summarised in `../shared/corpus/formats/bsi/`.

use serde::Serialize;
use serde_json::Value;

/// One field of the guideline and how many components carry it.
#[derive(Debug, Clone, Serialize)]
pub struct FieldResult {
    /// The number in the guideline's summary table (1–20).
    pub number: u8,
    pub field: &'static str,
    /// `sbom` or `component`.
    pub level: &'static str,
    /// `required`, `additional` or `optional`.
    pub category: &'static str,
    pub present: usize,
    pub total: usize,
    /// bom-refs of the components that lack it: all of them, except from
    /// `cra_report_listed`, which names as many as its caller asks for.
    pub missing: Vec<String>,
    /// Where the field is looked for in CycloneDX 1.6.
    pub mapping: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CraReport {
    pub deployment: String,
    pub standard: &'static str,
    pub components: usize,
    pub fields: Vec<FieldResult>,
    /// True when a required field is missing anywhere: a release gate fails.
    pub required_missing: bool,
}

fn props<'a>(c: &'a Value, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    let name = name.to_string();
    c["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |p| p["name"] == name.as_str())
        .filter_map(|p| p["value"].as_str())
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn has_contact(m: &Value) -> bool {
    arr(&m["url"])
        .iter()
        .any(|u| u.as_str().is_some_and(|u| !u.is_empty()))
        || arr(&m["contact"])
            .iter()
            .any(|c| c["email"].as_str().is_some_and(|e| e.contains('@')))
}

fn ext_refs<'a>(c: &'a Value, types: &'a [&str]) -> impl Iterator<Item = &'a Value> + 'a {
    arr(&c["externalReferences"])
        .iter()
        .filter(move |r| r["type"].as_str().is_some_and(|t| types.contains(&t)))
}

fn licence_with(c: &Value, ack: &str) -> bool {
    arr(&c["licenses"])
        .iter()
        .any(|l| l["acknowledgement"] == ack || l["license"]["acknowledgement"] == ack)
}

/// Every component, nested ones included.
fn all_components(bom: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = arr(&bom["components"]).iter().rev().collect();
    while let Some(c) = stack.pop() {
        out.push(c);
        stack.extend(arr(&c["components"]).iter().rev());
    }
    out
}

/// A component and every component nested in it, in the order
/// [`all_components`] gives them.
pub(crate) fn nested(component: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = vec![component];
    while let Some(c) = stack.pop() {
        out.push(c);
        stack.extend(arr(&c["components"]).iter().rev());
    }
    out
}

/// The component fields: (number, name, category, CycloneDX 1.6 mapping).
const COMPONENT_FIELDS: [(u8, &str, &str, &str); 17] = [
    (
        3,
        "Component creator",
        "required",
        "components[].manufacturer.url | .contact[].email",
    ),
    (4, "Component name", "required", "components[].name"),
    (5, "Component version", "required", "components[].version"),
    (
        6,
        "Filename of the component",
        "required",
        "properties bsi:component:filename",
    ),
    (
        7,
        "Dependencies, completeness indicated",
        "required",
        "dependencies[].ref + compositions[].aggregate",
    ),
    (
        8,
        "Distribution licences",
        "required",
        "licenses[] with acknowledgement concluded",
    ),
    (
        9,
        "Hash of the deployable component (SHA-512)",
        "required",
        "hashes[] or externalReferences[distribution].hashes[] SHA-512",
    ),
    (
        10,
        "Executable property",
        "required",
        "properties bsi:component:executable",
    ),
    (
        11,
        "Archive property",
        "required",
        "properties bsi:component:archive",
    ),
    (
        12,
        "Structured property",
        "required",
        "properties bsi:component:structured",
    ),
    (
        14,
        "Source code URI",
        "additional",
        "externalReferences[source-distribution|vcs].url",
    ),
    (
        15,
        "URI of the deployable form",
        "additional",
        "externalReferences[distribution].url",
    ),
    (
        16,
        "Other unique identifiers",
        "additional",
        "purl | cpe | swid.tagId",
    ),
    (
        17,
        "Original licences",
        "additional",
        "licenses[] with acknowledgement declared",
    ),
    (
        18,
        "Effective licence",
        "optional",
        "properties bsi:component:effectiveLicence",
    ),
    (
        19,
        "Hash of the source code",
        "optional",
        "externalReferences[source-distribution|vcs].hashes[] SHA-512",
    ),
    (
        20,
        "URL of the security.txt",
        "optional",
        "externalReferences[rfc-9116].url",
    ),
];

/// Whether component `c` carries field `number`; field 7 is what
/// `in_graph` says of its bom-ref (the BOM's dependencies and compositions).
fn has_field(number: u8, c: &Value, in_graph: &dyn Fn(&str) -> bool) -> bool {
    let flag = |name: &str, allowed: &[&str]| {
        let values: Vec<&str> = props(c, name).collect();
        values.len() == 1 && allowed.contains(&values[0])
    };
    match number {
        3 => has_contact(&c["manufacturer"]),
        4 => c["name"].as_str().is_some_and(|n| !n.is_empty()),
        5 => c["version"].as_str().is_some_and(|n| !n.is_empty()) || c["type"] == "file",
        6 => props(c, "bsi:component:filename").count() == 1,
        7 => in_graph(c["bom-ref"].as_str().unwrap_or("")),
        8 => licence_with(c, "concluded"),
        9 => arr(&c["hashes"])
            .iter()
            .chain(ext_refs(c, &["distribution"]).flat_map(|r| arr(&r["hashes"])))
            .any(|h| h["alg"] == "SHA-512"),
        10 => flag(
            "bsi:component:executable",
            &["executable", "non-executable"],
        ),
        11 => flag("bsi:component:archive", &["archive", "no archive"]),
        12 => flag("bsi:component:structured", &["structured", "unstructured"]),
        14 => ext_refs(c, &["source-distribution", "vcs"])
            .next()
            .is_some(),
        15 => ext_refs(c, &["distribution"]).next().is_some(),
        16 => c["purl"].is_string() || c["cpe"].is_string() || c["swid"]["tagId"].is_string(),
        17 => licence_with(c, "declared"),
        18 => props(c, "bsi:component:effectiveLicence").next().is_some(),
        19 => ext_refs(c, &["source-distribution", "vcs"])
            .flat_map(|r| arr(&r["hashes"]))
            .any(|h| h["alg"] == "SHA-512"),
        20 => ext_refs(c, &["rfc-9116"]).next().is_some(),
        _ => false,
    }
}

/// One component as the report counts it: its bom-ref and, bit `n` set, the
/// fields numbered `n` it lacks.
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    pub bom_ref: String,
    pub missing: u32,
}

/// The component fields a report requires, bit `n` for field `n`.
pub(crate) fn required_component_fields() -> u32 {
    COMPONENT_FIELDS
        .iter()
        .filter(|(_, _, category, _)| *category == "required")
        .fold(0, |bits, (number, ..)| bits | 1 << number)
}

/// `c` measured, field 7 as `in_graph` says.
pub(crate) fn measure(c: &Value, in_graph: &dyn Fn(&str) -> bool) -> Measured {
    let mut missing = 0;
    for (number, ..) in COMPONENT_FIELDS {
        if !has_field(number, c, in_graph) {
            missing |= 1 << number;
        }
    }
    Measured {
        bom_ref: c["bom-ref"].as_str().unwrap_or("?").to_string(),
        missing,
    }
}

/// The SBOM-level fields of `bom`: (number, name, category, mapping, present).
pub(crate) fn sbom_fields(
    bom: &Value,
) -> Vec<(u8, &'static str, &'static str, &'static str, bool)> {
    let meta = &bom["metadata"];
    vec![
        (
            1,
            "Creator of the SBOM",
            "required",
            "metadata.manufacturer.url | .contact[].email",
            has_contact(&meta["manufacturer"]),
        ),
        (
            2,
            "Timestamp",
            "required",
            "metadata.timestamp",
            meta["timestamp"].as_str().is_some_and(|t| !t.is_empty()),
        ),
        (
            13,
            "SBOM-URI",
            "additional",
            "serialNumber",
            bom["serialNumber"]
                .as_str()
                .is_some_and(|s| s.starts_with("urn:uuid:")),
        ),
    ]
}

pub(crate) fn report(deployment: &str, bom: &Value) -> CraReport {
    let with_dependencies: std::collections::HashSet<&str> = arr(&bom["dependencies"])
        .iter()
        .filter_map(|d| d["ref"].as_str())
        .collect();
    let in_composition: std::collections::HashSet<&str> = arr(&bom["compositions"])
        .iter()
        .flat_map(|c| arr(&c["dependencies"]).iter().chain(arr(&c["assemblies"])))
        .filter_map(|r| r.as_str())
        .collect();
    let in_graph = |r: &str| with_dependencies.contains(r) && in_composition.contains(r);
    let measured: Vec<Measured> = all_components(bom)
        .into_iter()
        .map(|c| measure(c, &in_graph))
        .collect();
    let measured: Vec<&Measured> = measured.iter().collect();
    assemble(deployment, sbom_fields(bom), &measured, usize::MAX)
}

/// The report from the SBOM-level fields and every component measured, in
/// the BOM's order (nested components after their parent), naming at most
/// `named` of the components that lack each field.
pub(crate) fn assemble(
    deployment: &str,
    sbom: Vec<(u8, &'static str, &'static str, &'static str, bool)>,
    components: &[&Measured],
    named: usize,
) -> CraReport {
    let mut fields = Vec::new();
    for (number, field, category, mapping, ok) in sbom {
        fields.push(FieldResult {
            number,
            field,
            level: "sbom",
            category,
            present: usize::from(ok),
            total: 1,
            missing: if ok {
                vec![]
            } else {
                vec!["(the SBOM)".into()]
            },
            mapping,
        });
    }
    for (number, field, category, mapping) in COMPONENT_FIELDS {
        let lacking = components.iter().filter(|m| m.missing & (1 << number) != 0);
        let absent = lacking.clone().count();
        let missing: Vec<String> = lacking.take(named).map(|m| m.bom_ref.clone()).collect();
        fields.push(FieldResult {
            number,
            field,
            level: "component",
            category,
            present: components.len() - absent,
            total: components.len(),
            missing,
            mapping,
        });
    }
    fields.sort_by_key(|f| f.number);
    let required_missing = fields
        .iter()
        .any(|f| f.category == "required" && f.present < f.total);
    CraReport {
        deployment: deployment.to_string(),
        standard: "BSI TR-03183-2 v2.1.0",
        components: components.len(),
        fields,
        required_missing,
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML page of the report.
pub fn html(r: &CraReport) -> String {
    let mut out = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{standard} — {d}</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}\
         .gap{{color:#a40000}}.ok{{color:#176117}}details{{max-width:60em}}</style></head><body>\
         <h1>{standard}: deployment {d}</h1><p>{n} components. {verdict}</p>\
         <table><tr><th>#</th><th>field</th><th>level</th><th>category</th><th>present</th><th>missing</th><th>CycloneDX 1.6</th></tr>",
        standard = r.standard,
        d = esc(&r.deployment),
        n = r.components,
        verdict = if r.required_missing {
            "<strong class=\"gap\">Required fields are missing.</strong>"
        } else {
            "<strong class=\"ok\">Every required field is present.</strong>"
        },
    );
    for f in &r.fields {
        let missing = if f.missing.is_empty() {
            String::new()
        } else {
            format!(
                "<details><summary class=\"gap\">{}</summary>{}</details>",
                f.missing.len(),
                f.missing
                    .iter()
                    .map(|m| esc(m))
                    .collect::<Vec<_>>()
                    .join("<br>")
            )
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}/{}</td><td>{}</td><td><code>{}</code></td></tr>",
            f.number,
            esc(f.field),
            f.level,
            f.category,
            if f.present == f.total { "ok" } else { "gap" },
            f.present,
            f.total,
            missing,
            esc(f.mapping)
        ));
    }
    out.push_str("</table></body></html>\n");
    out
}
