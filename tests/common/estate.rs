//! A small estate of real inputs for the overview, search and dashboard
//! tests: the shipped examples, syft's SBOM of the python image in two
//! deployments, three Docker Hub images, pip-tools' requirements SBOM,
//! PyPA's advisories, a CycloneDX VEX that takes pip out in both python
//! deployments, and the fine-tune fixture ingested as two models, one under
//! the Hub id `docs/transformers` (a one-off component named like the PyPI
//! package two deployments hold, as a rootfs SBOM can list one).

use std::path::{Path, PathBuf};

use super::{aibomdb, corpus, stderr};

fn run_ok(db: &Path, args: &[&str]) {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn build(db: &Path) {
    let c = corpus();
    let root = root();
    let python = c.join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    run_ok(db, &["ingest", root.join("examples").to_str().unwrap()]);
    run_ok(
        db,
        &[
            "advisories",
            "load",
            c.join("osv/pypa-advisory-database").to_str().unwrap(),
        ],
    );
    for d in ["python", "python-2"] {
        run_ok(db, &["ingest", "--deployment", d, python.to_str().unwrap()]);
    }
    for image in ["alpine", "nginx", "debian"] {
        let sbom = c.join(format!("external/guac-data/top-dh-sboms/{image}.json"));
        run_ok(
            db,
            &["ingest", "--deployment", image, sbom.to_str().unwrap()],
        );
    }
    let tools = root.join("tests/fixtures/formats/pip-tools-req-1.4.cdx.json");
    run_ok(
        db,
        &["ingest", "--deployment", "tools", tools.to_str().unwrap()],
    );
    let vex = root.join("tests/fixtures/vex/python-image.cdx-vex.json");
    run_ok(db, &["ingest", vex.to_str().unwrap()]);
    let model = root.join("tests/fixtures/models/finetune-safetensors");
    for (deployment, id) in [
        ("classifier", "aibomdb-test/bert-imdb"),
        ("docs-model", "docs/transformers"),
    ] {
        run_ok(
            db,
            &[
                "ingest-model",
                model.to_str().unwrap(),
                "--deployment",
                deployment,
                "--id",
                id,
            ],
        );
    }
}
