//! Helpers every JSON importer shares: error mapping that names the field, and
//! `null` read as "absent".

use serde::{Deserialize, Deserializer};

use crate::ImportError;

/// Deserialises `bytes`, naming the failing field path (`components[3].hashes`)
/// for type errors and the line/column for syntax errors.
pub fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ImportError> {
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
