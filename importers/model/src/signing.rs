//! OpenSSF model signing (sigstore/model-transparency) bundles, checked
//! offline: a Sigstore bundle whose DSSE envelope carries an in-toto
//! statement listing each file's SHA-256. With the signer's public key
//! (P-256 or P-384) the signature is verified here. Certificate bundles are
//! read but their chain is not checked yet, and keyless bundles need the
//! transparency log: both are reported as unverified, never as verified.

use std::collections::BTreeMap;

use aibomdb_graph::{Artifact, SigningReport};
use base64::Engine;
use serde_json::Value;

pub fn verify(
    bundle: &[u8],
    public_key_pem: Option<&str>,
    artifacts: &[Artifact],
) -> SigningReport {
    let mut report = SigningReport::default();
    if let Err(e) = check(bundle, public_key_pem, artifacts, &mut report) {
        report.status = format!("unreadable: {e}");
    }
    report
}

fn check(
    bundle: &[u8],
    public_key_pem: Option<&str>,
    artifacts: &[Artifact],
    report: &mut SigningReport,
) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let v: Value =
        serde_json::from_slice(bundle).map_err(|e| format!("model.sig is not JSON: {e}"))?;
    let material = v
        .get("verificationMaterial")
        .ok_or("no verificationMaterial")?;
    let tlog = material
        .get("tlogEntries")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    report.method = if material.get("publicKey").is_some() {
        "key"
    } else if material.get("certificate").is_some() && tlog {
        "keyless"
    } else if material.get("x509CertificateChain").is_some()
        || material.get("certificate").is_some()
    {
        "certificate"
    } else {
        return Err("verificationMaterial names no key or certificate".into());
    }
    .into();
    let env = v.get("dsseEnvelope").ok_or("no dsseEnvelope")?;
    let payload_type = env
        .get("payloadType")
        .and_then(Value::as_str)
        .ok_or("no payloadType")?;
    let payload = b64
        .decode(
            env.get("payload")
                .and_then(Value::as_str)
                .ok_or("no payload")?,
        )
        .map_err(|e| format!("payload is not base64: {e}"))?;
    let sig = b64
        .decode(
            env.pointer("/signatures/0/sig")
                .and_then(Value::as_str)
                .ok_or("no signature")?,
        )
        .map_err(|e| format!("signature is not base64: {e}"))?;
    // DSSE pre-authentication encoding: what was actually signed.
    let mut pae = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(&payload);

    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|e| format!("payload is not an in-toto statement: {e}"))?;
    let predicate_type = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut signed: BTreeMap<String, String> = BTreeMap::new();
    if predicate_type == "https://model_signing/signature/v1.0" {
        report.format = "v1.0".into();
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

    report.status = match (report.method.as_str(), public_key_pem) {
        ("key", Some(pem)) => {
            if verify_ecdsa(pem, &pae, &sig)? {
                "verified".into()
            } else {
                "signature invalid".into()
            }
        }
        ("key", None) => "unverified (no key given)".into(),
        ("keyless", _) => "unverified (needs transparency log)".into(),
        _ => "unverified (certificate chain not checked)".into(),
    };

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

/// ECDSA over `message` with a P-384 (SHA-384) or P-256 (SHA-256) SPKI key.
fn verify_ecdsa(pem: &str, message: &[u8], der_sig: &[u8]) -> Result<bool, String> {
    use p256::ecdsa::signature::Verifier;
    use p256::pkcs8::DecodePublicKey;
    // Key files often carry a human-readable dump before the PEM block.
    let pem = pem.find("-----BEGIN").map_or(pem, |i| &pem[i..]);
    if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_pem(pem) {
        let sig =
            p384::ecdsa::Signature::from_der(der_sig).map_err(|e| format!("signature: {e}"))?;
        return Ok(key.verify(message, &sig).is_ok());
    }
    if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
        let sig =
            p256::ecdsa::Signature::from_der(der_sig).map_err(|e| format!("signature: {e}"))?;
        return Ok(key.verify(message, &sig).is_ok());
    }
    Err("the public key is neither a P-256 nor a P-384 SPKI PEM".into())
}
