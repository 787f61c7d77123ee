//! Helpers every JSON importer shares: error mapping that names the field, and
//! `null` read as "absent".

use serde::{Deserialize, Deserializer};

use crate::ImportError;

/// Deserialises `bytes`, naming the failing field path (`components[3].hashes`)
/// for type errors and the line/column for syntax errors.
pub fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ImportError> {
    // Tracking the path costs on every field; a document that parses needs
    // none, so the path is only traced again when the plain parse fails.
    // Text checked as UTF-8 once, in one pass, is not checked again string
    // by string as the parser reads it (a few per cent of an import).
    let plain = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    };
    if let Ok(value) = plain {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            let mut err = ImportError::from_json(&inner);
            if let ImportError::Syntax { field, .. } = &mut err
                && path != "."
            {
                {
                    // Deep nesting makes a long path; its start says where it went wrong.
                    let mut p = path;
                    if p.len() > 120 {
                        let cut = (0..=120)
                            .rev()
                            .find(|i| p.is_char_boundary(*i))
                            .unwrap_or(0);
                        p.truncate(cut);
                        p.push('…');
                    }
                    *field = Some(p);
                }
            }
            err
        } else {
            ImportError::Field {
                field: path,
                message: inner.to_string(),
            }
        }
    })?;
    de.end().map_err(|e| ImportError::from_json(&e))?;
    Ok(value)
}

/// `null` and absent both mean "empty" in real documents.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Rejects JSON nested deeper than `max` arrays/objects, before any parser
/// recurses into it: one pass over the bytes, strings skipped. The error
/// names the line and column where the limit was crossed.
pub fn check_depth(bytes: &[u8], max: usize) -> Result<(), crate::ImportError> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => {
                // Skip the string: jump to its next quote or backslash.
                i += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..]) {
                        Some(at) if bytes[i + at] == b'\\' => i += at + 2,
                        Some(at) => {
                            i += at;
                            break;
                        }
                        None => return Ok(()),
                    }
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    let before = &bytes[..i];
                    let line = before.iter().filter(|c| **c == b'\n').count() + 1;
                    let column = i - before
                        .iter()
                        .rposition(|c| *c == b'\n')
                        .map_or(0, |p| p + 1)
                        + 1;
                    return Err(crate::ImportError::Syntax {
                        message: format!("JSON nested deeper than {max} levels (--max-json-depth)"),
                        line,
                        column,
                        field: None,
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod depth_tests {
    use super::check_depth;

    /// Brackets and escaped quotes at every offset from the start.
    #[test]
    fn the_limit_is_found_at_every_offset() {
        for pad in 0..17 {
            let spaces = " ".repeat(pad);
            let doc = format!(
                "{spaces}[{spaces}{{{spaces}\"k\":{spaces}[[\"[[\\\"\"]]{spaces}}}{spaces}]"
            );
            assert!(check_depth(doc.as_bytes(), 4).is_ok(), "{doc}");
            let err = check_depth(doc.as_bytes(), 3).unwrap_err().to_string();
            let column = doc.find("[[").unwrap() + 2;
            assert!(err.contains(&format!("column {column}")), "{doc}: {err}");
        }
    }

    /// The plainest reading of the rule: a state machine over every byte.
    fn reference(bytes: &[u8], max: usize) -> Option<usize> {
        let (mut depth, mut in_string, mut i) = (0usize, false, 0);
        while i < bytes.len() {
            match (in_string, bytes[i]) {
                (true, b'\\') => i += 1,
                (true, b'"') => in_string = false,
                (false, b'"') => in_string = true,
                (false, b'{' | b'[') => {
                    depth += 1;
                    if depth > max {
                        return Some(i);
                    }
                }
                (false, b'}' | b']') => depth = depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        None
    }

    #[test]
    fn the_scan_agrees_with_a_plain_count_on_noise() {
        let alphabet = b" \"\\{[}]a\n";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let doc: Vec<u8> = (0..len)
                .map(|k| alphabet[((seed >> (k % 58)) as usize + k * 7) % alphabet.len()])
                .collect();
            let got = check_depth(&doc, 2).err().map(|e| e.to_string());
            let want = reference(&doc, 2);
            assert_eq!(
                got.is_some(),
                want.is_some(),
                "{:?}",
                String::from_utf8_lossy(&doc)
            );
            if let (Some(got), Some(at)) = (got, want) {
                let line = doc[..at].iter().filter(|c| **c == b'\n').count() + 1;
                assert!(got.contains(&format!("line {line}")), "{got}");
            }
        }
    }

    #[test]
    fn depth_is_counted_outside_strings_only() {
        assert!(check_depth(br#"{"a":[[1]],"s":"[[[[[[[["}"#, 3).is_ok());
        let err = check_depth(b"{\n \"a\": [[[1]]]}", 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2, column 9"), "{err}");
        assert!(check_depth(br#"{"s":"\"[[[["}"#, 1).is_ok());
        let deep = "[".repeat(100_000);
        assert!(check_depth(deep.as_bytes(), 128).is_err());
    }
}
