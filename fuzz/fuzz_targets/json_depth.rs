//! The pre-parse JSON depth check.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aibomdb_graph::json::check_depth(data, 16);
});
