//! OpenSSF model signing (sigstore/model-transparency) bundles, checked
//! offline: a Sigstore bundle whose DSSE envelope carries an in-toto
//! statement listing each file's SHA-256. With the signer's public key
//! (P-256 or P-384) the signature is verified here; with the CA certificates
//! a certificate bundle must chain to, the chain (RSA or ECDSA links, CA
//! constraints, validity) and then the signature with the leaf's key.
//! Keyless bundles need the transparency log: the signer they claim is
//! recorded and the status stays unverified, never verified.

use std::collections::BTreeMap;

use aibomdb_graph::{Artifact, SigningReport};
use base64::Engine;
use serde_json::Value;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, SubjectAltName};

/// What the caller trusts: a signer's public key, or the CA certificates a
/// signing certificate must chain to.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub public_key_pem: Option<String>,
    /// One or more PEM certificates (root and, optionally, intermediates).
    pub certificate_chain_pem: Option<String>,
    /// Seconds since the epoch at which certificates must be valid.
    pub now: u64,
}

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
    // What may have been signed: the DSSE PAE with the curve's hash; and for
    // bundles of model_signing v0.2 (`Digests/v0.1`), that version's PAE, which
    // formatted the payload as Python's `repr(bytes)` after "DSSEV1", hashed
    // with SHA-256 whatever the curve (model_signing keeps the same
    // compatibility path in its verifier).
    let mut signed_forms = vec![(pae, SigAlg::Dsse)];

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
        let mut compat = format!(
            "DSSEV1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .into_bytes();
        compat.extend_from_slice(python_bytes_repr(&payload).as_bytes());
        signed_forms.push((compat, SigAlg::Sha256));
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

    report.status = match report.method.as_str() {
        "key" => match trust.public_key_pem.as_deref() {
            Some(pem) => {
                let key = pem_spki(pem)?;
                if verify_any(&key, &signed_forms, &sig)? {
                    "verified".into()
                } else {
                    "signature invalid".into()
                }
            }
            None => "unverified (no key given)".into(),
        },
        "keyless" => {
            // The certificate (Fulcio, minutes-long) says who signed; that
            // claim only counts once the transparency log entry is checked,
            // which needs the network. The signature itself can be matched
            // against the certificate's key offline.
            let chain = bundle_certificates(material)?;
            let leaf = chain.first().ok_or("no certificate")?;
            describe_signer(leaf, report);
            let spki = spki_der(leaf)?;
            report.detail = Some(
                if verify_any(&spki, &signed_forms, &sig)? {
                    "the signature matches the certificate's key; the certificate's issuance and \
                     the transparency-log entry are not checked offline"
                } else {
                    "the signature does not match the certificate's key"
                }
                .into(),
            );
            "unverified (needs transparency log)".into()
        }
        _ => {
            let chain = bundle_certificates(material)?;
            let leaf = chain.first().ok_or("no certificate")?;
            describe_signer(leaf, report);
            match trust.certificate_chain_pem.as_deref() {
                None => "unverified (no trust anchor given)".into(),
                Some(pem) => {
                    let anchors = x509_cert::Certificate::load_pem_chain(pem.as_bytes())
                        .map_err(|e| format!("certificate chain PEM: {e}"))?;
                    match check_chain(&chain, &anchors, trust.now) {
                        Err(why) => {
                            report.detail = Some(why);
                            "certificate chain invalid".into()
                        }
                        Ok(subjects) => {
                            report.chain = subjects;
                            if verify_any(&spki_der(leaf)?, &signed_forms, &sig)? {
                                "verified".into()
                            } else {
                                "signature invalid".into()
                            }
                        }
                    }
                }
            }
        }
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

/// What a signature is over: the DSSE envelope (the curve decides the hash,
/// as Sigstore signs), or a certificate with the algorithm it names.
#[derive(Debug, Clone, Copy)]
enum SigAlg {
    Dsse,
    Sha256,
    Sha384,
    Sha512,
}

impl SigAlg {
    fn of_certificate(cert: &Certificate) -> Result<SigAlg, String> {
        match cert.signature_algorithm.oid.to_string().as_str() {
            // sha{256,384,512}WithRSAEncryption, ecdsa-with-SHA{256,384,512}
            "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => Ok(SigAlg::Sha256),
            "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => Ok(SigAlg::Sha384),
            "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => Ok(SigAlg::Sha512),
            other => Err(format!(
                "unsupported certificate signature algorithm {other}"
            )),
        }
    }
}

/// Verifies `sig` over `message` with a P-256, P-384 or RSA (PKCS#1 v1.5)
/// key given as DER SubjectPublicKeyInfo.
fn verify_signature(spki: &[u8], alg: SigAlg, message: &[u8], sig: &[u8]) -> Result<bool, String> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::pkcs8::DecodePublicKey;
    use sha2::Digest;
    let digest = |curve_default: SigAlg| -> Vec<u8> {
        match if matches!(alg, SigAlg::Dsse) {
            curve_default
        } else {
            alg
        } {
            SigAlg::Sha384 => sha2::Sha384::digest(message).to_vec(),
            SigAlg::Sha512 => sha2::Sha512::digest(message).to_vec(),
            _ => sha2::Sha256::digest(message).to_vec(),
        }
    };
    if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(spki) {
        let Ok(sig) = p384::ecdsa::Signature::from_der(sig) else {
            return Ok(false);
        };
        return Ok(key.verify_prehash(&digest(SigAlg::Sha384), &sig).is_ok());
    }
    if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(spki) {
        let Ok(sig) = p256::ecdsa::Signature::from_der(sig) else {
            return Ok(false);
        };
        return Ok(key.verify_prehash(&digest(SigAlg::Sha256), &sig).is_ok());
    }
    if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki) {
        let (scheme, hashed) = match alg {
            SigAlg::Sha384 => (rsa::Pkcs1v15Sign::new::<sha2::Sha384>(), digest(alg)),
            SigAlg::Sha512 => (rsa::Pkcs1v15Sign::new::<sha2::Sha512>(), digest(alg)),
            _ => (
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                digest(SigAlg::Sha256),
            ),
        };
        return Ok(key.verify(scheme, &hashed, sig).is_ok());
    }
    Err("the key is not a P-256, P-384 or RSA public key".into())
}

/// True when `sig` verifies over any of the forms the signer may have signed.
fn verify_any(spki: &[u8], forms: &[(Vec<u8>, SigAlg)], sig: &[u8]) -> Result<bool, String> {
    for (message, alg) in forms {
        if verify_signature(spki, *alg, message, sig)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Python's `repr()` of a `bytes` value: `b'…'` (or `b"…"` when the bytes
/// hold a `'` and no `"`), with `\\`, `\t`, `\n`, `\r`, the quote, and
/// `\xhh` for other bytes outside printable ASCII escaped.
fn python_bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::with_capacity(bytes.len() + 3);
    out.push('b');
    out.push(quote as char);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if b == quote => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// A PEM public key as DER SubjectPublicKeyInfo. Key files often carry a
/// human-readable dump before the PEM block.
fn pem_spki(pem: &str) -> Result<Vec<u8>, String> {
    let pem = pem.find("-----BEGIN").map_or(pem, |i| &pem[i..]);
    let (label, der) = x509_cert::der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|e| format!("public key PEM: {e}"))?;
    if label != "PUBLIC KEY" {
        return Err(format!("public key PEM is a {label:?}, not a PUBLIC KEY"));
    }
    Ok(der)
}

fn spki_der(cert: &Certificate) -> Result<Vec<u8>, String> {
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())
}

/// The bundle's certificates, leaf first (`certificate` or `x509CertificateChain`).
fn bundle_certificates(material: &Value) -> Result<Vec<Certificate>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let raws: Vec<&str> = match material.pointer("/certificate/rawBytes") {
        Some(Value::String(one)) => vec![one.as_str()],
        _ => material
            .pointer("/x509CertificateChain/certificates")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.get("rawBytes").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default(),
    };
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let der = b64
                .decode(raw)
                .map_err(|e| format!("certificate {i} is not base64: {e}"))?;
            Certificate::from_der(&der).map_err(|e| format!("certificate {i}: {e}"))
        })
        .collect()
}

/// Signer identity from the leaf: SAN e-mail or URI (what Fulcio and most
/// code-signing CAs bind), else the subject; issuer from Fulcio's OIDC-issuer
/// extension, else the certificate's issuer.
fn describe_signer(leaf: &Certificate, report: &mut SigningReport) {
    let tbs = &leaf.tbs_certificate;
    let mut san = None;
    let mut oidc_issuer = None;
    for ext in tbs.extensions.iter().flatten() {
        let oid = ext.extn_id.to_string();
        let value = ext.extn_value.as_bytes();
        match oid.as_str() {
            "2.5.29.17" => {
                if let Ok(names) = SubjectAltName::from_der(value) {
                    san = names.0.iter().find_map(|n| match n {
                        GeneralName::Rfc822Name(s) => Some(s.to_string()),
                        GeneralName::UniformResourceIdentifier(s) => Some(s.to_string()),
                        GeneralName::DnsName(s) => Some(s.to_string()),
                        _ => None,
                    });
                }
            }
            // Fulcio OIDC issuer: v2 (DER UTF8String) wins over v1 (raw bytes).
            "1.3.6.1.4.1.57264.1.8" => {
                oidc_issuer = x509_cert::der::asn1::Utf8StringRef::from_der(value)
                    .ok()
                    .map(|s| s.to_string());
            }
            "1.3.6.1.4.1.57264.1.1" if oidc_issuer.is_none() => {
                oidc_issuer = std::str::from_utf8(value).ok().map(str::to_string);
            }
            _ => {}
        }
    }
    report.signer = Some(san.unwrap_or_else(|| tbs.subject.to_string()));
    report.issuer = Some(oidc_issuer.unwrap_or_else(|| tbs.issuer.to_string()));
}

fn is_ca(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == "2.5.29.19")
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|b| b.ca)
}

/// Checks that `chain[0]` chains to one of `anchors` through certificates of
/// the bundle or the anchors file: each link's signature, CA constraint and
/// validity at `now`. Returns the subjects from leaf to anchor.
fn check_chain(
    chain: &[Certificate],
    anchors: &[Certificate],
    now: u64,
) -> Result<Vec<String>, String> {
    let valid_at = |c: &Certificate| -> Result<(), String> {
        let v = &c.tbs_certificate.validity;
        let (from, to) = (
            v.not_before.to_unix_duration().as_secs(),
            v.not_after.to_unix_duration().as_secs(),
        );
        if now < from || now > to {
            return Err(format!(
                "{} is valid from {} to {}, not now",
                c.tbs_certificate.subject, v.not_before, v.not_after
            ));
        }
        Ok(())
    };
    let signed_by = |child: &Certificate, parent: &Certificate| -> Result<bool, String> {
        if child.tbs_certificate.issuer != parent.tbs_certificate.subject {
            return Ok(false);
        }
        let tbs = child.tbs_certificate.to_der().map_err(|e| e.to_string())?;
        let sig = child
            .signature
            .as_bytes()
            .ok_or("certificate signature has unused bits")?;
        verify_signature(
            &spki_der(parent)?,
            SigAlg::of_certificate(child)?,
            &tbs,
            sig,
        )
    };
    let leaf = chain.first().ok_or("no certificate")?;
    valid_at(leaf)?;
    let mut subjects = vec![leaf.tbs_certificate.subject.to_string()];
    let mut current = leaf;
    for _ in 0..8 {
        for anchor in anchors {
            if signed_by(current, anchor)? {
                valid_at(anchor)?;
                if !std::ptr::eq(current, anchor) {
                    subjects.push(anchor.tbs_certificate.subject.to_string());
                }
                return Ok(subjects);
            }
        }
        let next = chain[1..]
            .iter()
            .chain(anchors)
            .find(|c| !std::ptr::eq(*c, current) && signed_by(current, c).unwrap_or(false))
            .ok_or_else(|| {
                format!(
                    "no trusted certificate issued {} (issuer {})",
                    current.tbs_certificate.subject, current.tbs_certificate.issuer
                )
            })?;
        if !is_ca(next) {
            return Err(format!(
                "{} signed {} but is not a CA",
                next.tbs_certificate.subject, current.tbs_certificate.subject
            ));
        }
        valid_at(next)?;
        subjects.push(next.tbs_certificate.subject.to_string());
        current = next;
    }
    Err("certificate chain longer than 8".into())
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

    #[test]
    fn python_bytes_repr_matches_python() {
        // repr(b"{\n  \"a\": 'x'\t\\\xff}") in Python 3.
        assert_eq!(
            python_bytes_repr(b"{\n  \"a\": 'x'\t\\\xff}"),
            r#"b'{\n  "a": \'x\'\t\\\xff}'"#
        );
        assert_eq!(python_bytes_repr(b"it's"), r#"b"it's""#);
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
