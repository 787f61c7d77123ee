//! The CycloneDX XML reader (bounded tree, entity refusal, mapping to the
//! JSON shape, then the shared builder). Every input is made to start with
//! `<` so that each mutation takes the XML path. Seeds: the XML pairs in
//! tests/fixtures/formats.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut doc = Vec::with_capacity(data.len() + 1);
    if !data.starts_with(b"<") {
        doc.push(b'<');
    }
    doc.extend_from_slice(data);
    let _ = aibomdb_importer_cyclonedx::import(&doc);
});
