//! `aibomdb-bench cdx-xml`: CycloneDX XML read throughput. The largest real
//! CycloneDX JSON SBOM in the shared corpus (syft's SBOM of the
//! `python:latest` image, in GUAC's data) is written as XML by
//! cyclonedx-python-lib at bench time, into a temporary directory
//! (`tests/fixtures/cdx-container/convert.py`; nothing large is committed).
//! aibomdb then reads it — detect, XML tree, mapping, facts; no store —
//! several times; in the same command cyclonedx-python-lib reads the same
//! file (`ElementTree` parse and `Bom.from_xml`).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::repo_root;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut runs = 20usize;
    let mut source = repo_root().join(
        "../shared/corpus/external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    let mut baseline = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            "--no-baseline" => baseline = false,
            f => source = PathBuf::from(f),
        }
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = tempfile::tempdir()?;
    let (json, xml) = (
        dir.path().join("bom.cdx.json"),
        dir.path().join("bom.cdx.xml"),
    );
    let convert = repo_root().join("tests/fixtures/cdx-container/convert.py");
    let out = Command::new(&python)
        .arg(&convert)
        .arg(&source)
        .arg(&json)
        .arg(&xml)
        .arg("1.6")
        .output()
        .with_context(|| format!("running {}", convert.display()))?;
    if !out.status.success() {
        bail!(
            "conversion failed (pip install cyclonedx-python-lib): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bytes = std::fs::read(&xml)?;
    let mb = bytes.len() as f64 / 1e6;
    let (median, best, packages) = crate::time_prepare(&xml, &bytes, runs)?;
    println!(
        "cdx-xml benchmark: {} as CycloneDX 1.6 XML by cyclonedx-python-lib ({mb:.2} MB, {packages} packages), {runs} runs, release build",
        source.display()
    );
    println!(
        "aibomdb   read to facts: median {:.2} ms, best {:.2} ms  →  {:.0} MB/s (median)",
        median * 1e3,
        best * 1e3,
        mb / median
    );
    if !baseline {
        return Ok(());
    }
    let script = format!(
        "import sys,time\nfrom xml.etree import ElementTree as ET\nfrom cyclonedx.model.bom import Bom\nb=open(sys.argv[1],'rb').read()\nts=[]\nn=0\nfor _ in range({runs}):\n    t=time.perf_counter()\n    bom=Bom.from_xml(ET.fromstring(b))\n    ts.append(time.perf_counter()-t)\n    n=len(bom.components)\nts.sort()\nprint(ts[len(ts)//2], ts[0], n)"
    );
    let [base, best, components] = crate::python_figures(&script, &xml)?;
    println!(
        "baseline  cyclonedx-python-lib Bom.from_xml (ElementTree), {components} components: median {:.2} ms, best {:.2} ms  →  {:.1} MB/s (median)",
        base * 1e3,
        best * 1e3,
        mb / base
    );
    crate::print_ratio(base, median);
    Ok(())
}
