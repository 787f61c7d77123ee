//! The synthetic estate `scale` measures: N deployments written as
//! CycloneDX 1.6 JSON files, deterministic by seed, and kept on disk with a
//! marker naming the generator's version.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::estate::{self, EstateSpec, Rng};

#[derive(Default)]
pub(crate) struct Written {
    pub(crate) files: usize,
    pub(crate) bytes: u64,
    pub(crate) generated: bool,
}

/// Writes the estate unless a complete copy is already there.
pub(crate) fn write_estate(
    dir: &Path,
    spec: &EstateSpec,
    models_share: f64,
    pool: &[(String, Vec<String>)],
) -> Result<Written> {
    let marker = dir.join(".complete");
    if let Ok(text) = std::fs::read_to_string(&marker)
        && let [files, bytes, generation] = text.split_whitespace().collect::<Vec<_>>()[..]
        && generation == GENERATION
    {
        return Ok(Written {
            files: files.parse()?,
            bytes: bytes.parse()?,
            generated: false,
        });
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let mut bytes = 0u64;
    let mut buf = String::with_capacity(128 * 1024);
    for d in 0..spec.deployments {
        buf.clear();
        cyclonedx(&mut buf, d, spec, models_share, pool);
        let path = dir.join(format!("d{d:06}.cdx.json"));
        std::fs::write(&path, buf.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        bytes += buf.len() as u64;
    }
    std::fs::write(
        &marker,
        format!("{} {bytes} {GENERATION}\n", spec.deployments),
    )?;
    Ok(Written {
        files: spec.deployments,
        bytes,
        generated: true,
    })
}

/// The generator's version, kept in the estate's marker: an estate written
/// by an earlier generator is written again. g2: a package's licence is a
/// function of the package (g1 drew one per occurrence, so one release
/// carried different licences in different deployments, which no registry
/// does).
const GENERATION: &str = "g2";

/// A deterministic stand-in for a wheel's SHA-256: the same package gets the
/// same digest in every deployment, as a real lockfile would give it.
fn digest(purl: &str) -> String {
    let mut rng = Rng(fnv(purl) | 1);
    (0..4).fold(String::with_capacity(64), |mut s, _| {
        let _ = write!(s, "{:016x}", rng.next());
        s
    })
}

fn fnv(text: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

const LICENSES: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "BSD-3-Clause",
    "BSD-2-Clause",
    "ISC",
    "MPL-2.0",
];
const BASE_MODELS: &[&str] = &[
    "meta-llama/Llama-3.2-3B-Instruct",
    "mistralai/Mistral-7B-v0.3",
    "google-bert/bert-base-uncased",
    "FacebookAI/roberta-base",
    "Qwen/Qwen2.5-7B-Instruct",
    "microsoft/phi-2",
    "google/gemma-2-2b",
    "openai-community/gpt2",
];
const DATASETS: &[&str] = &[
    "stanfordnlp/imdb",
    "rajpurkar/squad_v2",
    "tatsu-lab/alpaca",
    "HuggingFaceH4/ultrachat_200k",
    "glue",
];

/// One deployment as a CycloneDX 1.6 document: the packages and tree of the
/// shared generator, each package with a purl, a SHA-256 and a licence, and
/// in a share of deployments a model chain the application depends on.
fn cyclonedx(
    out: &mut String,
    d: usize,
    spec: &EstateSpec,
    models_share: f64,
    pool: &[(String, Vec<String>)],
) {
    let facts = estate::deployment_facts(d, spec, pool);
    let mut rng = Rng(spec.seed.wrapping_mul(31).wrapping_add(d as u64 + 7) | 1);
    let purls: Vec<String> = facts
        .packages
        .iter()
        .map(|p| p.purl.clone().unwrap_or_else(|| p.name.clone()))
        .collect();
    let app = &facts.packages[0];
    let mut components = Vec::with_capacity(facts.packages.len() + 4);
    for (p, purl) in facts.packages.iter().zip(&purls).skip(1) {
        // Drawn and not used, so that every later draw (the model chain)
        // stays as generator g1 made it.
        let _ = rng.below(LICENSES.len());
        components.push(json!({
            "type": "library",
            "bom-ref": purl,
            "name": p.name,
            "version": p.version,
            "purl": purl,
            "hashes": [{"alg": "SHA-256", "content": digest(purl)}],
            "licenses": [{"license": {"id": LICENSES[(fnv(purl) % LICENSES.len() as u64) as usize]}}],
        }));
    }
    let mut depends: Vec<Vec<String>> = vec![Vec::new(); facts.packages.len()];
    for e in &facts.dependencies {
        depends[e.from].push(purls[e.to].clone());
    }
    let mut dependencies: Vec<Value> = Vec::new();
    let with_model = (rng.below(1_000_000) as f64) < models_share * 1_000_000.0;
    if with_model {
        // base → fine-tune (trained on a dataset) → adapter; the
        // application depends on the adapter.
        let base = BASE_MODELS[rng.below(BASE_MODELS.len())];
        let dataset = DATASETS[rng.below(DATASETS.len())];
        let team = format!("team-{:02}", rng.below(40));
        let short = base.rsplit('/').next().unwrap_or(base).to_ascii_lowercase();
        let tune = format!("{team}/{short}-ft-{}", rng.below(5));
        let adapter = format!("{team}/{short}-lora-{d:06}");
        let model_purl = |id: &str, rev: &str| {
            let (ns, name) = id.split_once('/').unwrap_or(("", id));
            format!("pkg:huggingface/{ns}/{name}@{rev}")
        };
        let base_purl = model_purl(base, "main");
        let tune_purl = model_purl(&tune, "v1");
        let adapter_purl = model_purl(&adapter, "v1");
        let dataset_ref = format!("dataset:{dataset}");
        components.push(json!({
            "type": "data", "bom-ref": dataset_ref, "name": dataset,
            "data": [{"type": "dataset", "name": dataset}],
        }));
        components.push(json!({
            "type": "machine-learning-model", "bom-ref": tune_purl, "name": tune, "version": "v1",
            "purl": tune_purl,
            "modelCard": {"modelParameters": {"task": "text-classification", "datasets": [{"ref": dataset_ref}]}},
            "pedigree": {"ancestors": [{"type": "machine-learning-model", "name": base, "version": "main", "purl": base_purl,
                "properties": [{"name": "aibomdb:lineage:relation", "value": "fine-tune"}]}]},
        }));
        components.push(json!({
            "type": "machine-learning-model", "bom-ref": adapter_purl, "name": adapter, "version": "v1",
            "purl": adapter_purl,
            "pedigree": {"ancestors": [{"type": "machine-learning-model", "name": tune, "version": "v1", "purl": tune_purl,
                "properties": [{"name": "aibomdb:lineage:relation", "value": "adapter"}]}]},
        }));
        depends[0].push(adapter_purl.clone());
        dependencies.push(json!({"ref": adapter_purl, "dependsOn": [tune_purl]}));
        dependencies.push(json!({"ref": tune_purl, "dependsOn": []}));
    }
    for (purl, on) in purls.iter().zip(depends) {
        dependencies.push(json!({"ref": purl, "dependsOn": on}));
    }
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:00000000-0000-4000-8000-{:012x}", d as u64 ^ (spec.seed << 20)),
        "version": 1,
        "metadata": {
            "timestamp": "2026-11-30T00:00:00Z",
            "tools": {"components": [{"type": "application", "name": "aibomdb-bench", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {
                "type": "application",
                "bom-ref": purls[0],
                "name": app.name,
                "version": app.version,
                "purl": purls[0],
            },
        },
        "components": components,
        "dependencies": dependencies,
    });
    out.push_str(&doc.to_string());
}
