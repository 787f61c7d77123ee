//! OpenSSF model signing (sigstore/model-transparency) bundles, checked
//! offline: a Sigstore bundle whose DSSE envelope carries an in-toto
//! statement listing each file's SHA-256. The envelope, the PAE and the
//! signature and certificate checks are `aibomdb-dsse`'s (shared with the
//! attestation importer); this module compares the signed digests with the
//! model's files.

use std::collections::BTreeMap;

use aibomdb_graph::{Artifact, SigningReport};
use serde_json::Value;

pub use aibomdb_dsse::Trust;

pub fn verify(bundle: &[u8], trust: &Trust, artifacts: &[Artifact]) -> SigningReport {
    let mut report = SigningReport::default();
    if let Err(e) = check(bundle, trust, artifacts, &mut report) {
        report.status = format!("unreadable: {e}");
    }
    report
}

fn check(
    bundle: &[u8],
    trust: &Trust,
    artifacts: &[Artifact],
    report: &mut SigningReport,
) -> Result<(), String> {
    let v: Value =
        serde_json::from_slice(bundle).map_err(|e| format!("model.sig is not JSON: {e}"))?;
    let material = v
        .get("verificationMaterial")
        .ok_or("no verificationMaterial")?;
    let material = aibomdb_dsse::Material::from_bundle(material).map_err(|e| e.to_string())?;
    report.method = material.method.as_str().into();
    let env = aibomdb_dsse::Envelope::from_json(v.get("dsseEnvelope").ok_or("no dsseEnvelope")?)
        .map_err(|e| format!("dsseEnvelope: {e}"))?;
    if env.signatures.is_empty() {
        return Err("no signature".into());
    }

    let statement: Value = serde_json::from_slice(&env.payload)
        .map_err(|e| format!("payload is not an in-toto statement: {e}"))?;
    let predicate_type = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut signed: BTreeMap<String, String> = BTreeMap::new();
    // What may have been signed: the DSSE PAE with the curve's hash; and for
    // bundles of model_signing v0.2 (`Digests/v0.1`), that version's PAE
    // (see `aibomdb_dsse::Envelope::pae_model_signing_v02`).
    let forms;
    if predicate_type == "https://model_signing/signature/v1.0" {
        report.format = "v1.0".into();
        forms = env.signed_forms(false);
        for r in statement
            .pointer("/predicate/resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(n), Some(d)) = (
                r.get("name").and_then(Value::as_str),
                r.get("digest").and_then(Value::as_str),
            ) {
                signed.insert(n.to_string(), d.to_ascii_lowercase());
            }
        }
        report.ignored = statement
            .pointer("/predicate/serialization/ignore_paths")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
    } else if predicate_type == "https://model_signing/Digests/v0.1" {
        // v0.2 of the tool: one in-toto subject per file.
        report.format = "v0.1".into();
        forms = env.signed_forms(true);
        for s in statement
            .get("subject")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(n), Some(d)) = (
                s.get("name").and_then(Value::as_str),
                s.pointer("/digest/sha256").and_then(Value::as_str),
            ) {
                signed.insert(n.to_string(), d.to_ascii_lowercase());
            }
        }
    } else {
        return Err(format!("unknown predicateType {predicate_type:?}"));
    }

    // The original checked the first signature only; so does this.
    let verdict = aibomdb_dsse::verify(&material, &forms, &env.signatures[..1], trust)
        .map_err(|e| e.to_string())?;
    report.status = verdict.status;
    report.signer = verdict.signer;
    report.issuer = verdict.issuer;
    report.chain = verdict.chain;
    report.detail = verdict.detail;

    let local: BTreeMap<&str, Option<&str>> = artifacts
        .iter()
        .map(|a| (a.path.as_str(), a.sha256.as_deref()))
        .collect();
    for (name, digest) in &signed {
        match local.get(name.as_str()) {
            Some(Some(own)) if own.eq_ignore_ascii_case(digest) => {
                report.covered.push(name.clone())
            }
            Some(_) => report.differ.push(name.clone()),
            None => report.missing.push(name.clone()),
        }
    }
    for (path, own) in &local {
        let ignored = report
            .ignored
            .iter()
            .any(|i| path == i || path.starts_with(&format!("{i}/")));
        if own.is_some() && !signed.contains_key(*path) && !ignored && *path != "model.sig" {
            report.unsigned.push(path.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(rel: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/formats/model-signing")
            .join(rel)
    }

    fn trust_key(pem: String) -> Trust {
        Trust {
            public_key_pem: Some(pem),
            ..Default::default()
        }
    }

    /// The corpus key verifies its bundle; any other P-384 key does not.
    #[test]
    fn a_wrong_key_fails() {
        use p384::pkcs8::{EncodePublicKey, LineEnding};
        let bundle = std::fs::read(corpus("v1.1.0-elliptic-key/model.sig")).unwrap();
        let right = std::fs::read_to_string(corpus("keys/signing-key-pub.pem")).unwrap();
        assert_eq!(verify(&bundle, &trust_key(right), &[]).status, "verified");
        let other = p384::SecretKey::from_slice(&[7u8; 48]).unwrap();
        let wrong = other
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        assert_eq!(
            verify(&bundle, &trust_key(wrong), &[]).status,
            "signature invalid"
        );
    }

    /// Certificates must chain to an anchor the caller gave, and be valid then.
    #[test]
    fn certificate_chain_needs_the_right_anchor_and_time() {
        let bundle = std::fs::read(corpus("v1.1.0-certificate/model.sig")).unwrap();
        let root = std::fs::read_to_string(corpus("keys/ca-cert.pem")).unwrap();
        let at = |now: u64, pem: &str| {
            verify(
                &bundle,
                &Trust {
                    certificate_chain_pem: Some(pem.to_string()),
                    now,
                    ..Default::default()
                },
                &[],
            )
        };
        // 2026-01-01: inside the certificates' 2025–2035 validity.
        assert_eq!(at(1_767_225_600, &root).status, "verified");
        // 2040: expired.
        let late = at(2_208_988_800, &root);
        assert_eq!(late.status, "certificate chain invalid");
        assert!(late.detail.unwrap().contains("not now"));
        // The intermediate alone is a valid anchor too; the leaf is not.
        let int = std::fs::read_to_string(corpus("keys/int-ca-cert.pem")).unwrap();
        assert_eq!(at(1_767_225_600, &int).status, "verified");
        let leaf = std::fs::read_to_string(corpus("keys/signing-key-cert.pem")).unwrap();
        assert_eq!(at(1_767_225_600, &leaf).status, "certificate chain invalid");
    }
}
