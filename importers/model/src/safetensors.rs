//! The safetensors header: an 8-byte little-endian length, then that many
//! bytes of JSON naming each tensor's dtype, shape and byte range. Read
//! without touching the tensor data (the `safetensors` crate wants the whole
//! file in memory).

use std::io::Read;
use std::path::Path;

const MAX_HEADER: u64 = 100 * 1024 * 1024;

/// The number of tensors, after checking that every byte range lies inside the file.
pub fn header(path: &Path, size: u64) -> Result<u64, String> {
    let json = read_header(path, size)?;
    parse(&json, size - 8 - json.len() as u64)
}

/// The header's JSON bytes (tensor names, `__metadata__`), bounded by the
/// file's size and 100 MiB.
pub fn read_header(path: &Path, size: u64) -> Result<Vec<u8>, String> {
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
    Ok(json)
}

/// Bits per element of a safetensors dtype.
fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        _ => return None,
    })
}

/// Checks a header's JSON against the size of the data that follows it, as
/// the format requires: each tensor's byte range is its dtype's size times
/// the product of its shape, and the ranges tile the data exactly (no gap,
/// no overlap, nothing left over).
pub fn parse(json: &[u8], data_len: u64) -> Result<u64, String> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("header JSON: {e}"))?;
    let map = v.as_object().ok_or("header is not a JSON object")?;
    let mut ranges: Vec<(u64, u64, &str)> = Vec::new();
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
        let dtype = t
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| format!("tensor {name:?}: no dtype"))?;
        let bits =
            dtype_bits(dtype).ok_or_else(|| format!("tensor {name:?}: unknown dtype {dtype:?}"))?;
        let shape = t
            .get("shape")
            .and_then(|s| s.as_array())
            .ok_or_else(|| format!("tensor {name:?}: no shape"))?;
        let mut elements: u64 = 1;
        for d in shape {
            let d = d.as_u64().ok_or_else(|| {
                format!("tensor {name:?}: shape {shape:?} is not unsigned integers")
            })?;
            elements = elements
                .checked_mul(d)
                .ok_or_else(|| format!("tensor {name:?}: shape {shape:?} overflows"))?;
        }
        let expected = elements
            .checked_mul(bits)
            .map(|b| b.div_ceil(8))
            .ok_or_else(|| format!("tensor {name:?}: shape {shape:?} overflows"))?;
        if end - start != expected {
            return Err(format!(
                "tensor {name:?}: {dtype} {shape:?} needs {expected} bytes, data_offsets give {}",
                end - start
            ));
        }
        ranges.push((start, end, name));
    }
    ranges.sort();
    let mut at = 0;
    for (start, end, name) in &ranges {
        if *start != at {
            return Err(format!(
                "tensor {name:?} starts at byte {start}, not {at}: the data has a gap or an overlap"
            ));
        }
        at = *end;
    }
    if at != data_len {
        return Err(format!(
            "tensors cover {at} of the {data_len} bytes of data: the rest is unaccounted for"
        ));
    }
    Ok(ranges.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header of the fixture written by the `safetensors` library
    /// (tests/fixtures/models/make.sh), and its data length.
    fn fixture() -> (serde_json::Value, u64) {
        let bytes = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/models/finetune-safetensors/model.safetensors"),
        )
        .unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        (header, (bytes.len() - 8 - n) as u64)
    }

    fn check(header: &serde_json::Value, data: u64) -> Result<u64, String> {
        parse(header.to_string().as_bytes(), data)
    }

    #[test]
    fn dtype_shape_and_tiling_are_checked() {
        let (header, data) = fixture();
        assert_eq!(check(&header, data), Ok(2));
        // classifier.weight is F32 [2, 4]: 32 bytes. A wrong shape no longer fits.
        let mut wrong_shape = header.clone();
        wrong_shape["classifier.weight"]["shape"] = serde_json::json!([3, 4]);
        assert!(
            check(&wrong_shape, data)
                .unwrap_err()
                .contains("needs 48 bytes")
        );
        let mut wrong_dtype = header.clone();
        wrong_dtype["classifier.weight"]["dtype"] = serde_json::json!("F16");
        assert!(check(&wrong_dtype, data).is_err());
        let mut unknown = header.clone();
        unknown["classifier.bias"]["dtype"] = serde_json::json!("Q4_K");
        assert!(check(&unknown, data).unwrap_err().contains("unknown dtype"));
        // Trailing bytes that no tensor accounts for.
        assert!(
            check(&header, data + 4)
                .unwrap_err()
                .contains("unaccounted")
        );
        // Two tensors over the same bytes.
        let mut overlap = header.clone();
        let first = overlap["classifier.bias"]["data_offsets"].clone();
        overlap["classifier.weight"]["data_offsets"] = first;
        overlap["classifier.weight"]["shape"] = overlap["classifier.bias"]["shape"].clone();
        assert!(check(&overlap, data).is_err());
        let mut huge = header;
        huge["classifier.weight"]["shape"] = serde_json::json!([u64::MAX, 4]);
        assert!(check(&huge, data).unwrap_err().contains("overflows"));
    }
}
