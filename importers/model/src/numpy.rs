//! NumPy `.npy` arrays and `.npz` archives of them. An `.npy` file is a
//! magic string, a version, a length-prefixed header (a Python dict literal
//! with `descr`, `fortran_order` and `shape`) and the array's bytes. An array
//! of dtype `object` (`descr` `|O`, or a structured dtype with an object
//! field) is not raw bytes: numpy pickles it, and `np.load(allow_pickle=True)`
//! unpickles it, so whatever follows the header is scanned as the pickle it
//! is. Any other dtype is plain numbers and safe to load.

use std::io::{Read, Seek};

use aibomdb_graph::PickleReport;

use crate::keras::{ZipLimits, open_bounded};
use crate::pickle;

const MAGIC: &[u8] = b"\x93NUMPY";
/// numpy itself refuses headers over 10,000 bytes unless told otherwise.
const MAX_HEADER: usize = 1 << 16;

/// An `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: (u8, u8),
    /// The `descr` value as written (`'<f4'`, `'|O'`, a list for structured dtypes).
    pub descr: String,
    /// Whether the dtype holds Python objects: the data is a pickle.
    pub object: bool,
    /// Bytes from the start of the file to the array data.
    pub data_offset: usize,
}

/// Parses the header at the start of `bytes` (the file, or at least its
/// first bytes).
pub fn header(bytes: &[u8]) -> Result<Header, String> {
    if !bytes.starts_with(MAGIC) {
        return Err("no \\x93NUMPY magic: not an .npy array".into());
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[a, b]) => (a, b),
        _ => return Err("header: the file ends after the magic".into()),
    };
    let (len, start) = match major {
        1 => (
            bytes
                .get(8..10)
                .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize),
            10,
        ),
        2 | 3 => (
            bytes
                .get(8..12)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
            12,
        ),
        v => return Err(format!("version {v}.{minor}: only 1, 2 and 3 are read")),
    };
    let len = len.ok_or("header length: the file ends")?;
    if len > MAX_HEADER {
        return Err(format!(
            "header length {len}, over the limit of {MAX_HEADER}"
        ));
    }
    let text = bytes
        .get(start..start + len)
        .ok_or_else(|| format!("header of {len} bytes runs past the end of the file"))?;
    let text = std::str::from_utf8(text).map_err(|_| "header is not text".to_string())?;
    let at = text.find("'descr':").ok_or("header has no 'descr' key")?;
    let rest = text[at + 8..].trim_start();
    let descr = if rest.starts_with('[') {
        // Structured dtype: up to the matching bracket.
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match c {
                '[' | '(' => depth += 1,
                ']' | ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = Some(i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        &rest[..end.ok_or("descr: unclosed list")?]
    } else {
        let q = rest.chars().next().ok_or("descr: no value")?;
        if q != '\'' && q != '"' {
            return Err(format!("descr: unexpected {q:?}"));
        }
        let close = rest[1..].find(q).ok_or("descr: unclosed string")?;
        &rest[..close + 2]
    };
    // Every quoted token that is an object type code ('O', '|O', '<O8'…).
    // In a structured dtype a field named "O" counts too: a scan too many,
    // never one too few.
    let object = descr.split(['\'', '"']).skip(1).step_by(2).any(|t| {
        let t = t.trim_start_matches(['|', '<', '>', '=']);
        t.strip_prefix('O')
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
    });
    Ok(Header {
        version: (major, minor),
        descr: descr.to_string(),
        object,
        data_offset: start + len,
    })
}

/// Scans one `.npy` file's bytes: `None` for a plain array (nothing to run
/// on load), else the pickle scan of the object array's data. Strings the
/// pickle holds are kept by `scanner` for a secrets pass over `bytes`.
pub fn scan_npy(bytes: &[u8], scanner: &mut pickle::Scanner) -> Result<bool, String> {
    let h = header(bytes)?;
    if !h.object {
        return Ok(false);
    }
    scanner.scan_at(bytes, h.data_offset);
    Ok(true)
}

/// Scans an `.npy` file alone.
pub fn scan_file(bytes: &[u8]) -> Result<Option<PickleReport>, String> {
    let mut scanner = pickle::Scanner::new();
    Ok(scan_npy(bytes, &mut scanner)?.then(|| scanner.finish()))
}

/// Scans every `.npy` entry of an `.npz` archive: `None` when none holds
/// objects. `budget` bounds the bytes decompressed in all; each entry's
/// bytes (and name) are given to `each` after it is scanned.
pub fn scan_npz<R: Read + Seek>(
    r: R,
    limits: &ZipLimits,
    budget: u64,
    scanner: &mut pickle::Scanner,
    each: &mut dyn FnMut(&str, &[u8], &mut pickle::Scanner),
) -> Result<bool, String> {
    let mut zip = open_bounded(r, limits).map_err(|e| e.to_string())?;
    let mut budget = budget;
    let mut any = false;
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).map_err(|e| e.to_string())?;
        let name = e.name().map(|n| n.to_string()).unwrap_or_default();
        if !name.ends_with(".npy") {
            continue;
        }
        // The header first: a plain array's data is not decompressed.
        let mut head = Vec::new();
        (&mut e)
            .take(12 + MAX_HEADER as u64)
            .read_to_end(&mut head)
            .map_err(|e| format!("{name}: {e}"))?;
        let h = header(&head).map_err(|m| format!("{name}: {m}"))?;
        if !h.object {
            continue;
        }
        if e.size() > budget {
            return Err(format!("{name}: decompressed size over the scan limit"));
        }
        let mut bytes = head;
        (&mut e)
            .take(budget)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{name}: {e}"))?;
        budget = budget.saturating_sub(bytes.len() as u64);
        scanner.scan_at(&bytes, h.data_offset);
        each(&name, &bytes, scanner);
        any = true;
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/models/numpy-arrays")
                .join(name),
        )
        .unwrap()
    }

    /// Files numpy.save wrote (make_formats.sh).
    #[test]
    fn object_arrays_are_pickles() {
        let plain = fixture("plain.npy");
        assert_eq!(header(&plain).unwrap().descr, "'<f4'");
        assert_eq!(scan_file(&plain).unwrap(), None);
        let obj = scan_file(&fixture("object.npy")).unwrap().unwrap();
        assert!(
            obj.dangerous_imports.iter().any(|i| i.ends_with(".system")),
            "{obj:?}"
        );
        for n in 0..fixture("object.npy").len() {
            let _ = scan_file(&fixture("object.npy")[..n]);
        }
        let npz = |name: &str| {
            let mut s = pickle::Scanner::new();
            let any = scan_npz(
                std::io::Cursor::new(fixture(name)),
                &ZipLimits::default(),
                1 << 20,
                &mut s,
                &mut |_, _, _| {},
            )
            .unwrap();
            any.then(|| s.finish())
        };
        assert_eq!(npz("plain.npz"), None);
        assert!(!npz("object.npz").unwrap().dangerous_imports.is_empty());
    }

    #[test]
    fn headers_are_bounded() {
        let mut b = fixture("plain.npy");
        b[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(header(&b).unwrap_err().contains("runs past the end"));
        let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
        v2.extend(u32::MAX.to_le_bytes());
        assert!(header(&v2).unwrap_err().contains("over the limit"));
        // Structured dtypes with an object field are pickles too.
        let s = b"\x93NUMPY\x01\x00\x40\x00{'descr': [('a', '<f4'), ('b', '|O')], 'fortran_order': False, 'shape': (1,), }";
        assert!(header(s).unwrap().object);
        let s = b"\x93NUMPY\x01\x00\x40\x00{'descr': [('a', '<f4'), ('b', '<i8')], 'fortran_order': False, 'shape': (1,), }";
        assert!(!header(s).unwrap().object);
    }
}
