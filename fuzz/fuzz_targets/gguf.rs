//! The gguf reader (importers/model/src/gguf.rs) over arbitrary bytes: a
//! result or an error naming the field, never a panic or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aibomdb_importer_model::gguf::parse(data);
});
