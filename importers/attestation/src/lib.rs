//! in-toto attestations → facts: a Statement (v1, or v0.1) given bare, inside
//! a DSSE envelope (`payloadType: application/vnd.in-toto+json`), or inside a
//! Sigstore bundle (`dsseEnvelope`).
//!
//! Traps first:
//! - the signature covers the DSSE pre-authentication encoding of the payload,
//!   never the statement's JSON; it is checked here, offline, with what the
//!   caller trusts ([`Trust`]), and reported `verified` only when it verified.
//!   A bare statement is `unsigned (bare statement)`.
//! - subjects name artifacts by digest; which graph node a digest belongs to
//!   is the store's to answer, so this crate leaves each subject as
//!   `pkg:generic/<name>` with its digests and the ingest pipeline binds it
//!   (a model's file, an image) before the document is written.
//! - OpenSSF model signing's v1.0 subject is the digest of a manifest of the
//!   model's files, which matches no file: its `resources` (one SHA-256 per
//!   file) are what bind it.
//!
//! Predicates read: SLSA Provenance v1 (and v0.2): builder id, build type,
//! resolved dependencies (materials) → `depends_on` edges (scope `build`) from
//! every subject; model signing v1.0 and v0.1 (`Digests/v0.1`). Any other
//! predicate type is recorded on the subjects, not interpreted.

use aibomdb_dsse::{DsseError, Envelope, IN_TOTO_PAYLOAD_TYPE, Material};
use aibomdb_graph::{
    Attestation, AttestationSignature, DependencyFact, DocumentFacts, DocumentFormat, EdgeKind,
    Hash, ImportError, PackageFact, PackageKey, Scope, Skipped, Subject, Tool, key_for,
};
use base64::Engine;
use serde_json::Value;

pub use aibomdb_dsse::Trust;

pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const MODEL_SIGNING_V1: &str = "https://model_signing/signature/v1.0";
pub const MODEL_SIGNING_V01: &str = "https://model_signing/Digests/v0.1";

/// True when `part` (a window of the document) shows an in-toto statement, a
/// DSSE envelope whose payload is one, or a Sigstore bundle. A truncated
/// envelope often loses its `payloadType` (tools write `payload` first), so
/// the start of the payload itself is decoded and looked at too.
pub fn sniff(part: &str) -> bool {
    if has_pair(part, "_type", "https://in-toto.io/Statement/")
        || has_pair(part, "payloadType", IN_TOTO_PAYLOAD_TYPE)
        || has_pair(part, "mediaType", "application/vnd.dev.sigstore.bundle")
    {
        return true;
    }
    let Some(value) = string_after_key(part, "payload") else {
        return false;
    };
    let b64: String = value
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .take(512)
        .collect();
    let usable = b64.len() / 4 * 4;
    base64::engine::general_purpose::STANDARD
        .decode(&b64[..usable])
        .is_ok_and(|head| {
            String::from_utf8_lossy(&head).contains("in-toto.io/Statement/")
                && head.starts_with(b"{")
        })
}

/// Whether `"key"` is followed by `:` and a string starting with `prefix`.
fn has_pair(part: &str, key: &str, prefix: &str) -> bool {
    string_after_key(part, key).is_some_and(|v| v.starts_with(prefix))
}

/// The text right after `"key": "` (whitespace allowed around the colon),
/// for the first occurrence of the key that has a string value.
fn string_after_key<'a>(part: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    while let Some(i) = aibomdb_graph::sniff::find(&part[from..], &needle) {
        let rest = part[from + i + needle.len()..].trim_start();
        if let Some(rest) = rest.strip_prefix(':')
            && let Some(value) = rest.trim_start().strip_prefix('"')
        {
            return Some(value);
        }
        from += i + needle.len();
    }
    None
}

/// Reads one attestation document and checks its signature with `trust`.
/// Every refusal names the field (`dsseEnvelope.payload`, `payload.subject`).
pub fn import(bytes: &[u8], trust: &Trust) -> Result<DocumentFacts, ImportError> {
    let v: Value = aibomdb_graph::json::parse(bytes)?;
    if !v.is_object() {
        return Err(wrong("the document is not a JSON object"));
    }
    let media_type = v.get("mediaType").and_then(Value::as_str);
    let (envelope_kind, prefix, material, env) =
        if media_type.is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.bundle")) {
            let material = v.get("verificationMaterial").ok_or_else(|| {
                ImportError::field(
                    "verificationMaterial",
                    "missing: a Sigstore bundle says how it is verified",
                )
            })?;
            let material = Material::from_bundle(material).map_err(|e| dsse_error("", e))?;
            let env = v.get("dsseEnvelope").ok_or_else(|| {
                ImportError::field(
                    "dsseEnvelope",
                    "missing: only a bundle with a DSSE envelope carries an in-toto statement \
                 (a messageSignature bundle signs a blob)",
                )
            })?;
            let env = Envelope::from_json(env).map_err(|e| dsse_error("dsseEnvelope.", e))?;
            (
                "sigstore-bundle",
                "dsseEnvelope.",
                Some(material),
                Some(env),
            )
        } else if v.get("payloadType").is_some() || v.get("payload").is_some() {
            let env = Envelope::from_json(&v).map_err(|e| dsse_error("", e))?;
            ("dsse", "", Some(Material::key_only()), Some(env))
        } else if v.get("_type").is_some() {
            ("statement", "", None, None)
        } else {
            return Err(wrong(
                "no `_type` (statement), `payloadType` (DSSE) or `mediaType` (Sigstore bundle)",
            ));
        };
    // Where the statement's own fields are, for messages.
    let at = |f: &str| -> String {
        if env.is_some() {
            format!("{prefix}payload.{f}")
        } else {
            f.to_string()
        }
    };
    let owned;
    let statement: &Value = match &env {
        Some(env) => {
            if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
                return Err(ImportError::field(
                    format!("{prefix}payloadType"),
                    format!(
                        "is {:?}, not {IN_TOTO_PAYLOAD_TYPE:?}: the payload is not an in-toto statement",
                        env.payload_type
                    ),
                ));
            }
            owned = serde_json::from_slice::<Value>(&env.payload).map_err(|e| {
                ImportError::field(
                    format!("{prefix}payload"),
                    format!("the decoded payload is not an in-toto statement: {e}"),
                )
            })?;
            &owned
        }
        None => &v,
    };
    let statement_type = statement
        .get("_type")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::field(at("_type"), "missing or not a string"))?;
    let spec_version = match statement_type.strip_prefix("https://in-toto.io/Statement/") {
        Some(v @ ("v1" | "v0.1")) => v.trim_start_matches('v').to_string(),
        _ => {
            return Err(ImportError::field(
                at("_type"),
                format!("{statement_type:?} is not an in-toto Statement v1 (or v0.1)"),
            ));
        }
    };
    let predicate_type = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ImportError::field(at("predicateType"), "missing or not a string"))?
        .to_string();
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ImportError::field(
                at("subject"),
                "missing or not a list: a statement must name at least one subject",
            )
        })?;
    if subjects.is_empty() {
        return Err(ImportError::field(
            at("subject"),
            "empty: a statement must name at least one subject",
        ));
    }
    let mut read_subjects = Vec::with_capacity(subjects.len());
    for (i, s) in subjects.iter().enumerate() {
        let name = s
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let digests = digests_of(s.get("digest"))
            .map_err(|m| ImportError::field(at(&format!("subject[{i}].digest")), m))?;
        if digests.is_empty() {
            return Err(ImportError::field(
                at(&format!("subject[{i}].digest")),
                "a subject is named by at least one digest",
            ));
        }
        if name.trim().is_empty() {
            return Err(ImportError::field(
                at(&format!("subject[{i}].name")),
                "missing: a subject without a name cannot be told apart",
            ));
        }
        read_subjects.push((name, digests));
    }
    let predicate = statement.get("predicate").unwrap_or(&Value::Null);

    // The signature, before anything is made of what it signs.
    let signature = match (&material, &env) {
        (Some(material), Some(env)) => {
            let forms = env.signed_forms(predicate_type == MODEL_SIGNING_V01);
            let verdict = aibomdb_dsse::verify(material, &forms, &env.signatures, trust)
                .map_err(|e| dsse_error(prefix, e))?;
            AttestationSignature {
                method: verdict.method,
                status: verdict.status,
                key_ids: env
                    .signatures
                    .iter()
                    .filter_map(|s| s.keyid.clone())
                    .collect(),
                signer: verdict.signer,
                issuer: verdict.issuer,
                chain: verdict.chain,
                detail: verdict.detail,
            }
        }
        _ => AttestationSignature {
            method: "none".into(),
            status: "unsigned (bare statement)".into(),
            ..Default::default()
        },
    };

    let mut facts = DocumentFacts::new(DocumentFormat::InTotoAttestation, spec_version);
    let mut base = Attestation {
        statement_type: statement_type.to_string(),
        predicate_type: predicate_type.clone(),
        envelope: envelope_kind.into(),
        signature,
        ..Default::default()
    };
    let mut dependencies: Vec<PackageFact> = Vec::new();
    match predicate_type.as_str() {
        SLSA_PROVENANCE_V1 => {
            base.builder_id = str_at(predicate, "/runDetails/builder/id");
            base.build_type = str_at(predicate, "/buildDefinition/buildType");
            facts.created = str_at(predicate, "/runDetails/metadata/startedOn");
            if base.builder_id.is_none() {
                facts
                    .warnings
                    .push("SLSA provenance without `runDetails.builder.id`".into());
            }
            let deps = predicate.pointer("/buildDefinition/resolvedDependencies");
            read_dependencies(
                deps,
                &at("predicate.buildDefinition.resolvedDependencies"),
                &mut dependencies,
                &mut facts.skipped,
            )?;
        }
        SLSA_PROVENANCE_V02 => {
            base.builder_id = str_at(predicate, "/builder/id");
            base.build_type = str_at(predicate, "/buildType");
            facts.created = str_at(predicate, "/metadata/buildStartedOn");
            read_dependencies(
                predicate.get("materials"),
                &at("predicate.materials"),
                &mut dependencies,
                &mut facts.skipped,
            )?;
        }
        MODEL_SIGNING_V1 => {
            for (i, r) in predicate
                .get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let name = r.get("name").and_then(Value::as_str);
                let digest = r.get("digest").and_then(Value::as_str);
                let algorithm = r
                    .get("algorithm")
                    .and_then(Value::as_str)
                    .unwrap_or("sha256");
                match (name, digest) {
                    (Some(n), Some(d)) if Hash::new(algorithm, "").alg == "sha256" => {
                        base.resources.push((n.to_string(), d.to_ascii_lowercase()))
                    }
                    _ => facts.skipped.push(Skipped {
                        reference: at(&format!("predicate.resources[{i}]")),
                        reason: format!(
                            "a resource without a name and a SHA-256 digest (algorithm {algorithm:?}) binds nothing"
                        ),
                    }),
                }
            }
        }
        MODEL_SIGNING_V01 => {
            // One subject per file: the subjects themselves bind.
        }
        other => facts.warnings.push(format!(
            "predicate type {other} is recorded with the subjects, not interpreted"
        )),
    }
    facts.tools.push(Tool {
        vendor: None,
        name: base.builder_id.clone().unwrap_or_else(|| {
            if predicate_type.starts_with("https://model_signing/") {
                "model_signing".into()
            } else {
                predicate_type.clone()
            }
        }),
        version: None,
    });
    if !base.signature.is_verified() {
        facts.warnings.push(format!(
            "signature: {} ({})",
            base.signature.status, base.signature.method
        ));
    }

    for (name, digests) in read_subjects {
        let (key, synthesized, _) = key_for(None, &name, None);
        let mut attestation = base.clone();
        attestation.subject_name = name.clone();
        attestation.subject_digests = digests.clone();
        facts.packages.push(PackageFact {
            key,
            purl_synthesized: synthesized,
            name,
            hashes: digests,
            direct: None,
            attestation: Some(Box::new(attestation)),
            ..Default::default()
        });
    }
    let subject_count = facts.packages.len();
    facts.subject = facts.packages.first().map(|p| Subject {
        name: p.name.clone(),
        package: Some(0),
        ..Default::default()
    });
    facts.entries_read = dependencies.len();
    for dep in dependencies {
        let to = facts.packages.len();
        facts.packages.push(dep);
        for from in 0..subject_count {
            facts.dependencies.push(DependencyFact {
                from,
                to,
                kind: EdgeKind::DependsOn,
                scope: Some(Scope::Build),
                marker: None,
                via_extra: None,
            });
        }
    }
    Ok(facts.finish())
}

fn wrong(message: &str) -> ImportError {
    ImportError::WrongFormat {
        expected: "in-toto attestation",
        message: message.into(),
    }
}

fn dsse_error(prefix: &str, e: DsseError) -> ImportError {
    match e {
        DsseError::Field { field, message } => {
            ImportError::field(format!("{prefix}{field}"), message)
        }
        DsseError::Certificate(m) => ImportError::field("verificationMaterial", m),
        // A key the caller gave that cannot be used is not the document's
        // fault, but it stops the check all the same; the caller checks
        // the key before reading documents (`Trust::check`).
        DsseError::Key(m) => ImportError::field("(signing key)", m),
    }
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

/// A DigestSet (`{"sha256": "…", "gitCommit": "…"}`) as hashes.
fn digests_of(v: Option<&Value>) -> Result<Vec<Hash>, String> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let map = v.as_object().ok_or("not an object of algorithm → digest")?;
    let mut out = Vec::with_capacity(map.len());
    for (alg, value) in map {
        let value = value
            .as_str()
            .ok_or_else(|| format!("digest {alg:?} is not a string"))?;
        if value.trim().is_empty() {
            return Err(format!("digest {alg:?} is empty"));
        }
        out.push(Hash::new(alg, value));
    }
    Ok(out)
}

/// SLSA resolved dependencies (v1 ResourceDescriptors) or materials (v0.2).
fn read_dependencies(
    list: Option<&Value>,
    field: &str,
    out: &mut Vec<PackageFact>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), ImportError> {
    let Some(list) = list else { return Ok(()) };
    let list = list
        .as_array()
        .ok_or_else(|| ImportError::field(field, "not a list"))?;
    for (i, d) in list.iter().enumerate() {
        let here = format!("{field}[{i}]");
        let digests = digests_of(d.get("digest"))
            .map_err(|m| ImportError::field(format!("{here}.digest"), m))?;
        let uri = d
            .get("uri")
            .and_then(Value::as_str)
            .filter(|u| !u.trim().is_empty());
        let name = d
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty());
        let Some(mut fact) = dependency(uri, name, &digests) else {
            skipped.push(Skipped {
                reference: here,
                reason: "a resolved dependency with neither a uri nor a name names nothing".into(),
            });
            continue;
        };
        fact.hashes = digests;
        fact.scope = Some(Scope::Build);
        if let Some(n) = name
            && fact.name != n
        {
            fact.filename = Some(n.to_string());
        }
        out.push(fact);
    }
    Ok(())
}

/// The package a resolved dependency names: its purl when the uri is one or
/// a recognisable PyPI, Git or OCI reference; else `pkg:generic` named by the
/// uri (or the name), its digests kept as hashes.
fn dependency(uri: Option<&str>, name: Option<&str>, digests: &[Hash]) -> Option<PackageFact> {
    let digest = |alg: &str| {
        digests
            .iter()
            .find(|h| h.alg.eq_ignore_ascii_case(alg))
            .map(|h| h.value.clone())
    };
    let with_purl = |purl: String, source: Option<&str>| {
        let (key, synthesized, qualifiers) = key_for(Some(&purl), "", None);
        let key = key?;
        Some(PackageFact {
            name: key_name(&key),
            version: key.version(),
            key: Some(key),
            purl: Some(purl),
            purl_synthesized: synthesized,
            qualifiers,
            source: source.map(str::to_string),
            ..Default::default()
        })
    };
    let Some(uri) = uri else {
        let (key, synthesized, _) = key_for(None, name?, None);
        return Some(PackageFact {
            key,
            purl_synthesized: synthesized,
            name: name?.to_string(),
            ..Default::default()
        });
    };
    if uri.starts_with("pkg:") && aibomdb_graph::Purl::parse(uri).is_ok() {
        return with_purl(uri.to_string(), None);
    }
    if let Some(purl) = pypi_purl(uri) {
        return with_purl(purl, Some(uri));
    }
    if let Some(purl) = git_purl(uri, digest("gitCommit").or_else(|| digest("sha1"))) {
        return with_purl(purl, Some(uri));
    }
    if let Some(purl) = oci_purl(uri, digest("sha256")) {
        return with_purl(purl, Some(uri));
    }
    Some(PackageFact {
        key: Some(PackageKey::from_parts("generic", None, uri, None)),
        purl_synthesized: true,
        name: uri.to_string(),
        source: Some(uri.to_string()),
        ..Default::default()
    })
}

fn key_name(key: &PackageKey) -> String {
    let s = key.unversioned();
    s.rsplit('/').next().unwrap_or(s).to_string()
}

/// `https://files.pythonhosted.org/packages/…/<wheel or sdist>` and
/// `https://pypi.org/project/<name>/<version>/`.
fn pypi_purl(uri: &str) -> Option<String> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    match host {
        "files.pythonhosted.org" | "pypi.org" | "pypi.python.org"
            if path.starts_with("packages/") =>
        {
            let file = path.rsplit('/').next()?;
            let (name, version) = if let Some(stem) = file.strip_suffix(".whl") {
                let mut parts = stem.split('-');
                (parts.next()?.to_string(), parts.next()?.to_string())
            } else {
                let stem = [".tar.gz", ".zip", ".tar.bz2", ".tgz"]
                    .iter()
                    .find_map(|ext| file.strip_suffix(ext))?;
                let (n, v) = stem.rsplit_once('-')?;
                (n.to_string(), v.to_string())
            };
            (!name.is_empty() && !version.is_empty()).then(|| {
                format!(
                    "pkg:pypi/{}@{version}",
                    aibomdb_graph::pep503_normalise(&name)
                )
            })
        }
        "pypi.org" => {
            let mut parts = path.trim_end_matches('/').split('/');
            (parts.next()? == "project").then_some(())?;
            let name = parts.next()?;
            let version = parts.next()?;
            Some(format!(
                "pkg:pypi/{}@{version}",
                aibomdb_graph::pep503_normalise(name)
            ))
        }
        _ => None,
    }
}

/// `git+https://github.com/org/repo[.git][@ref]` (and other hosts), with the
/// commit from the uri's ref or the `gitCommit` digest.
fn git_purl(uri: &str, commit: Option<String>) -> Option<String> {
    let rest = uri.strip_prefix("git+")?;
    let (location, reference) = match rest.rsplit_once('@') {
        Some((l, r)) if l.contains("://") && !r.contains('/') || r.starts_with("refs/") => {
            (l, Some(r))
        }
        _ => (rest, None),
    };
    let version = commit.or_else(|| reference.map(str::to_string));
    let location = location.trim_end_matches('/').trim_end_matches(".git");
    let after_scheme = location.split_once("://").map_or(location, |(_, r)| r);
    let (host, path) = after_scheme.split_once('/')?;
    let version = version.map(|v| format!("@{v}")).unwrap_or_default();
    let mut segments = path.split('/');
    if host == "github.com" {
        let org = segments.next()?;
        let repo = segments.next()?;
        return Some(format!(
            "pkg:github/{}/{}{version}",
            org.to_ascii_lowercase(),
            repo.to_ascii_lowercase()
        ));
    }
    let repo = path.rsplit('/').next()?;
    Some(format!(
        "pkg:generic/{repo}{version}?vcs_url={}",
        encode_qualifier(uri)
    ))
}

/// `oci://registry/path/name[:tag][@sha256:…]`, `docker://…`, or
/// `registry/path/name@sha256:…`: the purl spec's `pkg:oci/<name>@<digest>`
/// with the repository as `repository_url`.
fn oci_purl(uri: &str, sha256: Option<String>) -> Option<String> {
    let (explicit, rest) = match uri
        .strip_prefix("oci://")
        .or_else(|| uri.strip_prefix("docker://"))
    {
        Some(rest) => (true, rest),
        None => (false, uri),
    };
    if rest.contains("://") {
        return None;
    }
    let (repository, digest) = match rest.split_once("@sha256:") {
        Some((r, d)) => (r, Some(d.to_ascii_lowercase())),
        None if explicit => (rest, sha256),
        None => return None,
    };
    let digest = digest.filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let last_slash = repository.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match repository[last_slash..].rfind(':') {
        Some(i) => (
            &repository[..last_slash + i],
            Some(&repository[last_slash + i + 1..]),
        ),
        None => (repository, None),
    };
    let name = repository.rsplit('/').next()?.to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    let mut purl = format!(
        "pkg:oci/{name}@sha256%3A{digest}?repository_url={}",
        encode_qualifier(repository)
    );
    if let Some(tag) = tag {
        purl.push_str(&format!("&tag={}", encode_qualifier(tag)));
    }
    Some(purl)
}

fn encode_qualifier(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uri: &str, digests: &[Hash]) -> String {
        dependency(Some(uri), None, digests)
            .unwrap()
            .key
            .unwrap()
            .as_str()
            .to_string()
    }

    #[test]
    fn resolved_dependencies_become_purls() {
        assert_eq!(key("pkg:pypi/Torch@2.5.1", &[]), "pkg:pypi/torch@2.5.1");
        assert_eq!(
            key(
                "https://files.pythonhosted.org/packages/ab/cd/safetensors-0.8.0-cp38-abi3-manylinux_2_17_x86_64.whl",
                &[]
            ),
            "pkg:pypi/safetensors@0.8.0"
        );
        assert_eq!(
            key(
                "https://files.pythonhosted.org/packages/ab/cd/Jinja2-3.1.4.tar.gz",
                &[]
            ),
            "pkg:pypi/jinja2@3.1.4"
        );
        assert_eq!(
            key("https://pypi.org/project/numpy/2.4.6/", &[]),
            "pkg:pypi/numpy@2.4.6"
        );
        let commit = Hash::new("gitCommit", "a".repeat(40).as_str());
        assert_eq!(
            key(
                "git+https://github.com/HuggingFace/transformers@refs/heads/main",
                std::slice::from_ref(&commit)
            ),
            format!("pkg:github/huggingface/transformers@{}", "a".repeat(40))
        );
        assert!(
            key("git+https://gitlab.example/group/tool.git", &[commit])
                .starts_with("pkg:generic/tool@aaaa")
        );
        let d = "b".repeat(64);
        assert_eq!(
            key(&format!("ghcr.io/org/img:1.0@sha256:{d}"), &[]),
            format!("pkg:oci/img@sha256:{d}")
        );
        assert_eq!(
            key("oci://docker.io/library/python", &[Hash::new("sha256", &d)]),
            format!("pkg:oci/python@sha256:{d}")
        );
        // Anything else: a generic node named by the uri.
        assert_eq!(
            key("https://example.org/data/train.tar.gz", &[]),
            "pkg:generic/https:%2F%2Fexample.org%2Fdata%2Ftrain.tar.gz"
        );
    }

    #[test]
    fn sniffs_statements_envelopes_and_bundles() {
        assert!(sniff(r#"{"_type": "https://in-toto.io/Statement/v1"}"#));
        assert!(sniff(r#"{"payloadType":"application/vnd.in-toto+json"}"#));
        assert!(sniff(
            r#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}"#
        ));
        // A truncated envelope, payload first: its start is a statement.
        let payload = base64::engine::general_purpose::STANDARD
            .encode(br#"{"_type": "https://in-toto.io/Statement/v1", "subject": []}"#);
        assert!(sniff(&format!(r#"{{"payload": "{}"#, &payload[..60])));
        assert!(!sniff(r#"{"payload": "aGVsbG8gd29ybGQ="}"#));
        assert!(!sniff(r#"{"bomFormat": "CycloneDX"}"#));
    }

    #[test]
    fn a_bare_statement_is_unsigned_and_needs_subjects() {
        let facts = import(
            br#"{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://example.org/x",
                 "subject": [{"name": "a.bin", "digest": {"sha256": "AB"}}], "predicate": {}}"#,
            &Trust::default(),
        )
        .unwrap();
        let a = facts.packages[0].attestation.as_ref().unwrap();
        assert_eq!(a.signature.status, "unsigned (bare statement)");
        assert_eq!(a.subject_digests, [Hash::new("sha256", "ab")]);
        assert!(facts.warnings.iter().any(|w| w.contains("not interpreted")));
        let err = import(
            br#"{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "subject": []}"#,
            &Trust::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("field `subject`: empty"),
            "{err}"
        );
    }
}
