//! OSV records, JSON or the PyPA YAML form.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = if data.first() == Some(&b'{') { "r.json" } else { "r.yaml" };
    let _ = aibomdb_osv::load_bytes(name, data);
});
