//! A target's filter: a CEL expression over the notification, for example
//! `severity in ["critical", "high"] || kev` or
//! `ecosystem == "PyPI" && deployment.startsWith("prod-")`.

use std::sync::Arc;

use crate::Notification;

/// The variables a filter may use.
pub const VARIABLES: &[&str] = &[
    "kind",
    "cause",
    "deployment",
    "advisory",
    "aliases",
    "package",
    "ecosystem",
    "severity",
    "score",
    "kev",
    "epss",
];

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(String);

#[derive(Clone)]
pub struct Filter {
    program: Arc<cel::Program>,
}

impl Filter {
    /// Compiles `expr`; an unknown variable is refused here, not at delivery.
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        let program = cel::Program::compile(expr).map_err(|e| FilterError(e.to_string()))?;
        let references = program.references();
        let mut unknown: Vec<&str> = references
            .variables()
            .into_iter()
            .filter(|v| !VARIABLES.contains(v))
            .collect();
        // A macro's loop variable (`a` in `aliases.exists(a, …)`) is a
        // reference too: allow single names bound by a macro.
        unknown.retain(|v| !expr.contains(&format!("({v},")) && !expr.contains(&format!("({v} ,")));
        if !unknown.is_empty() {
            return Err(FilterError(format!(
                "unknown variable {}; a filter may use {}",
                unknown.join(", "),
                VARIABLES.join(", ")
            )));
        }
        Ok(Filter {
            program: Arc::new(program),
        })
    }

    /// Whether the notification passes. An expression that does not give
    /// true or false is an error, never a silent pass or drop.
    pub fn matches(&self, n: &Notification) -> Result<bool, String> {
        let mut ctx = cel::Context::default();
        ctx.add_variable_from_value("kind", n.kind.clone());
        ctx.add_variable_from_value("cause", n.cause.clone());
        ctx.add_variable_from_value("deployment", n.deployment.clone());
        ctx.add_variable_from_value("advisory", n.advisory.clone());
        ctx.add_variable_from_value("aliases", n.aliases.clone());
        ctx.add_variable_from_value("package", n.package.clone());
        ctx.add_variable_from_value("ecosystem", n.ecosystem.clone());
        ctx.add_variable_from_value("severity", n.severity.clone());
        // No vector: 0.0, so that `score >= 7.0` is false rather than an error.
        ctx.add_variable_from_value("score", n.score.unwrap_or(0.0));
        ctx.add_variable_from_value("kev", n.kev);
        ctx.add_variable_from_value("epss", n.epss);
        match self.program.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("the filter gave {other:?}, not true or false")),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(severity: &str, kev: bool) -> Notification {
        Notification {
            id: 1,
            kind: "opened".into(),
            cause: "sync".into(),
            at: 0,
            deployment: "prod-api".into(),
            advisory: "PYSEC-2023-175".into(),
            aliases: vec!["CVE-2023-44271".into()],
            summary: None,
            package: "pkg:pypi/pillow@10.0.0".into(),
            ecosystem: "PyPI".into(),
            severity: severity.into(),
            score: Some(7.5),
            kev,
            epss: 0.42,
        }
    }

    #[test]
    fn filters_on_severity_kev_deployment_and_ecosystem() {
        let f = Filter::parse(r#"severity in ["critical", "high"] || kev"#).unwrap();
        assert!(f.matches(&sample("high", false)).unwrap());
        assert!(!f.matches(&sample("low", false)).unwrap());
        assert!(f.matches(&sample("low", true)).unwrap());
        let f = Filter::parse(
            r#"ecosystem == "PyPI" && deployment.startsWith("prod-") && score >= 7.0"#,
        )
        .unwrap();
        assert!(f.matches(&sample("high", false)).unwrap());
        let f = Filter::parse(r#"aliases.exists(a, a == "CVE-2023-44271")"#).unwrap();
        assert!(f.matches(&sample("high", false)).unwrap());
        let f = Filter::parse("epss >= 0.4").unwrap();
        assert!(f.matches(&sample("low", false)).unwrap());
        let f = Filter::parse("epss >= 0.5").unwrap();
        assert!(!f.matches(&sample("low", false)).unwrap());
    }

    #[test]
    fn refuses_unknown_variables_and_non_boolean_results() {
        assert!(Filter::parse("sevirity == \"high\"").is_err());
        assert!(Filter::parse("severity ==").is_err());
        let f = Filter::parse("score").unwrap();
        assert!(f.matches(&sample("high", false)).is_err());
    }
}
