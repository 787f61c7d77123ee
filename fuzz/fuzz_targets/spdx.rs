//! The SPDX importers on their own: the first byte picks 2.x JSON (even) or
//! 3.0 JSON-LD (odd); the rest is the document.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let _ = if pick % 2 == 0 {
        aibomdb_importer_spdx::import_v2(bytes)
    } else {
        aibomdb_importer_spdx::import_v3(bytes)
    };
});
