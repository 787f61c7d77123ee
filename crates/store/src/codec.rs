//! Row encoding (postcard) and the reading of rows written by earlier
//! versions of a record.

use crate::{Result, StoreError};

pub(crate) fn encode<T: serde::Serialize>(value: &T, buf: &mut Vec<u8>) {
    // Serialising these plain structs to a Vec cannot fail.
    let bytes = postcard::to_stdvec(value).unwrap_or_default();
    buf.extend_from_slice(&bytes);
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    table: &'static str,
    key: &str,
) -> Result<T> {
    let corrupt = |e: postcard::Error| StoreError::Corrupt {
        table,
        key: key.to_string(),
        message: e.to_string(),
    };
    match postcard::from_bytes(bytes) {
        Ok(v) => Ok(v),
        // `PackageFact.released` was added last, after stores were written
        // without it: such a row is the new row less the trailing `None`
        // (one 0 byte in postcard), so it is read, not refused.
        Err(postcard::Error::DeserializeUnexpectedEnd) if table == "document_packages" => {
            let mut with_none = Vec::with_capacity(bytes.len() + 1);
            with_none.extend_from_slice(bytes);
            with_none.push(0);
            postcard::from_bytes(&with_none).map_err(corrupt)
        }
        Err(e) => Err(corrupt(e)),
    }
}

#[cfg(test)]
mod tests {
    use aibomdb_graph::{Hash, PackageFact};

    #[test]
    fn facts_written_before_released_existed_still_read() {
        let fact = PackageFact {
            name: "requests".into(),
            version: Some("2.31.0".into()),
            hashes: vec![Hash::new("sha256", "ab")],
            ..Default::default()
        };
        let mut row = Vec::new();
        super::encode(&fact, &mut row);
        // The row an earlier version wrote: the same, without the trailing
        // `released: None`.
        assert_eq!(row.pop(), Some(0));
        let read: PackageFact = super::decode(&row, "document_packages", "1/1").unwrap();
        assert_eq!(read, fact);
        // Other tables are not guessed at: a short row there is corrupt.
        assert!(super::decode::<PackageFact>(&row, "packages", "1").is_err());
        // A new row with a release time round-trips.
        let dated = PackageFact {
            released: Some("2026-09-09T13:04:47Z".into()),
            ..fact
        };
        let mut row = Vec::new();
        super::encode(&dated, &mut row);
        let read: PackageFact = super::decode(&row, "document_packages", "1/1").unwrap();
        assert_eq!(read.released.as_deref(), Some("2026-09-09T13:04:47Z"));
    }
}
