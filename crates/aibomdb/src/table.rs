//! Plain aligned text tables for `--format table`. Cells come from documents
//! and names anyone can choose, so control characters are escaped here, before
//! widths are measured, and a hostile cell cannot move the cursor or retitle
//! the terminal.

use std::fmt;

pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| cell(h)).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, row: Vec<String>) {
        self.rows.push(row.iter().map(|c| cell(c)).collect());
    }
}

/// A cell as shown: hostile characters as visible escapes, and a newline or
/// tab, which would break the row, as `\n`, `\t`.
fn cell(text: &str) -> String {
    crate::output::escape_controls(text)
        .replace('\n', "\\n")
        .replace('\t', "\\t")
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            let last = cells.len().saturating_sub(1);
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i == last {
                    writeln!(f, "{cell}")?;
                } else {
                    write!(f, "{cell:<w$}  ")?;
                }
            }
            Ok(())
        };
        line(f, &self.header)?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn hostile_cells_stay_in_their_column() {
        let mut t = Table::new(&["name", "n"]);
        t.row(vec![
            "\u{1b}]0;pwned\u{7}\u{1b}[31mred\nx".into(),
            "1".into(),
        ]);
        t.row(vec!["ok".into(), "2".into()]);
        let text = t.to_string();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text:?}");
        // Widths are measured on what is shown: the second column lines up.
        let col = lines[1].rfind('1').unwrap();
        assert_eq!(lines[2].rfind('2').unwrap(), col, "{text}");
        assert!(
            lines[1].starts_with("\\u001b]0;pwned\\u0007\\u001b[31mred\\nx"),
            "{text}"
        );
    }
}
