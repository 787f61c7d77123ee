//! The CycloneDX importer on its own (1.2–1.7 JSON, ML-BOM, pedigree),
//! without content detection in front, so every mutation reaches it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aibomdb_importer_cyclonedx::import(data);
});
