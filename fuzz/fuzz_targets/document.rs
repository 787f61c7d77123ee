//! Every document reader behind content detection: CycloneDX, SPDX 2/3,
//! OpenVEX, Hub model info, Pipfile.lock, and (by the file name in the first
//! byte) uv.lock, poetry.lock, pdm.lock, pylock.toml, requirements.txt, model
//! cards and configs. Errors are fine; panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "sbom.json",
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "pylock.toml",
    "requirements.txt",
    "Pipfile.lock",
    "README.md",
    "config.json",
    "adapter_config.json",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let name = NAMES[pick as usize % NAMES.len()];
    let _ = aibomdb_ingest::prepare_upload(name, bytes);
});
