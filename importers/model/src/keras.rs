//! Keras 3 `.keras` archives: a zip of `config.json` (the model's
//! serialised object tree), `metadata.json` (Keras version) and
//! `model.weights.h5`. Only the two JSON entries are read; the weights are
//! not decompressed.
//!
//! What runs on load: a `Lambda` layer carries its function as marshalled
//! Python bytecode (`__lambda__`), rebuilt and called by `load_model` (Keras 3
//! refuses it under its default `safe_mode=True`; `safe_mode=False`, Keras 2
//! and tf.keras run it), so it is reported as dangerous, as modelscan does.
//! An object Keras does not ship — a `registered_name` outside Keras's own
//! namespace, or a `module` outside `keras.*` — is code that must be imported
//! from somewhere else to load the model: reported for review.
//!
//! The zip is bounded before anything is decompressed: entry count, the
//! declared size of every entry and of all of them, and each entry's ratio of
//! declared to compressed size (a zip bomb is refused with its entry named);
//! the entries read are also cut at their limit whatever they declare.

use std::io::{Read, Seek};

use aibomdb_graph::PickleReport;
use serde_json::Value;

/// Bounds on a zip archive (`.keras`, `.npz`).
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    pub max_entries: usize,
    /// Declared uncompressed size of all entries together.
    pub max_total: u64,
    /// Declared uncompressed size over compressed size, for entries over 1 MiB.
    pub max_ratio: u64,
    /// Bytes of a JSON entry read (`config.json`).
    pub max_json: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_entries: 10_000,
            max_total: 64 << 30,
            max_ratio: 200,
            max_json: 64 << 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("zip: {0}")]
    Zip(String),
    #[error("zip entry {entry}: {message}")]
    Entry { entry: String, message: String },
    #[error("{entry}: JSON at line {line}, column {column}: {message}")]
    Json {
        entry: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}")]
    Missing(String),
}

/// Opens a zip archive and checks its bounds; the archive's entries are not
/// decompressed.
pub fn open_bounded<R: Read + Seek>(r: R, limits: &ZipLimits) -> Result<zip::ZipArchive<R>, Error> {
    let mut zip = zip::ZipArchive::new(r).map_err(|e| Error::Zip(e.to_string()))?;
    if zip.len() > limits.max_entries {
        return Err(Error::Zip(format!(
            "{} entries, over the limit of {}",
            zip.len(),
            limits.max_entries
        )));
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let e = zip.by_index_raw(i).map_err(|e| Error::Zip(e.to_string()))?;
        let name = e.name().map(|n| n.to_string()).unwrap_or_default();
        let (size, packed) = (e.size(), e.compressed_size());
        if size > 1 << 20 && size / packed.max(1) > limits.max_ratio {
            return Err(Error::Entry {
                entry: name,
                message: format!(
                    "{size} bytes packed into {packed}, a ratio over {}: a zip bomb, refused",
                    limits.max_ratio
                ),
            });
        }
        total = total.saturating_add(size);
        if total > limits.max_total {
            return Err(Error::Entry {
                entry: name,
                message: format!(
                    "entries add up to over {} bytes uncompressed, refused",
                    limits.max_total
                ),
            });
        }
    }
    Ok(zip)
}

/// An entry's bytes, at most `max` whatever it declares.
pub fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    max: u64,
) -> Result<Option<Vec<u8>>, Error> {
    let entry_err = |message: String| Error::Entry {
        entry: name.to_string(),
        message,
    };
    let mut e = match zip.by_name(name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(entry_err(e.to_string())),
    };
    if e.size() > max {
        return Err(entry_err(format!(
            "{} bytes, over the limit of {max}",
            e.size()
        )));
    }
    let mut out = Vec::new();
    (&mut e)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| entry_err(e.to_string()))?;
    if out.len() as u64 > max {
        return Err(entry_err(format!(
            "inflates past the limit of {max} bytes (declared {}), refused",
            e.size()
        )));
    }
    Ok(Some(out))
}

/// What a `.keras` archive's config says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// `metadata.json`'s `keras_version`.
    pub keras_version: Option<String>,
    /// The model's class (`Functional`, `Sequential`, a subclass).
    pub model_class: Option<String>,
    /// Class names of the model's layers, in order.
    pub layers: Vec<String>,
    /// `module.class_name` of every object the config deserialises, unique.
    pub objects: Vec<String>,
    /// Objects that run code on load: `keras.layers.Lambda` (and a bare
    /// `__lambda__` function), with the layer's name.
    pub dangerous: Vec<String>,
    /// Objects Keras does not ship (custom layers, functions, …).
    pub custom: Vec<String>,
}

impl Report {
    /// The verdict in the shape every weight file's scan has: what loading
    /// would deserialise, what of it runs code, what needs review.
    pub fn pickle_report(&self) -> PickleReport {
        PickleReport {
            imports: self.objects.clone(),
            dangerous_imports: self.dangerous.clone(),
            unknown_imports: self.custom.clone(),
            streams: 1,
            error: None,
        }
    }
}

const MAX_OBJECTS: usize = 100_000;

/// Reads a `.keras` archive.
pub fn read<R: Read + Seek>(r: R, limits: &ZipLimits) -> Result<Report, Error> {
    let mut zip = open_bounded(r, limits)?;
    let config = read_entry(&mut zip, "config.json", limits.max_json)?.ok_or_else(|| {
        Error::Missing("no config.json in the archive: not a Keras v3 model".into())
    })?;
    let mut report = parse_config(&config)?;
    if let Some(meta) = read_entry(&mut zip, "metadata.json", limits.max_json)? {
        let v: Value =
            serde_json::from_slice(&meta).map_err(|e| json_error("metadata.json", &e))?;
        report.keras_version = v
            .get("keras_version")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    Ok(report)
}

fn json_error(entry: &str, e: &serde_json::Error) -> Error {
    Error::Json {
        entry: entry.into(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// Reads `config.json` (serde_json refuses nesting past 128 levels).
pub fn parse_config(json: &[u8]) -> Result<Report, Error> {
    let v: Value = serde_json::from_slice(json).map_err(|e| json_error("config.json", &e))?;
    let mut r = Report {
        model_class: v
            .get("class_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Default::default()
    };
    if let Some(layers) = v
        .get("config")
        .and_then(|c| c.get("layers"))
        .and_then(Value::as_array)
    {
        r.layers = layers
            .iter()
            .take(MAX_OBJECTS)
            .filter_map(|l| l.get("class_name").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
    }
    walk(&v, &mut r);
    Ok(r)
}

fn is_keras_module(m: &str) -> bool {
    m == "keras" || m.starts_with("keras.")
}

fn push_unique(list: &mut Vec<String>, s: String) {
    if list.len() < MAX_OBJECTS && !list.contains(&s) {
        list.push(s);
    }
}

/// Every object in the tree with a `class_name`; depth is bounded by the
/// parser's own limit.
fn walk(v: &Value, r: &mut Report) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| walk(i, r)),
        Value::Object(map) => {
            if let Some(class) = map.get("class_name").and_then(Value::as_str) {
                let module = map.get("module").and_then(Value::as_str);
                let registered = map.get("registered_name").and_then(Value::as_str);
                let layer_name = map
                    .get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .map(|n| format!(" (layer {n:?})"))
                    .unwrap_or_default();
                if let Some(m) = module {
                    push_unique(&mut r.objects, format!("{m}.{class}"));
                }
                if class == "Lambda" && module.is_none_or(is_keras_module) {
                    push_unique(&mut r.dangerous, format!("keras.layers.Lambda{layer_name}"));
                } else if class == "__lambda__" {
                    push_unique(
                        &mut r.dangerous,
                        "__lambda__ (marshalled Python bytecode)".into(),
                    );
                } else if !class.starts_with("__") {
                    let outside_module = module.is_some_and(|m| !is_keras_module(m));
                    let outside_name = registered.is_some_and(|n| {
                        n.split_once('>')
                            .is_some_and(|(package, _)| package != "keras")
                    });
                    if outside_module || outside_name {
                        let name = registered.map_or_else(
                            || format!("{}.{class}", module.unwrap_or("")),
                            str::to_string,
                        );
                        push_unique(&mut r.custom, format!("{name}{layer_name}"));
                    }
                }
            }
            map.values().for_each(|i| walk(i, r));
        }
        _ => {}
    }
}

/// [`read`] over bytes in memory (the fuzz target's entry).
pub fn parse(bytes: &[u8]) -> Result<Report, Error> {
    read(std::io::Cursor::new(bytes), &ZipLimits::default())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/models/keras-lambda")
                .join(name),
        )
        .unwrap()
    }

    /// Archives Keras 3.15 saved (make_formats.sh).
    #[test]
    fn lambda_and_custom_layers_are_reported() {
        let plain = parse(&fixture("plain.keras")).unwrap();
        assert_eq!(plain.keras_version.as_deref(), Some("3.15.1"));
        assert_eq!(plain.layers, ["InputLayer", "Dense", "Dense"]);
        assert!(
            plain.dangerous.is_empty() && plain.custom.is_empty(),
            "{plain:?}"
        );
        assert!(plain.objects.contains(&"keras.layers.Dense".to_string()));

        let lambda = parse(&fixture("lambda.keras")).unwrap();
        assert_eq!(
            lambda.dangerous,
            [
                "keras.layers.Lambda (layer \"double\")",
                "__lambda__ (marshalled Python bytecode)"
            ]
        );
        let custom = parse(&fixture("custom-layer.keras")).unwrap();
        assert!(custom.dangerous.is_empty());
        assert_eq!(custom.custom, ["aibomdb_fixtures>Scale (layer \"scale\")"]);
    }

    /// A config.json of 64 MiB of zeros squeezed into a few KiB: refused by
    /// its ratio before a byte is inflated; with the ratio check off, cut at
    /// the JSON limit.
    #[test]
    fn zip_bombs_are_refused() {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut out);
        let deflate = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("config.json", deflate).unwrap();
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..64 {
            z.write_all(&zeros).unwrap();
        }
        z.finish().unwrap();
        let bytes = out.into_inner();
        assert!(bytes.len() < 200_000);
        let e = parse(&bytes).unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains("zip bomb"), "{e}");
        let lax = ZipLimits {
            max_ratio: u64::MAX,
            max_json: 1 << 20,
            ..Default::default()
        };
        let e = read(std::io::Cursor::new(&bytes), &lax)
            .unwrap_err()
            .to_string();
        assert!(e.contains("over the limit of 1048576"), "{e}");
        // Too many entries.
        let few = ZipLimits {
            max_entries: 2,
            ..Default::default()
        };
        let e = read(std::io::Cursor::new(fixture("plain.keras")), &few)
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 entries, over the limit of 2"), "{e}");
    }

    #[test]
    fn bad_archives_are_errors() {
        let good = fixture("lambda.keras");
        for n in (0..good.len()).step_by(97) {
            let _ = parse(&good[..n]);
        }
        assert!(parse(b"not a zip").is_err());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = parse_config(deep.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("recursion limit"), "{e}");
    }
}
