//! Hugging Face model card front matter.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = aibomdb_importer_model::card::parse(text);
    }
});
