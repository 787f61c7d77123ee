//! The keras reader (importers/model/src/keras.rs) over arbitrary bytes: a
//! result or an error naming the field, never a panic or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aibomdb_importer_model::keras::parse(data);
});
