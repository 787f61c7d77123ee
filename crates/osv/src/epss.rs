//! FIRST's EPSS scores (the daily CSV, `epss_scores-current.csv`, plain or
//! gzipped): for each CVE, the probability of exploitation activity in the
//! next 30 days and its percentile. Joined to matches by the advisory's CVEs.

use std::io::Read;

use aibomdb_store::{EnrichmentSource, EpssScore, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EpssError {
    #[error("{origin}: {message}")]
    Bad { origin: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Most bytes a gzipped file may expand to (today's file is about 12 MB).
const MAX_CSV_BYTES: u64 = 1024 * 1024 * 1024;

/// What the file says of itself, and its scores.
pub struct EpssFile {
    pub model_version: String,
    pub score_date: String,
    pub scores: Vec<(String, EpssScore)>,
}

/// Reads the CSV: `#model_version:…,score_date:…`, then `cve,epss,percentile`,
/// then one row per CVE. Errors name the origin and the line.
pub fn parse(origin: &str, bytes: &[u8]) -> Result<EpssFile, EpssError> {
    let bad = |message: String| EpssError::Bad {
        origin: origin.to_string(),
        message,
    };
    let mut inflated = Vec::new();
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_CSV_BYTES + 1)
            .read_to_end(&mut inflated)
            .map_err(|e| bad(format!("gzip: {e}")))?;
        if inflated.len() as u64 > MAX_CSV_BYTES {
            return Err(bad(format!("expands past {MAX_CSV_BYTES} bytes")));
        }
        &inflated[..]
    } else {
        bytes
    };
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    let mut lines = text.lines().enumerate();
    let (mut model_version, mut score_date) = (String::new(), String::new());
    let mut header = lines.next().map(|(_, l)| l.trim()).unwrap_or_default();
    if let Some(meta) = header.strip_prefix('#') {
        for part in meta.split(',') {
            match part.split_once(':') {
                Some(("model_version", v)) => model_version = v.trim().to_string(),
                Some(("score_date", v)) => score_date = v.trim().to_string(),
                _ => {}
            }
        }
        header = lines.next().map(|(_, l)| l.trim()).unwrap_or_default();
    }
    if !header.eq_ignore_ascii_case("cve,epss,percentile") {
        return Err(bad(format!(
            "expected the header `cve,epss,percentile`, found {header:?}: not an EPSS file"
        )));
    }
    let mut scores = Vec::new();
    for (n, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let row = || -> Option<(String, EpssScore)> {
            let mut f = line.split(',');
            let cve = f.next()?.trim().to_ascii_uppercase();
            let epss: f64 = f.next()?.trim().parse().ok()?;
            let percentile: f64 = f.next()?.trim().parse().ok()?;
            let sane = |x: f64| (0.0..=1.0).contains(&x);
            (cve.starts_with("CVE-") && sane(epss) && sane(percentile) && f.next().is_none())
                .then_some((cve, EpssScore { epss, percentile }))
        };
        scores.push(row().ok_or_else(|| {
            bad(format!(
                "line {}: {line:?} is not `CVE-…,<probability>,<percentile>`",
                n + 1
            ))
        })?);
    }
    Ok(EpssFile {
        model_version,
        score_date,
        scores,
    })
}

/// Loads a file into the store, replacing the scores before, whole.
pub fn load(
    store: &Store,
    origin: &str,
    bytes: &[u8],
    now: u64,
) -> Result<EnrichmentSource, EpssError> {
    let file = parse(origin, bytes)?;
    let source = EnrichmentSource {
        name: "epss".into(),
        version: file.model_version,
        released: file.score_date,
        entries: file.scores.len() as u64,
        loaded_at: now,
        origin: origin.to_string(),
    };
    store.put_epss(&source, &file.scores)?;
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_an_epss_file() {
        assert!(parse("x", b"cve,score\nCVE-1,0.1\n").is_err());
        assert!(parse("x", b"cve,epss,percentile\nCVE-2023-1,1.5,0.2\n").is_err());
        let e = parse(
            "x",
            b"cve,epss,percentile\nCVE-2023-1,0.5,0.2\nGHSA-x,0.1,0.1\n",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("line 3"), "{e}");
    }
}
