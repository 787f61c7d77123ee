//! `aibomdb-bench models`: hashing and scanning a model directory — a 1 GiB
//! synthetic safetensors file, and a directory of many small files with
//! pickles among them — through the importer (streaming SHA-256, header and
//! opcode scans), next to Python's hashlib on the same files in the same
//! command. Prints MB/s and the process's peak resident memory.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::repo_root;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut mib: u64 = 1024;
    let mut small_files = 5_000usize;
    let mut runs = 3usize;
    let mut baseline = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--mib" => mib = it.next().context("--mib N")?.parse()?,
            "--small-files" => small_files = it.next().context("--small-files N")?.parse()?,
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            "--no-baseline" => baseline = false,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let work = tempfile::tempdir_in(std::env::temp_dir())?;
    let big = work.path().join("big");
    let small = work.path().join("small");
    std::fs::create_dir_all(&big)?;
    std::fs::create_dir_all(&small)?;
    write_safetensors(&big.join("model.safetensors"), mib << 20)?;
    let pickle =
        std::fs::read(repo_root().join("tests/fixtures/models/checkpoint-pickle/optimizer.pt"))?;
    let torch_zip = std::fs::read(repo_root().join("tests/fixtures/models/pickle-zoo/benign.pth"))?;
    for i in 0..small_files {
        let path = small.join(format!("shard-{i:05}"));
        match i % 50 {
            0 => std::fs::write(path.with_extension("pt"), &pickle)?,
            1 => std::fs::write(path.with_extension("pth"), &torch_zip)?,
            _ => std::fs::write(path.with_extension("json"), pseudo_random(4096, i as u64))?,
        }
    }
    let hwm_before = peak_rss_kib();
    println!(
        "models benchmark: {mib} MiB safetensors file; {small_files} small files (4 KiB, every 50th a pickle or torch zip); median of {runs} runs, warm page cache, release build"
    );
    let sha512 = aibomdb_importer_model::ModelLimits {
        sha512: true,
        ..Default::default()
    };
    let plain = aibomdb_importer_model::ModelLimits::default();
    for (label, dir, limits, with_baseline) in [
        ("1 file, safetensors", &big, &plain, true),
        ("many small files", &small, &plain, true),
        ("1 file, + SHA-512", &big, &sha512, false),
    ] {
        // Warm the page cache so both sides read from memory.
        time_import(dir, limits)?;
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs {
            let (t, b, files) = time_import(dir, limits)?;
            times.push(t);
            bytes = b;
            if files == 0 {
                anyhow::bail!("nothing hashed in {}", dir.display());
            }
        }
        times.sort_by(f64::total_cmp);
        let ours = times[runs / 2];
        let mb = bytes as f64 / 1e6;
        print!(
            "  {label:<22} aibomdb {:>8.1} MB/s ({ours:.3} s for {mb:.0} MB)",
            mb / ours
        );
        if baseline && with_baseline {
            let out = Command::new("python3")
                .arg(repo_root().join("benches/baseline_model_hash.py"))
                .arg(dir)
                .arg(runs.to_string())
                .output()
                .context("running python3 benches/baseline_model_hash.py")?;
            anyhow::ensure!(
                out.status.success(),
                "baseline failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            let theirs = v["median_s"].as_f64().unwrap_or(f64::NAN);
            print!(
                "   python hashlib {:>8.1} MB/s ({theirs:.3} s)   ratio {:.2}x",
                mb / theirs,
                theirs / ours
            );
        }
        println!();
    }
    println!(
        "  peak RSS: {:.1} MiB before hashing (data generation), {:.1} MiB after (file of {mib} MiB)",
        hwm_before as f64 / 1024.0,
        peak_rss_kib() as f64 / 1024.0
    );
    Ok(())
}

/// Imports a model directory (hash, header and pickle scans); returns
/// seconds, bytes hashed and files hashed.
fn time_import(
    dir: &Path,
    limits: &aibomdb_importer_model::ModelLimits,
) -> Result<(f64, u64, usize)> {
    let start = Instant::now();
    let facts = aibomdb_importer_model::import_dir(dir, &Default::default(), limits)?;
    let elapsed = start.elapsed().as_secs_f64();
    let artifacts = &facts.packages[0]
        .model
        .as_ref()
        .context("no model info")?
        .artifacts;
    let bytes = artifacts.iter().filter_map(|a| a.size).sum();
    let problems: Vec<_> = artifacts.iter().flat_map(|a| &a.problems).collect();
    anyhow::ensure!(problems.is_empty(), "problems: {problems:?}");
    Ok((elapsed, bytes, artifacts.len()))
}

/// A valid safetensors file of `size` bytes: one F32 tensor filling it,
/// written in 1 MiB chunks (never held in memory).
fn write_safetensors(path: &Path, size: u64) -> Result<()> {
    let mut header = String::new();
    let mut data = 0;
    for _ in 0..2 {
        // The header's own length decides how much is left for the tensor.
        let elements = (size.saturating_sub(8 + header.len() as u64)) / 4;
        data = elements * 4;
        header = format!(
            r#"{{"weight":{{"dtype":"F32","shape":[{elements}],"data_offsets":[0,{data}]}}}}"#
        );
    }
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    f.write_all(&(header.len() as u64).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    let mut left = data;
    let mut seed = 1u64;
    while left > 0 {
        let n = left.min(1 << 20);
        f.write_all(&pseudo_random(n as usize, seed))?;
        seed += 1;
        left -= n;
    }
    f.flush()?;
    Ok(())
}

fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
