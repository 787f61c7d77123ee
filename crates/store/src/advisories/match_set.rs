//! [`MatchRows`]: matches held as the match table stores them, for writes of
//! hundreds of thousands at once (a full re-match). A [`MatchRecord`] each
//! is six heap strings and a list; a re-match of 335k matches spent as long
//! building, copying and encoding them as evaluating. Here a row is a
//! package and two indexes, and values are shared: the re-match makes one
//! per advisory, status and name matched under when there is no detail
//! (every `affected` match).

use std::collections::HashMap;

use crate::PackageId;
use crate::records::MatchRecord;

use super::match_rows::{StoredMatch, StoredMatchRef};

/// Matches as rows of (package, advisory, encoded value), the advisories
/// and values held once each.
#[derive(Default)]
pub struct MatchRows {
    advisories: Vec<String>,
    values: Vec<MatchValue>,
    rows: Vec<Row>,
}

/// One stored match value ([`StoredMatch`] as encoded), with what a write
/// reads of it without decoding.
struct MatchValue {
    bytes: Box<[u8]>,
    affected: bool,
    ecosystem: String,
}

#[derive(Clone, Copy)]
struct Row {
    package: PackageId,
    advisory: u32,
    value: u32,
}

/// One row of [`MatchRows`], borrowed.
#[derive(Clone, Copy)]
pub struct MatchRowRef<'a> {
    pub package: PackageId,
    pub advisory: &'a str,
    /// The value as the match table stores it.
    pub value: &'a [u8],
    pub affected: bool,
    /// The ecosystem matched under (events name it).
    pub ecosystem: &'a str,
}

/// The fields of one match value, borrowed: what [`MatchRows::add_value`]
/// encodes.
pub struct MatchValueFields<'a> {
    pub status: &'a str,
    pub detail: Option<&'a str>,
    pub ecosystem: &'a str,
    pub name: &'a str,
    pub via_source_of: Option<&'a str>,
    pub fixed: &'a [String],
}

impl MatchRows {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records as rows, a value encoded for each.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a MatchRecord>) -> Self {
        let mut out = MatchRows::new();
        let mut advisory_at: HashMap<&str, u32> = HashMap::new();
        for m in records {
            let advisory = *advisory_at
                .entry(m.advisory.as_str())
                .or_insert_with(|| out.add_advisory(&m.advisory));
            let value =
                out.add_encoded(&StoredMatchRef::of(m), m.status == "affected", &m.ecosystem);
            out.push(m.package, advisory, value);
        }
        out
    }

    /// Adds an advisory id; rows name it by the index returned.
    pub fn add_advisory(&mut self, id: &str) -> u32 {
        self.advisories.push(id.to_string());
        (self.advisories.len() - 1) as u32
    }

    /// Adds a match value; rows name it by the index returned.
    pub fn add_value(&mut self, fields: &MatchValueFields<'_>) -> u32 {
        let stored = StoredMatchRef {
            status: fields.status,
            detail: fields.detail,
            ecosystem: fields.ecosystem,
            name: fields.name,
            via_source_of: fields.via_source_of,
            fixed: fields.fixed,
        };
        self.add_encoded(&stored, fields.status == "affected", fields.ecosystem)
    }

    fn add_encoded(&mut self, stored: &StoredMatchRef<'_>, affected: bool, ecosystem: &str) -> u32 {
        let mut bytes = Vec::new();
        crate::encode(stored, &mut bytes);
        self.values.push(MatchValue {
            bytes: bytes.into_boxed_slice(),
            affected,
            ecosystem: ecosystem.to_string(),
        });
        (self.values.len() - 1) as u32
    }

    /// A match of `package` by the advisory and value at these indexes.
    ///
    /// # Panics
    /// When either index is not one `add_advisory` or `add_value` returned.
    pub fn push(&mut self, package: PackageId, advisory: u32, value: u32) {
        // Checked here, where a caller's mistake is made, not at the write.
        assert!(
            (advisory as usize) < self.advisories.len() && (value as usize) < self.values.len(),
            "a match row names an advisory or value not added"
        );
        self.rows.push(Row {
            package,
            advisory,
            value,
        });
    }

    /// Room for `more` rows.
    pub fn reserve(&mut self, more: usize) {
        self.rows.reserve(more);
    }

    /// Takes `other`'s rows, its advisories and values renumbered.
    pub fn append(&mut self, other: MatchRows) {
        let (advisory_base, value_base) = (self.advisories.len() as u32, self.values.len() as u32);
        self.advisories.extend(other.advisories);
        self.values.extend(other.values);
        self.rows.extend(other.rows.into_iter().map(|r| Row {
            package: r.package,
            advisory: r.advisory + advisory_base,
            value: r.value + value_base,
        }));
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The advisory ids added, by index (an id may be there twice).
    pub(crate) fn advisory_ids(&self) -> &[String] {
        &self.advisories
    }

    /// The advisory index of row `i`.
    pub(crate) fn advisory_of(&self, i: usize) -> u32 {
        self.rows[i].advisory
    }

    /// Row `i`.
    pub fn get(&self, i: usize) -> MatchRowRef<'_> {
        let row = self.rows[i];
        let value = &self.values[row.value as usize];
        MatchRowRef {
            package: row.package,
            advisory: &self.advisories[row.advisory as usize],
            value: &value.bytes,
            affected: value.affected,
            ecosystem: &value.ecosystem,
        }
    }

    /// Every row, in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = MatchRowRef<'_>> {
        (0..self.rows.len()).map(|i| self.get(i))
    }

    /// The rows as records, decoded.
    pub fn records(&self) -> crate::Result<Vec<MatchRecord>> {
        self.iter()
            .map(|r| {
                let stored: StoredMatch = crate::decode(r.value, "matches", r.advisory)?;
                Ok(stored.into_record(r.package, r.advisory))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(advisory: &str, package: u64, status: &str, fixed: &[&str]) -> MatchRecord {
        MatchRecord {
            advisory: advisory.into(),
            package,
            status: status.into(),
            detail: (status != "affected").then(|| format!("why {package}")),
            ecosystem: "PyPI".into(),
            name: format!("p{}", package % 3),
            via_source_of: package.is_multiple_of(2).then(|| "src".to_string()),
            fixed: fixed.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn rows_hold_what_records_encode() {
        let records = vec![
            record("A1", 1, "affected", &["2.0"]),
            record("A1", 2, "unsupported", &[]),
            record("B2", 2, "affected", &["1.1", "1.2.post1"]),
        ];
        let rows = MatchRows::from_records(&records);
        for (r, m) in rows.iter().zip(&records) {
            assert_eq!(r.value, crate::kit::encode_match(m).as_slice());
            assert_eq!(r.affected, m.status == "affected");
        }
        assert_eq!(rows.records().unwrap(), records);

        // Built by hand from shared values, and appended: the same rows.
        let mut built = MatchRows::new();
        let a1 = built.add_advisory("A1");
        let fixed = vec!["2.0".to_string()];
        let v = built.add_value(&MatchValueFields {
            status: "affected",
            detail: None,
            ecosystem: "PyPI",
            name: "p1",
            via_source_of: None,
            fixed: &fixed,
        });
        built.push(1, a1, v);
        let mut rest = MatchRows::from_records(&records[1..]);
        let mut all = MatchRows::new();
        all.append(std::mem::take(&mut built));
        all.append(std::mem::take(&mut rest));
        assert_eq!(all.records().unwrap(), records);
        assert_eq!(all.advisory_ids(), ["A1", "A1", "B2"]);
    }
}
