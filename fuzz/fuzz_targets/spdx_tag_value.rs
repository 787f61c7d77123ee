//! The SPDX 2 tag-value reader (lines, `<text>` blocks, sections, the bounds)
//! and the mapping it shares with JSON. An input that would start with `{`
//! (and so take the JSON path) is given a leading newline, so every mutation
//! is read as tag-value. Seeds: the `.spdx` files in tests/fixtures.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut doc = Vec::with_capacity(data.len() + 1);
    if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        doc.extend_from_slice(b"#\n");
    }
    doc.extend_from_slice(data);
    let _ = aibomdb_importer_spdx::import_v2(&doc);
});
