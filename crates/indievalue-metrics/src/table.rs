//! Plain tables rendered as Markdown and CSV.

use crate::Result;
use std::path::Path;

/// A table of text cells.
///
/// ```
/// let mut t = indievalue_metrics::Table::new(["Model", "Accuracy"]);
/// t.push(["global", "64.95"]);
/// assert_eq!(t.to_markdown(), "| Model | Accuracy |\n| --- | ---: |\n| global | 64.95 |\n");
/// assert_eq!(t.to_csv(), "Model,Accuracy\nglobal,64.95\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        self.rows.push(row.into_iter().map(Into::into).collect());
    }

    /// GitHub Markdown; columns after the first are right-aligned.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.headers.join(" | "));
        let align: Vec<&str> = (0..self.headers.len())
            .map(|i| if i == 0 { "---" } else { "---:" })
            .collect();
        out.push_str(&format!("| {} |\n", align.join(" | ")));
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }

    /// CSV (RFC 4180 quoting where needed).
    pub fn to_csv(&self) -> String {
        let quote = |cell: &String| {
            if cell.contains([',', '"', '\n']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.clone()
            }
        };
        let line = |cells: &[String]| cells.iter().map(quote).collect::<Vec<_>>().join(",");
        let mut out = line(&self.headers);
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }

    /// Writes `STEM.md` and `STEM.csv` beside each other.
    pub fn write(&self, stem: impl AsRef<Path>) -> Result<()> {
        let stem = stem.as_ref();
        for (ext, text) in [("md", self.to_markdown()), ("csv", self.to_csv())] {
            let path = stem.with_extension(ext);
            indievalue_files::write_atomic(&path, text.as_bytes())?;
        }
        Ok(())
    }
}
