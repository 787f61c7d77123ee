//! OpenVEX JSON (v0.0.1 and v0.2.0) → VEX statements.
//!
//! There is no maintained OpenVEX crate; the documents are small, so this
//! reads them through private wire structs that accept both spec versions
//! (v0.0.1 wrote `vulnerability` and `products` as plain strings).

use aibomdb_graph::{
    DocumentFacts, DocumentFormat, ImportError, Tool, VexStatement, VexStatus, VexTarget, key_for,
};

mod wire {
    use aibomdb_graph::json::null_default;
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(crate) struct Document {
        #[serde(rename = "@context")]
        pub(crate) context: Option<String>,
        #[serde(rename = "@id")]
        pub(crate) id: Option<String>,
        pub(crate) author: Option<String>,
        pub(crate) timestamp: Option<String>,
        pub(crate) tooling: Option<String>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) statements: Vec<Statement>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Statement {
        pub(crate) vulnerability: Option<Vulnerability>,
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) products: Vec<Product>,
        /// v0.0.1: subcomponents beside the products.
        #[serde(default, deserialize_with = "null_default")]
        pub(crate) subcomponents: Vec<Product>,
        pub(crate) status: Option<String>,
        pub(crate) justification: Option<String>,
        pub(crate) impact_statement: Option<String>,
        pub(crate) status_notes: Option<String>,
        pub(crate) action_statement: Option<String>,
        pub(crate) timestamp: Option<String>,
        pub(crate) last_updated: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(crate) enum Vulnerability {
        Id(String),
        Object {
            #[serde(rename = "@id")]
            id: Option<String>,
            name: Option<String>,
            #[serde(default, deserialize_with = "null_default")]
            aliases: Vec<String>,
        },
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(crate) enum Product {
        Id(String),
        Object {
            #[serde(rename = "@id")]
            id: Option<String>,
            identifiers: Option<Identifiers>,
            #[serde(default, deserialize_with = "null_default")]
            subcomponents: Vec<Product>,
        },
    }

    #[derive(Deserialize)]
    pub(crate) struct Identifiers {
        pub(crate) purl: Option<String>,
    }
}

/// True when the JSON looks like an OpenVEX document.
pub fn sniff(head: &str) -> bool {
    use aibomdb_graph::sniff::contains;
    contains(head, "\"@context\"") && contains(head, "openvex.dev/ns")
}

pub fn import(bytes: &[u8]) -> Result<DocumentFacts, ImportError> {
    let doc: wire::Document = aibomdb_graph::json::parse(bytes)?;
    let context = doc.context.unwrap_or_default();
    if !context.contains("openvex.dev/ns") {
        return Err(ImportError::WrongFormat {
            expected: "OpenVEX",
            message: format!("`@context` is {context:?}"),
        });
    }
    let version = context
        .rsplit('/')
        .next()
        .filter(|v| v.starts_with('v'))
        .unwrap_or("v0.0.1")
        .to_string();
    let mut facts = DocumentFacts::new(DocumentFormat::OpenVex, version);
    facts.serial = doc.id;
    facts.created = doc.timestamp.clone();
    if let Some(name) = doc.tooling.filter(|t| !t.is_empty()) {
        facts.tools.push(Tool {
            vendor: None,
            name,
            version: None,
        });
    }
    if let Some(author) = doc.author.filter(|a| !a.is_empty()) {
        facts.tools.push(Tool {
            vendor: Some(author),
            name: "openvex".into(),
            version: None,
        });
    }
    for (i, s) in doc.statements.into_iter().enumerate() {
        let location = format!("statements[{i}]");
        let (id, aliases) = match s.vulnerability {
            Some(wire::Vulnerability::Id(id)) => (Some(id), Vec::new()),
            Some(wire::Vulnerability::Object { id, name, aliases }) => {
                // `name` is the id (CVE-…); `@id` is often an IRI to it.
                let name = name.or_else(|| id.map(|i| last_segment(&i)));
                (name, aliases)
            }
            None => (None, Vec::new()),
        };
        let Some(id) = id.filter(|i| !i.trim().is_empty()) else {
            return Err(ImportError::field(
                format!("{location}.vulnerability"),
                "missing",
            ));
        };
        let raw_status = s.status.unwrap_or_default();
        let Some(status) = VexStatus::from_openvex(&raw_status) else {
            return Err(ImportError::field(
                format!("{location}.status"),
                format!(
                    "{raw_status:?} is not one of not_affected, affected, fixed, under_investigation"
                ),
            ));
        };
        let mut targets = Vec::new();
        for product in &s.products {
            let (pid, subs) = product_parts(product);
            let subs: Vec<_> = subs.iter().chain(&s.subcomponents).collect();
            if subs.is_empty() {
                targets.push(target(pid));
            } else {
                targets.extend(subs.into_iter().map(|p| target(product_parts(p).0)));
            }
        }
        if targets.is_empty() {
            return Err(ImportError::field(
                format!("{location}.products"),
                "no products",
            ));
        }
        facts.vex.push(VexStatement {
            vulnerability: id,
            aliases,
            targets,
            status,
            state: raw_status,
            justification: s.justification,
            detail: s.impact_statement.or(s.status_notes),
            response: s.action_statement.into_iter().collect(),
            timestamp: s.last_updated.or(s.timestamp).or(doc.timestamp.clone()),
            location,
        });
    }
    Ok(facts.finish())
}

/// The product's purl (identifiers.purl, else `@id`) and its subcomponents.
fn product_parts(p: &wire::Product) -> (Option<&str>, &[wire::Product]) {
    match p {
        wire::Product::Id(id) => (Some(id), &[]),
        wire::Product::Object {
            id,
            identifiers,
            subcomponents,
        } => (
            identifiers
                .as_ref()
                .and_then(|i| i.purl.as_deref())
                .or(id.as_deref()),
            subcomponents,
        ),
    }
}

fn target(id: Option<&str>) -> VexTarget {
    let Some(id) = id else {
        return VexTarget::Unresolved {
            reference: String::new(),
            reason: "product without `@id` or purl".into(),
        };
    };
    match key_for(Some(id), "", None) {
        (Some(key), false, _) => VexTarget::Package {
            key: key.as_str().to_string(),
            serial: None,
        },
        _ => VexTarget::Unresolved {
            reference: id.to_string(),
            reason: "product id is not a purl".into(),
        },
    }
}

fn last_segment(iri: &str) -> String {
    iri.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(iri)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spec_versions() {
        let old = import(br#"{"@context":"https://openvex.dev/ns","statements":[{"vulnerability":"CVE-2023-1","products":["pkg:pypi/pip@22.2.2"],"status":"fixed"}]}"#).unwrap();
        assert_eq!(old.vex[0].vulnerability, "CVE-2023-1");
        assert_eq!(old.vex[0].status, VexStatus::Fixed);
        let new = import(br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"@id":"https://nvd.nist.gov/vuln/detail/CVE-2023-2"},"products":[{"@id":"pkg:oci/app","subcomponents":[{"@id":"pkg:pypi/Pip@1"}]}],"status":"not_affected","justification":"component_not_present"}]}"#).unwrap();
        assert_eq!(new.vex[0].vulnerability, "CVE-2023-2");
        assert_eq!(
            new.vex[0].targets,
            vec![VexTarget::Package {
                key: "pkg:pypi/pip@1".into(),
                serial: None
            }]
        );
    }

    #[test]
    fn bad_status_names_the_field() {
        let err = import(br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"products":[{"@id":"pkg:pypi/a@1"}],"status":"fine"}]}"#).unwrap_err();
        assert!(err.to_string().contains("statements[0].status"), "{err}");
    }
}
