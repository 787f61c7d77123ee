//! GGUF (llama.cpp, Ollama) header and metadata, read with hard bounds:
//! the magic, version, tensor and key/value counts, every key/value pair and
//! every tensor's description. Tensor data is never read.
//!
//! Every count and length is checked against a limit *and* against the bytes
//! left in the file before anything is allocated, so a header that claims
//! 2^64 tensors or a 1 TiB string is refused at once with the byte offset and
//! the field, not after the allocator gives up. Arrays are walked without
//! being kept, and arrays of arrays are allowed to a fixed depth.
//!
//! What the model importer uses: `general.architecture`, `general.file_type`
//! (the quantisation), `general.license`, `general.name`/`version`, the base
//! models (`general.base_model.count`, `general.base_model.N.*`) and where
//! the model was converted from (`general.source.*`). Every string value is
//! handed to a caller's function so it can be searched for secrets.

use std::collections::BTreeMap;
use std::io::Read;

/// Bounds on what one GGUF header may make the reader walk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_tensors: u64,
    pub max_kv: u64,
    /// Bytes in one string (a key, a value, a tensor name).
    pub max_string: u64,
    /// Elements in one array (a tokenizer's vocabulary is ~10^5).
    pub max_array: u64,
    /// Arrays of arrays: how deep.
    pub max_depth: u32,
    /// Dimensions of one tensor (ggml has 4).
    pub max_dims: u32,
    /// Base models (`general.base_model.N`).
    pub max_base_models: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tensors: 1 << 20,
            max_kv: 1 << 16,
            max_string: 16 << 20,
            max_array: 1 << 24,
            max_depth: 4,
            max_dims: 8,
            max_base_models: 64,
        }
    }
}

/// Why a header was refused: the byte offset where the bad field starts,
/// the field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GGUF byte {offset}, {field}: {message}")]
pub struct Error {
    pub offset: u64,
    pub field: String,
    pub message: String,
}

/// One parent model as `general.base_model.N.*` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseModel {
    pub name: Option<String>,
    pub organization: Option<String>,
    pub repo_url: Option<String>,
    pub version: Option<String>,
}

/// What the header says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// GGUF format version (2 or 3).
    pub version: u32,
    pub tensor_count: u64,
    pub kv_count: u64,
    pub architecture: Option<String>,
    /// `general.file_type`, a `llama_ftype` number.
    pub file_type: Option<u64>,
    pub license: Option<String>,
    pub name: Option<String>,
    pub model_version: Option<String>,
    /// `general.base_model.count`, as stated.
    pub base_model_count: Option<u64>,
    /// Parents in index order (only the first `base_model_count`).
    pub base_models: Vec<BaseModel>,
    pub source_url: Option<String>,
    pub source_repo_url: Option<String>,
    /// `general.source.huggingface.repository` (older converters).
    pub source_hf_repository: Option<String>,
}

impl Header {
    /// The quantisation's name (`Q8_0`, `Q4_K_M`, …) of `general.file_type`.
    pub fn quantization(&self) -> Option<String> {
        self.file_type.map(|t| match file_type_name(t) {
            Some(n) => n.to_string(),
            None => format!("file_type {t}"),
        })
    }
}

/// llama.cpp's `llama_ftype` names (gguf-py `LlamaFileType`).
fn file_type_name(t: u64) -> Option<&'static str> {
    Some(match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        39 => "NVFP4",
        40 => "Q1_0",
        _ => return None,
    })
}

/// A string value met in the metadata: its key, its index when it is an
/// element of an array, its byte offset in the file, and its bytes.
pub struct StringValue<'a> {
    pub key: &'a str,
    pub index: Option<u64>,
    pub offset: u64,
    pub bytes: &'a [u8],
}

struct Reader<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read> Reader<R> {
    fn err(&self, at: u64, field: &str, message: impl Into<String>) -> Error {
        Error {
            offset: at,
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn bytes<const N: usize>(&mut self, field: &str) -> Result<[u8; N], Error> {
        let mut b = [0u8; N];
        self.inner.read_exact(&mut b).map_err(|e| {
            self.err(
                self.pos,
                field,
                format!("{N} bytes expected, the file ends ({e})"),
            )
        })?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u32(&mut self, field: &str) -> Result<u32, Error> {
        self.bytes::<4>(field).map(u32::from_le_bytes)
    }

    fn u64(&mut self, field: &str) -> Result<u64, Error> {
        self.bytes::<8>(field).map(u64::from_le_bytes)
    }

    /// A count, checked against `max` and against what `unit` bytes per
    /// element leave room for in the rest of the file.
    fn count(&mut self, field: &str, max: u64, unit: u64) -> Result<u64, Error> {
        let at = self.pos;
        let n = self.u64(field)?;
        if n > max {
            return Err(self.err(at, field, format!("{n}, over the limit of {max}")));
        }
        let left = self.len.saturating_sub(self.pos);
        if n.saturating_mul(unit) > left {
            return Err(self.err(
                at,
                field,
                format!("{n} cannot fit in the {left} bytes left in the file"),
            ));
        }
        Ok(n)
    }

    /// A length-prefixed string, bounded; the bytes are read (and kept)
    /// only after the length is known to fit.
    fn string(&mut self, field: &str, max: u64, buf: &mut Vec<u8>) -> Result<u64, Error> {
        let n = self.count(field, max, 1)?;
        let start = self.pos;
        buf.clear();
        buf.resize(n as usize, 0);
        self.inner
            .read_exact(buf)
            .map_err(|e| self.err(start, field, format!("string of {n} bytes cut short ({e})")))?;
        self.pos += n;
        Ok(start)
    }

    fn skip(&mut self, n: u64, field: &str) -> Result<(), Error> {
        let got = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|e| self.err(self.pos, field, e.to_string()))?;
        if got != n {
            return Err(self.err(self.pos, field, "the file ends inside the value"));
        }
        self.pos += n;
        Ok(())
    }
}

/// A scalar or string value the importer may use.
enum Value {
    Unsigned(u64),
    Signed(i64),
    Text(String),
    Other,
}

/// Reads a GGUF header from `r`, a file of `len` bytes, calling `on_string`
/// for every string value (keys are not values).
pub fn read<R: Read>(
    r: R,
    len: u64,
    limits: &Limits,
    on_string: &mut dyn FnMut(StringValue<'_>),
) -> Result<Header, Error> {
    let mut r = Reader {
        inner: r,
        pos: 0,
        len,
    };
    let magic = r.bytes::<4>("magic")?;
    if &magic != b"GGUF" {
        return Err(r.err(0, "magic", format!("{magic:02x?}, not \"GGUF\"")));
    }
    let version = r.u32("version")?;
    if version.swap_bytes() <= 3 && version > 3 {
        return Err(r.err(4, "version", "a big-endian GGUF file, not read"));
    }
    if version != 2 && version != 3 {
        return Err(r.err(
            4,
            "version",
            format!("{version}; only versions 2 and 3 are read"),
        ));
    }
    // A tensor description is at least 8 (name length) + 4 + 4 + 8 bytes, a
    // key/value pair at least 8 (key length) + 4 (type) + 1.
    let tensor_count = r.count("tensor_count", limits.max_tensors, 24)?;
    let kv_count = r.count("metadata_kv_count", limits.max_kv, 13)?;
    let mut h = Header {
        version,
        tensor_count,
        kv_count,
        ..Default::default()
    };
    let mut bases: BTreeMap<u64, BaseModel> = BTreeMap::new();
    let mut key_buf = Vec::new();
    let mut val_buf = Vec::new();
    for i in 0..kv_count {
        let key_at = r.string(&format!("metadata key {i}"), 65_536, &mut key_buf)?;
        let key = String::from_utf8_lossy(&key_buf).into_owned();
        let ty = r.u32(&key)?;
        let value = read_value(&mut r, &key, ty, limits, 0, None, &mut val_buf, on_string)?;
        let text = |v: Value| match v {
            Value::Text(s) => Some(s),
            _ => None,
        };
        let number = |v: &Value| match v {
            Value::Unsigned(n) => Some(*n),
            Value::Signed(n) => u64::try_from(*n).ok(),
            _ => None,
        };
        match key.as_str() {
            "general.architecture" => h.architecture = text(value),
            "general.file_type" => h.file_type = number(&value),
            "general.license" => h.license = text(value),
            "general.name" => h.name = text(value),
            "general.version" => h.model_version = text(value),
            "general.source.url" => h.source_url = text(value),
            "general.source.repo_url" => h.source_repo_url = text(value),
            "general.source.huggingface.repository" => h.source_hf_repository = text(value),
            "general.base_model.count" => {
                let n =
                    number(&value).ok_or_else(|| r.err(key_at, &key, "not an unsigned integer"))?;
                if n > limits.max_base_models {
                    return Err(r.err(
                        key_at,
                        &key,
                        format!("{n}, over the limit of {}", limits.max_base_models),
                    ));
                }
                h.base_model_count = Some(n);
            }
            k => {
                if let Some(rest) = k.strip_prefix("general.base_model.")
                    && let Some((n, field)) = rest.split_once('.')
                    && let Ok(n) = n.parse::<u64>()
                    && n < limits.max_base_models
                {
                    let b = bases.entry(n).or_default();
                    let slot = match field {
                        "name" => &mut b.name,
                        "organization" => &mut b.organization,
                        "repo_url" => &mut b.repo_url,
                        "version" => &mut b.version,
                        _ => continue,
                    };
                    *slot = text(value);
                }
            }
        }
    }
    let count = h.base_model_count.unwrap_or(bases.len() as u64);
    h.base_models = bases
        .into_iter()
        .filter(|(n, _)| *n < count)
        .map(|(_, b)| b)
        .collect();
    for i in 0..tensor_count {
        let field = format!("tensor {i}");
        r.string(&format!("{field} name"), 65_536, &mut key_buf)?;
        let at = r.pos;
        let dims = r.u32(&format!("{field} n_dims"))?;
        if dims > limits.max_dims {
            return Err(r.err(
                at,
                &format!("{field} n_dims"),
                format!("{dims}, over the limit of {}", limits.max_dims),
            ));
        }
        r.skip(u64::from(dims) * 8, &format!("{field} dimensions"))?;
        r.u32(&format!("{field} type"))?;
        let at = r.pos;
        let offset = r.u64(&format!("{field} offset"))?;
        if offset >= len {
            return Err(r.err(
                at,
                &format!("{field} offset"),
                format!("{offset} is past the end of the {len}-byte file"),
            ));
        }
    }
    Ok(h)
}

/// Bytes of one element of a fixed-size GGUF type.
fn scalar_size(ty: u32) -> Option<u64> {
    Some(match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => return None,
    })
}

#[allow(clippy::too_many_arguments)]
fn read_value<R: Read>(
    r: &mut Reader<R>,
    key: &str,
    ty: u32,
    limits: &Limits,
    depth: u32,
    index: Option<u64>,
    buf: &mut Vec<u8>,
    on_string: &mut dyn FnMut(StringValue<'_>),
) -> Result<Value, Error> {
    match ty {
        0 => Ok(Value::Unsigned(u64::from(r.bytes::<1>(key)?[0]))),
        2 => Ok(Value::Unsigned(u64::from(u16::from_le_bytes(
            r.bytes::<2>(key)?,
        )))),
        4 => Ok(Value::Unsigned(u64::from(r.u32(key)?))),
        10 => Ok(Value::Unsigned(r.u64(key)?)),
        1 => Ok(Value::Signed(i64::from(r.bytes::<1>(key)?[0] as i8))),
        3 => Ok(Value::Signed(i64::from(i16::from_le_bytes(
            r.bytes::<2>(key)?,
        )))),
        5 => Ok(Value::Signed(i64::from(i32::from_le_bytes(
            r.bytes::<4>(key)?,
        )))),
        11 => Ok(Value::Signed(i64::from_le_bytes(r.bytes::<8>(key)?))),
        6 | 7 | 12 => {
            r.skip(scalar_size(ty).unwrap_or(0), key)?;
            Ok(Value::Other)
        }
        8 => {
            let at = r.string(key, limits.max_string, buf)?;
            on_string(StringValue {
                key,
                index,
                offset: at,
                bytes: buf,
            });
            Ok(Value::Text(String::from_utf8_lossy(buf).into_owned()))
        }
        9 => {
            if depth >= limits.max_depth {
                return Err(r.err(
                    r.pos,
                    key,
                    format!("arrays nested deeper than {}", limits.max_depth),
                ));
            }
            let at = r.pos;
            let elem = r.u32(key)?;
            // The smallest element: its fixed size, or a string's or an
            // array's own length prefix.
            let unit = match elem {
                8 => 8,
                9 => 12,
                t => scalar_size(t)
                    .ok_or_else(|| r.err(at, key, format!("array of unknown value type {t}")))?,
            };
            let n = r.count(key, limits.max_array, unit)?;
            if let Some(size) = scalar_size(elem) {
                r.skip(n * size, key)?;
            } else {
                for i in 0..n {
                    read_value(r, key, elem, limits, depth + 1, Some(i), buf, on_string)?;
                }
            }
            Ok(Value::Other)
        }
        t => Err(r.err(
            r.pos.saturating_sub(4),
            key,
            format!("unknown value type {t}"),
        )),
    }
}

/// [`read`] over bytes in memory, strings ignored (the fuzz target's entry).
pub fn parse(bytes: &[u8]) -> Result<Header, Error> {
    read(bytes, bytes.len() as u64, &Limits::default(), &mut |_| {})
}

/// The `org/name` of a Hugging Face URL (`https://huggingface.co/org/name`).
pub fn hub_id_of_url(url: &str) -> Option<String> {
    let rest = url
        .trim()
        .strip_prefix("https://huggingface.co/")
        .or_else(|| url.trim().strip_prefix("http://huggingface.co/"))?;
    let mut parts = rest.trim_end_matches('/').split('/');
    let (org, name) = (parts.next()?, parts.next()?);
    (!org.is_empty() && !name.is_empty() && org != "datasets" && org != "spaces")
        .then(|| format!("{org}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/models/gguf-quantized/tinyllama-q8_0.gguf"),
        )
        .unwrap()
    }

    /// The file llama.cpp's `gguf` writer made (make_formats.sh).
    #[test]
    fn reads_the_writers_file() {
        let bytes = fixture();
        let mut strings = Vec::new();
        let h = read(
            &bytes[..],
            bytes.len() as u64,
            &Limits::default(),
            &mut |s| strings.push((s.key.to_string(), s.index)),
        )
        .unwrap();
        assert_eq!(h.version, 3);
        assert_eq!(h.tensor_count, 2);
        assert_eq!(h.architecture.as_deref(), Some("llama"));
        assert_eq!(h.quantization().as_deref(), Some("Q8_0"));
        assert_eq!(h.license.as_deref(), Some("apache-2.0"));
        assert_eq!(h.name.as_deref(), Some("TinyLlama Chat Q8_0"));
        assert_eq!(h.model_version.as_deref(), Some("v1.0"));
        assert_eq!(h.base_models.len(), 1);
        assert_eq!(
            h.base_models[0].repo_url.as_deref().and_then(hub_id_of_url),
            Some("TinyLlama/TinyLlama-1.1B-Chat-v1.0".into())
        );
        assert!(strings.contains(&("general.tags".into(), Some(1))));
        assert!(strings.contains(&("training.hub_token".into(), None)));
    }

    /// Offset of the first byte of the value of `key` in the fixture.
    fn value_at(bytes: &[u8], key: &str) -> usize {
        let k = bytes
            .windows(key.len())
            .position(|w| w == key.as_bytes())
            .unwrap();
        k + key.len() + 4
    }

    #[test]
    fn huge_counts_and_lengths_are_refused_before_allocating() {
        let good = fixture();
        let set = |at: usize, v: u64| {
            let mut b = good.clone();
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
            b
        };
        let msg = |b: &[u8]| parse(b).unwrap_err().to_string();
        assert!(msg(&set(8, u64::MAX)).contains("tensor_count: 18446744073709551615, over"));
        assert!(msg(&set(8, 1000)).contains("cannot fit"));
        assert!(msg(&set(16, 1 << 40)).contains("metadata_kv_count"));
        // The length of general.architecture's value.
        let e = msg(&set(value_at(&good, "general.architecture"), 1 << 50));
        assert!(
            e.contains("general.architecture") && e.contains("over the limit"),
            "{e}"
        );
        // general.tags is an array of strings: its element count.
        let at = value_at(&good, "general.tags") + 4;
        let e = msg(&set(at, u64::MAX / 2));
        assert!(e.contains("general.tags"), "{e}");
        // A string cut by the end of the file.
        assert!(parse(&good[..200]).is_err());
        // Every prefix: an error, never a panic.
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
        let mut bad = good.clone();
        bad[..4].copy_from_slice(b"GGML");
        assert!(msg(&bad).contains("magic"));
        let mut be = good.clone();
        be[4..8].copy_from_slice(&3u32.to_be_bytes());
        assert!(msg(&be).contains("big-endian"));
    }

    #[test]
    fn nested_arrays_are_bounded() {
        // Built here: a header with one key holding arrays nested 10 deep.
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend(4u64.to_le_bytes());
        b.extend(b"deep");
        b.extend(9u32.to_le_bytes());
        for _ in 0..10 {
            b.extend(9u32.to_le_bytes());
            b.extend(1u64.to_le_bytes());
        }
        b.extend(vec![0u8; 64]);
        let e = parse(&b).unwrap_err();
        assert!(
            e.to_string().contains("deep: arrays nested deeper than 4"),
            "{e}"
        );
    }
}
