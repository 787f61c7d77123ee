//! safetensors header JSON checked against a data length.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (len, json) = data.split_at(8);
    let data_len = u64::from_le_bytes(len.try_into().unwrap_or([0; 8])) % (1 << 40);
    let _ = aibomdb_importer_model::safetensors::parse(json, data_len);
});
