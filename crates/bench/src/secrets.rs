//! `aibomdb-bench secrets`: the secrets scan over a model directory of many
//! text files (tokenizer vocabularies, configs, training scripts, YAML, cards,
//! with a fake credential planted in every 50th), with gitleaks' rules:
//! `Rules::scan` alone on one thread (files already in memory), and the
//! whole importer (hash, scan, up to 4 threads) reading the directory; next
//! to a Python `re` pass over the same files with the same gitleaks rules
//! and keyword pre-filter (`benches/baseline_secrets.py`, one thread). The
//! baseline does less than gitleaks (no entropy, no allow-lists), so it is a
//! floor for a Python scanner's cost, not a ceiling.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::repo_root;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut files = 2_000usize;
    let mut kib = 32usize;
    let mut runs = 3usize;
    let mut baseline = true;
    let mut keep: Option<std::path::PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--files" => files = it.next().context("--files N")?.parse()?,
            "--kib" => kib = it.next().context("--kib N")?.parse()?,
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            "--no-baseline" => baseline = false,
            "--dir" => keep = Some(it.next().context("--dir DIR")?.into()),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let work = tempfile::tempdir_in(std::env::temp_dir())?;
    // Written under --dir (and kept) when given, else in a temporary folder.
    let dir = keep.unwrap_or_else(|| work.path().join("text-model"));
    std::fs::create_dir_all(&dir)?;
    let mut texts: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..files {
        let (name, text) = text_file(i, kib << 10);
        std::fs::write(dir.join(&name), &text)?;
        texts.push((name, text));
    }
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let mb = bytes as f64 / 1e6;
    let rules = aibomdb_secrets::Rules::gitleaks();
    println!(
        "secrets benchmark: {files} text files of {kib} KiB ({mb:.0} MB; tokenizer vocabularies, configs, scripts, YAML, cards; a fake credential in every 50th); {} gitleaks rules; median of {runs} runs, release build",
        rules.len()
    );
    // Rules::scan alone, one thread, files in memory.
    let mut hits = 0;
    let scan = median(runs, || {
        let start = Instant::now();
        hits = texts.iter().map(|(n, t)| rules.scan(t, n).len()).sum();
        start.elapsed().as_secs_f64()
    });
    println!(
        "  Rules::scan, 1 thread     {:>8.1} MB/s ({scan:.3} s, {hits} findings)",
        mb / scan
    );
    // The importer reading the directory: hash + scan, up to 4 threads.
    let mut found = 0;
    let import = median(runs, || {
        let start = Instant::now();
        let facts =
            aibomdb_importer_model::import_dir(&dir, &Default::default(), &Default::default());
        let t = start.elapsed().as_secs_f64();
        found = facts.map_or(0, |f| f.packages[0].secrets.len());
        t
    });
    println!(
        "  import_dir (hash + scan)  {:>8.1} MB/s ({import:.3} s, {found} findings, {} threads)",
        mb / import,
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4)
    );
    if baseline {
        let out = Command::new("python3")
            .arg(repo_root().join("benches/baseline_secrets.py"))
            .arg(&dir)
            .arg(repo_root().join("crates/secrets/rules/gitleaks.toml"))
            .arg(runs.to_string())
            .output()
            .context("running python3 benches/baseline_secrets.py")?;
        anyhow::ensure!(
            out.status.success(),
            "baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let theirs = v["median_s"].as_f64().unwrap_or(f64::NAN);
        println!(
            "  python re, 1 thread       {:>8.1} MB/s ({theirs:.3} s, {} matches; {} of {} rules compiled by re)   Rules::scan is {:.1}x faster",
            mb / theirs,
            v["matches"],
            v["compiled"],
            v["rules"],
            theirs / scan
        );
    }
    Ok(())
}

fn median(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    f(); // warm-up
    let mut t: Vec<f64> = (0..runs.max(1)).map(|_| f()).collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

const WORDS: &[&str] = &[
    "model",
    "layer",
    "hidden",
    "attention",
    "weight",
    "bias",
    "learning",
    "rate",
    "batch",
    "epoch",
    "token",
    "tokenizer",
    "vocab",
    "embedding",
    "dropout",
    "config",
    "output",
    "input",
    "checkpoint",
    "optimizer",
    "scheduler",
    "warmup",
    "steps",
    "gradient",
    "accumulation",
    "precision",
    "dataset",
    "train",
    "eval",
    "loss",
    "accuracy",
    "key",
    "value",
    "query",
    "head",
    "norm",
    "activation",
    "gelu",
    "silu",
    "rope",
    "theta",
    "context",
    "length",
    "max",
    "position",
    "padding",
    "special",
    "user",
    "assistant",
    "system",
    "prompt",
    "template",
    "api",
    "path",
    "cache",
    "dir",
    "seed",
    "logging",
];

/// A text file of about `size` bytes, in one of five shapes.
fn text_file(i: usize, size: usize) -> (String, Vec<u8>) {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let word = |n: &mut dyn FnMut() -> u64| WORDS[(n() % WORDS.len() as u64) as usize];
    let mut out = String::with_capacity(size + 256);
    let name = match i % 5 {
        0 => {
            out.push_str("{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\", \"vocab\": {");
            let mut id = 0;
            while out.len() < size {
                let w = format!("{}{}", word(&mut next), word(&mut next));
                out.push_str(&format!("\"Ġ{w}\": {id}, "));
                id += 1;
            }
            out.push_str("\"<eos>\": 0}}}\n");
            format!("tokenizer-{i:05}.json")
        }
        1 => {
            out.push_str("{\n");
            while out.len() < size {
                let v = next() % 10_000;
                out.push_str(&format!(
                    "  \"{}_{}_{}\": {v},\n",
                    word(&mut next),
                    word(&mut next),
                    next() % 64
                ));
            }
            out.push_str("  \"end\": true\n}\n");
            format!("config-{i:05}.json")
        }
        2 => {
            out.push_str("import torch\nfrom transformers import AutoModel, Trainer\n\n");
            while out.len() < size {
                out.push_str(&format!(
                    "def {}_{}(x, {}=None):\n    {} = x.{}({}={})\n    return {}\n\n",
                    word(&mut next),
                    word(&mut next),
                    word(&mut next),
                    word(&mut next),
                    word(&mut next),
                    word(&mut next),
                    next() % 100,
                    word(&mut next)
                ));
            }
            format!("train-{i:05}.py")
        }
        3 => {
            while out.len() < size {
                out.push_str(&format!(
                    "{}:\n  {}: {}\n  {}: \"{}\"\n",
                    word(&mut next),
                    word(&mut next),
                    next() % 1000,
                    word(&mut next),
                    word(&mut next)
                ));
            }
            format!("settings-{i:05}.yaml")
        }
        _ => {
            out.push_str("# Model card\n\n");
            while out.len() < size {
                for _ in 0..12 {
                    out.push_str(word(&mut next));
                    out.push(' ');
                }
                out.push_str(".\n");
            }
            format!("notes-{i:05}.md")
        }
    };
    if i % 50 == 7 {
        // Fake, generated here, valid for nothing.
        let letters: String = (0..34)
            .map(|_| (b'a' + (next() % 26) as u8) as char)
            .collect();
        out.push_str(&format!("\nhub_token = \"hf_{letters}\"\n"));
    }
    (name, out.into_bytes())
}
