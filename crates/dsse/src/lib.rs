//! DSSE envelopes and the Sigstore bundles that carry them, checked offline.
//!
//! Shared by the model importer (OpenSSF model-signing `model.sig`) and the
//! attestation importer (in-toto statements, bare, in a DSSE envelope or in a
//! Sigstore bundle). What a signature covers is the DSSE pre-authentication
//! encoding (PAE) of the payload, never the payload alone; the one exception
//! is model_signing v0.2's own PAE, accepted only where its caller asks.
//!
//! Traps: a status is `verified` only when a signature verified with a key
//! (or a certificate chained to an anchor) the caller gave; with nothing
//! given it is `unverified (…)`, and a keyless (Fulcio) certificate's claim
//! stays unverified offline, since only the transparency log backs it.

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

impl Trust {
    /// True when neither a key nor a certificate chain was given.
    pub fn is_empty(&self) -> bool {
        self.public_key_pem.is_none() && self.certificate_chain_pem.is_none()
    }

    /// Checks that what was given can be read (a PEM public key of a kind
    /// this crate verifies with; PEM certificates), before any document is.
    pub fn check(&self) -> Result<(), DsseError> {
        if let Some(pem) = &self.public_key_pem {
            let spki = pem_spki(pem).map_err(DsseError::Key)?;
            // An empty message and signature: only the key's kind matters here.
            verify_signature(&spki, SigAlg::Sha256, b"", b"").map_err(DsseError::Key)?;
        }
        if let Some(pem) = &self.certificate_chain_pem {
            let certs = Certificate::load_pem_chain(pem.as_bytes())
                .map_err(|e| DsseError::Certificate(format!("certificate chain PEM: {e}")))?;
            if certs.is_empty() {
                return Err(DsseError::Certificate(
                    "the certificate chain PEM holds no certificate".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Why an envelope, a bundle or what the caller trusts could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    /// A field of the envelope or bundle is missing or unusable (the field's
    /// path inside the envelope or bundle).
    #[error("field `{field}`: {message}")]
    Field { field: String, message: String },
    /// The public key given cannot be read or is of a kind not verified here.
    #[error("public key: {0}")]
    Key(String),
    /// A certificate (of the bundle, or given as trust anchor) cannot be read.
    #[error("certificate: {0}")]
    Certificate(String),
}

fn field(field: &str, message: impl Into<String>) -> DsseError {
    DsseError::Field {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub keyid: Option<String>,
    pub sig: Vec<u8>,
}

/// A DSSE envelope, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// Reads `{payloadType, payload (base64), signatures: [{keyid, sig}]}`.
    /// Errors name the field (`payload`, `signatures[1].sig`).
    pub fn from_json(v: &Value) -> Result<Envelope, DsseError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload_type = v
            .get("payloadType")
            .and_then(Value::as_str)
            .ok_or_else(|| field("payloadType", "missing or not a string"))?
            .to_string();
        let payload = b64
            .decode(
                v.get("payload")
                    .and_then(Value::as_str)
                    .ok_or_else(|| field("payload", "missing or not a string"))?,
            )
            .map_err(|e| field("payload", format!("not base64: {e}")))?;
        let list = v
            .get("signatures")
            .and_then(Value::as_array)
            .ok_or_else(|| field("signatures", "missing or not a list"))?;
        let mut signatures = Vec::with_capacity(list.len());
        for (i, s) in list.iter().enumerate() {
            let sig = s
                .get("sig")
                .and_then(Value::as_str)
                .ok_or_else(|| field(&format!("signatures[{i}].sig"), "missing or not a string"))?;
            let sig = b64
                .decode(sig)
                .map_err(|e| field(&format!("signatures[{i}].sig"), format!("not base64: {e}")))?;
            signatures.push(Signature {
                keyid: s
                    .get("keyid")
                    .and_then(Value::as_str)
                    .filter(|k| !k.is_empty())
                    .map(str::to_string),
                sig,
            });
        }
        Ok(Envelope {
            payload_type,
            payload,
            signatures,
        })
    }

    /// DSSE pre-authentication encoding: what a DSSE signature is over.
    pub fn pae(&self) -> Vec<u8> {
        let mut pae = format!(
            "DSSEv1 {} {} {} ",
            self.payload_type.len(),
            self.payload_type,
            self.payload.len()
        )
        .into_bytes();
        pae.extend_from_slice(&self.payload);
        pae
    }

    /// The PAE model_signing v0.2 signed (`Digests/v0.1` statements): after
    /// "DSSEV1", the payload formatted as Python's `repr(bytes)`, hashed
    /// with SHA-256 whatever the curve. Accept it for those bundles only.
    pub fn pae_model_signing_v02(&self) -> Vec<u8> {
        let mut compat = format!(
            "DSSEV1 {} {} {} ",
            self.payload_type.len(),
            self.payload_type,
            self.payload.len()
        )
        .into_bytes();
        compat.extend_from_slice(python_bytes_repr(&self.payload).as_bytes());
        compat
    }

    /// The forms a signature over this envelope may be over: the DSSE PAE,
    /// and model_signing v0.2's when `model_signing_v02`.
    pub fn signed_forms(&self, model_signing_v02: bool) -> Vec<(Vec<u8>, SigAlg)> {
        let mut forms = vec![(self.pae(), SigAlg::Dsse)];
        if model_signing_v02 {
            forms.push((self.pae_model_signing_v02(), SigAlg::Sha256));
        }
        forms
    }
}

/// How a bundle says its signature is to be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A public key the verifier must already hold (a key hint at most).
    Key,
    /// A certificate (chain) that must lead to an anchor the verifier holds.
    Certificate,
    /// A short-lived Fulcio certificate backed by a transparency-log entry.
    Keyless,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Key => "key",
            Method::Certificate => "certificate",
            Method::Keyless => "keyless",
        }
    }
}

/// A Sigstore bundle's `verificationMaterial`: how to check it, and the
/// certificates it carries (leaf first).
#[derive(Debug, Clone)]
pub struct Material {
    pub method: Method,
    pub certificates: Vec<Certificate>,
}

impl Material {
    /// Material for a bare DSSE envelope: only a key given by the caller can
    /// check it.
    pub fn key_only() -> Material {
        Material {
            method: Method::Key,
            certificates: Vec::new(),
        }
    }

    /// Reads a bundle's `verificationMaterial` object.
    pub fn from_bundle(material: &Value) -> Result<Material, DsseError> {
        let tlog = material
            .get("tlogEntries")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty());
        let method = if material.get("publicKey").is_some() {
            Method::Key
        } else if material.get("certificate").is_some() && tlog {
            Method::Keyless
        } else if material.get("x509CertificateChain").is_some()
            || material.get("certificate").is_some()
        {
            Method::Certificate
        } else {
            return Err(field(
                "verificationMaterial",
                "names no public key or certificate",
            ));
        };
        let certificates = match method {
            Method::Key => Vec::new(),
            _ => {
                let chain = bundle_certificates(material).map_err(DsseError::Certificate)?;
                if chain.is_empty() {
                    return Err(field("verificationMaterial", "no certificate"));
                }
                chain
            }
        };
        Ok(Material {
            method,
            certificates,
        })
    }
}

/// What could be established about a signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// `key`, `certificate` or `keyless`.
    pub method: String,
    /// `verified`, `signature invalid`, `certificate chain invalid`,
    /// `unverified (no key given)`, `unverified (no trust anchor given)`,
    /// `unverified (needs transparency log)`, `unsigned (no signatures)`.
    pub status: String,
    /// Who the certificate says signed (SAN or subject).
    pub signer: Option<String>,
    /// The OIDC issuer (Fulcio extension) or the certificate's issuer.
    pub issuer: Option<String>,
    /// Subjects of the certificate chain checked, leaf first.
    pub chain: Vec<String>,
    pub detail: Option<String>,
}

/// Checks `signatures` over any of `forms` as `material` says, with what the
/// caller trusts. `verified` only when a signature verified against a key or
/// a chain to an anchor the caller gave.
pub fn verify(
    material: &Material,
    forms: &[(Vec<u8>, SigAlg)],
    signatures: &[Signature],
    trust: &Trust,
) -> Result<Verdict, DsseError> {
    let mut verdict = Verdict {
        method: material.method.as_str().into(),
        ..Default::default()
    };
    let any = |spki: &[u8]| -> Result<bool, DsseError> {
        for s in signatures {
            if verify_any(spki, forms, &s.sig).map_err(DsseError::Key)? {
                return Ok(true);
            }
        }
        Ok(false)
    };
    if let Some(leaf) = material.certificates.first() {
        let (signer, issuer) = describe_signer(leaf);
        verdict.signer = Some(signer);
        verdict.issuer = Some(issuer);
    }
    if signatures.is_empty() {
        verdict.status = "unsigned (no signatures)".into();
        return Ok(verdict);
    }
    verdict.status = match material.method {
        Method::Key => match trust.public_key_pem.as_deref() {
            Some(pem) => {
                let key = pem_spki(pem).map_err(DsseError::Key)?;
                if any(&key)? {
                    "verified".into()
                } else {
                    "signature invalid".into()
                }
            }
            None => "unverified (no key given)".into(),
        },
        Method::Keyless => {
            // The certificate (Fulcio, minutes-long) says who signed; that
            // claim only counts once the transparency log entry is checked,
            // which needs the network. The signature itself can be matched
            // against the certificate's key offline.
            let leaf = material
                .certificates
                .first()
                .ok_or_else(|| DsseError::Certificate("no certificate".into()))?;
            let spki = spki_der(leaf).map_err(DsseError::Certificate)?;
            verdict.detail = Some(
                if any(&spki)? {
                    "the signature matches the certificate's key; the certificate's issuance and \
                     the transparency-log entry are not checked offline"
                } else {
                    "the signature does not match the certificate's key"
                }
                .into(),
            );
            "unverified (needs transparency log)".into()
        }
        Method::Certificate => {
            let leaf = material
                .certificates
                .first()
                .ok_or_else(|| DsseError::Certificate("no certificate".into()))?;
            match trust.certificate_chain_pem.as_deref() {
                None => "unverified (no trust anchor given)".into(),
                Some(pem) => {
                    let anchors = Certificate::load_pem_chain(pem.as_bytes()).map_err(|e| {
                        DsseError::Certificate(format!("certificate chain PEM: {e}"))
                    })?;
                    match check_chain(&material.certificates, &anchors, trust.now) {
                        Err(why) => {
                            verdict.detail = Some(why);
                            "certificate chain invalid".into()
                        }
                        Ok(subjects) => {
                            verdict.chain = subjects;
                            if any(&spki_der(leaf).map_err(DsseError::Certificate)?)? {
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
    Ok(verdict)
}

/// What a signature is over: the DSSE envelope (the curve decides the hash,
/// as Sigstore signs), or a certificate with the algorithm it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
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
fn describe_signer(leaf: &Certificate) -> (String, String) {
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
    (
        san.unwrap_or_else(|| tbs.subject.to_string()),
        oidc_issuer.unwrap_or_else(|| tbs.issuer.to_string()),
    )
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

    #[test]
    fn python_bytes_repr_matches_python() {
        // repr(b"{\n  \"a\": 'x'\t\\\xff}") in Python 3.
        assert_eq!(
            python_bytes_repr(b"{\n  \"a\": 'x'\t\\\xff}"),
            r#"b'{\n  "a": \'x\'\t\\\xff}'"#
        );
        assert_eq!(python_bytes_repr(b"it's"), r#"b"it's""#);
    }

    #[test]
    fn envelope_errors_name_the_field() {
        let bad = |v: Value| Envelope::from_json(&v).unwrap_err().to_string();
        assert!(bad(serde_json::json!({"payload": "e30="})).starts_with("field `payloadType`"));
        assert!(
            bad(serde_json::json!({"payloadType": "x", "payload": "%%", "signatures": []}))
                .starts_with("field `payload`: not base64")
        );
        assert!(
            bad(serde_json::json!({"payloadType": "x", "payload": "e30=", "signatures": [{"sig": 1}]}))
                .starts_with("field `signatures[0].sig`")
        );
        let env = Envelope::from_json(
            &serde_json::json!({"payloadType": "t", "payload": "e30=", "signatures": []}),
        )
        .unwrap();
        // DSSEv1 SP len(type) SP type SP len(body) SP body
        assert_eq!(env.pae(), b"DSSEv1 1 t 2 {}");
    }

    #[test]
    fn nothing_given_is_never_verified() {
        let env = Envelope {
            payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
            payload: b"{}".to_vec(),
            signatures: vec![Signature {
                keyid: None,
                sig: vec![0x30, 0x00],
            }],
        };
        let v = verify(
            &Material::key_only(),
            &env.signed_forms(false),
            &env.signatures,
            &Trust::default(),
        )
        .unwrap();
        assert_eq!(v.status, "unverified (no key given)");
    }
}
