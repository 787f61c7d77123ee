//! The onnx reader (importers/model/src/onnx.rs) over arbitrary bytes: a
//! result or an error naming the field, never a panic or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aibomdb_importer_model::onnx::parse(data);
});
