//! The pickle opcode walker (never executes anything).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut report = aibomdb_graph::PickleReport::default();
    aibomdb_importer_model::pickle::scan(data, &mut report);
});
