//! Row encoding (postcard) and the reading of rows written by earlier
//! versions of a record.

use crate::{Result, StoreError};

pub(crate) fn encode<T: serde::Serialize>(value: &T, buf: &mut Vec<u8>) {
    // Written straight onto the caller's buffer, which keeps its capacity
    // from row to row. Serialising these plain structs to a Vec cannot fail.
    let _ = postcard::to_io(value, &mut *buf);
}

/// How many fields were appended to `PackageFact` since the first stores.
const APPENDED_FACT_FIELDS: usize = 7;

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
        // Fields appended to `PackageFact` after stores were written without
        // them (`released`, then `creator`, `licenses_concluded`, `filename`,
        // then `attestation`, then `secrets`, then `file_metadata`)
        // are each `None` or empty, one 0 byte in postcard: an older row is
        // the new row less those trailing bytes, so it is read, not refused.
        Err(postcard::Error::DeserializeUnexpectedEnd) if table == "document_packages" => {
            let mut padded = Vec::with_capacity(bytes.len() + APPENDED_FACT_FIELDS);
            padded.extend_from_slice(bytes);
            let mut last = postcard::Error::DeserializeUnexpectedEnd;
            for missing in 1..=APPENDED_FACT_FIELDS {
                padded.resize(bytes.len() + missing, 0);
                match postcard::from_bytes(&padded) {
                    Ok(v) => return Ok(v),
                    Err(postcard::Error::DeserializeUnexpectedEnd) => {}
                    Err(e) => {
                        last = e;
                        break;
                    }
                }
            }
            Err(corrupt(last))
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
        // The rows earlier versions wrote: the same, without the trailing
        // `secrets` (1 byte); before that also without `attestation` (2
        // bytes); before that also without `filename`, `licenses_concluded`
        // and `creator` (5 bytes), and before that also without `released`
        // (6 bytes).
        for appended in [1, 2, 5, 6] {
            let mut old = row.clone();
            for _ in 0..appended {
                assert_eq!(old.pop(), Some(0));
            }
            let read: PackageFact = super::decode(&old, "document_packages", "1/1").unwrap();
            assert_eq!(read, fact);
        }
        row.truncate(row.len() - 6);
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
        // And one with a creator, concluded licences and a file name.
        let full = PackageFact {
            creator: Some(aibomdb_graph::Party {
                name: Some("SPDX".into()),
                emails: vec!["spdx-tech@lists.spdx.org".into()],
                urls: vec![],
            }),
            licenses_concluded: vec!["Apache-2.0".into()],
            filename: Some("tools-java-1.1.5.zip".into()),
            ..dated
        };
        let mut row = Vec::new();
        super::encode(&full, &mut row);
        let read: PackageFact = super::decode(&row, "document_packages", "1/1").unwrap();
        assert_eq!(read, full);
        // And an attestation's subject, with what its signature proved.
        let attested = PackageFact {
            attestation: Some(Box::new(aibomdb_graph::Attestation {
                predicate_type: "https://slsa.dev/provenance/v1".into(),
                signature: aibomdb_graph::AttestationSignature {
                    method: "key".into(),
                    status: "verified".into(),
                    ..Default::default()
                },
                ..Default::default()
            })),
            ..full
        };
        let mut row = Vec::new();
        super::encode(&attested, &mut row);
        let read: PackageFact = super::decode(&row, "document_packages", "1/1").unwrap();
        assert_eq!(read, attested);
        // And a model's secret findings; a row of the previous version (no
        // `secrets`, its attestation present) still reads.
        let mut previous = row.clone();
        assert_eq!(previous.pop(), Some(0));
        let read: PackageFact = super::decode(&previous, "document_packages", "1/1").unwrap();
        assert_eq!(read, attested);
        let with_secret = PackageFact {
            secrets: vec![aibomdb_graph::SecretFinding {
                rule: "huggingface-access-token".into(),
                file: "config.json".into(),
                within: "text".into(),
                line: Some(3),
                offset: Some(40),
                redacted: "hf_a…".into(),
                fingerprint: "ab".repeat(32),
            }],
            ..attested
        };
        let mut row = Vec::new();
        super::encode(&with_secret, &mut row);
        let read: PackageFact = super::decode(&row, "document_packages", "1/1").unwrap();
        assert_eq!(read, with_secret);
        // And what a weight file's header says; a row of the previous
        // version (no `file_metadata`, its secrets present) still reads.
        let mut previous = row.clone();
        assert_eq!(previous.pop(), Some(0));
        let read: PackageFact = super::decode(&previous, "document_packages", "1/1").unwrap();
        assert_eq!(read, with_secret);
        let with_metadata = PackageFact {
            file_metadata: vec![aibomdb_graph::FileMetadata {
                file: "model.onnx".into(),
                key: "producer_name".into(),
                value: "pytorch".into(),
            }],
            ..with_secret
        };
        let mut row = Vec::new();
        super::encode(&with_metadata, &mut row);
        let read: PackageFact = super::decode(&row, "document_packages", "1/1").unwrap();
        assert_eq!(read, with_metadata);
    }
}
