//! Severity from what a record gives: a CVSS v3.x vector (base score
//! computed per the specification here), a CVSS v4.0 vector (base score by
//! the FIRST macro-vector method, from RustSec's `cvss` crate), or a
//! database's own label (GHSA's `database_specific.severity`).

use serde::Serialize;

use crate::record::Advisory;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No score or label the matcher can read: a gate treats it as failing.
    Unknown,
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// The lower-case word (`critical` … `unknown`), as the JSON outputs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::None => "none",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" => Level::None,
            "low" => Level::Low,
            "medium" | "moderate" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    fn of_score(score: f64) -> Level {
        match score {
            s if s >= 9.0 => Level::Critical,
            s if s >= 7.0 => Level::High,
            s if s >= 4.0 => Level::Medium,
            s if s > 0.0 => Level::Low,
            _ => Level::None,
        }
    }
}

/// The advisory's severity: the highest CVSS v3 or v4 base score among its
/// vectors (a gate errs towards the worse reading), else a database label,
/// else unknown. Returns the level and the score if any.
pub fn severity(advisory: &Advisory) -> (Level, Option<f64>) {
    if let Some((score, _)) = best_cvss(advisory) {
        return (Level::of_score(score), Some(score));
    }
    let label = advisory
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str())
        .and_then(Level::parse);
    (label.unwrap_or(Level::Unknown), None)
}

/// Why `severity` says `unknown` for this record (`None` when it does not):
/// what a reader needs to decide whether to look the advisory up by hand.
pub fn unknown_reason(advisory: &Advisory) -> Option<String> {
    if severity(advisory).0 != Level::Unknown {
        return None;
    }
    let stated: Vec<&str> = advisory
        .severity
        .iter()
        .chain(advisory.affected.iter().flat_map(|a| a.severity.iter()))
        .map(|s| s.ty.as_str())
        .collect();
    let label = advisory
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str());
    Some(match (stated.is_empty(), label) {
        (true, None) => "the record states no CVSS vector and no severity label".to_string(),
        (true, Some(l)) => format!("the record's severity label {l:?} is not a known level"),
        (false, _) => {
            let mut kinds = stated;
            kinds.sort_unstable();
            kinds.dedup();
            format!(
                "the record's severity ({}) has no CVSS v3 or v4 vector that can be scored",
                kinds.join(", ")
            )
        }
    })
}

/// The highest CVSS base score among the advisory's vectors, with the CVSS
/// version that gave it (`3.0`, `3.1`, `4.0`).
pub fn best_cvss(advisory: &Advisory) -> Option<(f64, &'static str)> {
    advisory
        .severity
        .iter()
        .chain(advisory.affected.iter().flat_map(|a| a.severity.iter()))
        .filter_map(|s| {
            let v = s.score.trim_start();
            match s.ty.as_str() {
                t if t.starts_with("CVSS_V3") => cvss3_base_score(v).map(|x| {
                    (
                        x,
                        if v.starts_with("CVSS:3.0/") {
                            "3.0"
                        } else {
                            "3.1"
                        },
                    )
                }),
                "CVSS_V4" => cvss4_base_score(v).map(|x| (x, "4.0")),
                _ => None,
            }
        })
        .fold(None, |best: Option<(f64, &'static str)>, s| match best {
            Some(b) if b.0 >= s.0 => Some(b),
            _ => Some(s),
        })
}

/// The eleven base metrics of CVSS v4.0; threat, environmental and
/// supplemental metrics would change the score into CVSS-BT/BE/BTE.
const CVSS4_BASE: [&str; 11] = [
    "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
];

/// CVSS v4.0 base score (CVSS-B) of a vector such as
/// `CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N`. Other
/// metrics in the vector are left out, so the score is the base score the
/// policy's threshold speaks of. `None` when a base metric is missing or
/// the vector does not parse.
pub fn cvss4_base_score(vector: &str) -> Option<f64> {
    let mut parts = vector.trim().split('/');
    if parts.next()? != "CVSS:4.0" {
        return None;
    }
    let metrics: std::collections::HashMap<&str, &str> =
        parts.map(|p| p.split_once(':')).collect::<Option<_>>()?;
    let base: Vec<String> = CVSS4_BASE
        .iter()
        .map(|m| metrics.get(m).map(|v| format!("{m}:{v}")))
        .collect::<Option<_>>()?;
    let parsed: cvss::v4::Vector = format!("CVSS:4.0/{}", base.join("/")).parse().ok()?;
    Some(parsed.score().value())
}

fn roundup(x: f64) -> f64 {
    let i = (x * 100_000.0).round() as i64;
    if i % 10_000 == 0 {
        i as f64 / 100_000.0
    } else {
        ((i / 10_000) + 1) as f64 / 10.0
    }
}

/// CVSS v3.0/v3.1 base score of a vector such as
/// `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`.
pub fn cvss3_base_score(vector: &str) -> Option<f64> {
    let mut m = std::collections::HashMap::new();
    for part in vector.split('/').skip(1) {
        let (k, v) = part.split_once(':')?;
        m.insert(k, v);
    }
    let changed = *m.get("S")? == "C";
    let av = match *m.get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match *m.get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr = match (*m.get("PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match *m.get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |k: &str| -> Option<f64> {
        Some(match *m.get(k)? {
            "H" => 0.56,
            "L" => 0.22,
            "N" => 0.0,
            _ => return None,
        })
    };
    let (c, i, a) = (cia("C")?, cia("I")?, cia("A")?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    if impact <= 0.0 {
        return Some(0.0);
    }
    let exploitability = 8.22 * av * ac * pr * ui;
    Some(if changed {
        roundup((1.08 * (impact + exploitability)).min(10.0))
    } else {
        roundup((impact + exploitability).min(10.0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss3_scores_from_the_specification_examples() {
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"),
            Some(5.5)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N"),
            Some(0.0)
        );
        assert_eq!(cvss3_base_score("CVSS:3.1/AV:X"), None);
    }

    #[test]
    fn levels() {
        assert_eq!(Level::of_score(9.8), Level::Critical);
        assert_eq!(Level::of_score(6.1), Level::Medium);
        assert_eq!(Level::parse("MODERATE"), Some(Level::Medium));
        assert!(Level::Unknown < Level::Low);
    }
}
