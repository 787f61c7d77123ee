//! The safetensors header: an 8-byte little-endian length, then that many
//! bytes of JSON naming each tensor's dtype, shape and byte range. Read
//! without touching the tensor data (the `safetensors` crate wants the whole
//! file in memory).

use std::io::Read;
use std::path::Path;

const MAX_HEADER: u64 = 100 * 1024 * 1024;

/// The number of tensors, after checking that every byte range lies inside the file.
pub fn header(path: &Path, size: u64) -> Result<u64, String> {
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|_| "shorter than 8 bytes".to_string())?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER || n > size.saturating_sub(8) {
        return Err(format!("header length {n} does not fit a {size}-byte file"));
    }
    let mut json = vec![0u8; n as usize];
    f.read_exact(&mut json).map_err(|e| e.to_string())?;
    parse(&json, size - 8 - n)
}

/// Checks a header's JSON against the size of the data that follows it.
pub fn parse(json: &[u8], data_len: u64) -> Result<u64, String> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("header JSON: {e}"))?;
    let map = v.as_object().ok_or("header is not a JSON object")?;
    let mut tensors = 0;
    for (name, t) in map {
        if name == "__metadata__" {
            continue;
        }
        let offsets = t
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .filter(|o| o.len() == 2)
            .ok_or_else(|| format!("tensor {name:?}: no data_offsets"))?;
        let (Some(start), Some(end)) = (offsets[0].as_u64(), offsets[1].as_u64()) else {
            return Err(format!("tensor {name:?}: data_offsets are not integers"));
        };
        if start > end || end > data_len {
            return Err(format!(
                "tensor {name:?}: bytes {start}..{end} outside the {data_len} bytes of data"
            ));
        }
        tensors += 1;
    }
    Ok(tensors)
}
