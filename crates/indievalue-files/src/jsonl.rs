//! JSON Lines files: an optional versioned header line, then one record a line.

use crate::atomic::write_atomic_with;
use crate::error::{Error, Result, io};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// A header line that names its format (a tag with a version, such as
/// `"indievalue-predictions/1"`), so a reader refuses a file it does not understand.
pub trait VersionedHeader: Serialize + DeserializeOwned {
    /// The format tag.
    fn format(&self) -> &str;
}

/// A general header: the format tag, who wrote the file (`"crate version"`, supplied by the
/// caller, see [`crate::written_by!`]), and whatever else determined the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Format tag with its version.
    pub format: String,
    /// The crate and version that wrote the file.
    pub written_by: String,
    /// Everything else that determined the file.
    pub params: serde_json::Value,
}

impl Header {
    /// A header of `format`, written by `written_by`.
    pub fn new(
        format: impl Into<String>,
        written_by: impl Into<String>,
        params: serde_json::Value,
    ) -> Header {
        Header {
            format: format.into(),
            written_by: written_by.into(),
            params,
        }
    }
}

impl VersionedHeader for Header {
    fn format(&self) -> &str {
        &self.format
    }
}

/// A JSON Lines file at a path: created (or rewritten) atomically, appended to with one synced
/// write per batch, recovered after a kill, read back as typed records.
///
/// A run killed during an append can leave part of the batch, ending in a torn line:
/// [`JsonLines::recover`] cuts it, and the caller counts a unit of work as done only when all
/// of its records are present.
///
/// ```
/// use indievalue_files::JsonLines;
/// let dir = tempfile::tempdir().unwrap();
/// let file = JsonLines::new(dir.path().join("log.jsonl"));
/// file.write_records(&[1, 2]).unwrap();
/// std::fs::write(file.path(), "1\n2\n3").unwrap(); // a torn third line
/// assert_eq!(file.recover().unwrap(), 1);
/// file.append(&[4]).unwrap();
/// assert_eq!(file.read_records::<u32>().unwrap(), vec![1, 2, 4]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonLines {
    path: PathBuf,
}

impl JsonLines {
    /// The file at `path` (nothing is read or written yet).
    pub fn new(path: impl Into<PathBuf>) -> JsonLines {
        JsonLines { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file exists.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Creates (or replaces) the file holding only `header`, atomically, for appending.
    pub fn create(&self, header: &impl VersionedHeader) -> Result<()> {
        self.write(header, &[] as &[serde_json::Value])
    }

    /// Creates (or replaces) an empty file without a header, atomically, for appending.
    pub fn create_empty(&self) -> Result<()> {
        self.write_records(&[] as &[serde_json::Value])
    }

    /// Writes the whole file atomically: `header`, then one line per record.
    pub fn write<T: Serialize>(&self, header: &impl VersionedHeader, records: &[T]) -> Result<()> {
        self.write_lines(Some(&to_line(&self.path, header)?), records)
    }

    /// Writes the whole file atomically, one line per record, without a header.
    pub fn write_records<T: Serialize>(&self, records: &[T]) -> Result<()> {
        self.write_lines(None, records)
    }

    fn write_lines<T: Serialize>(&self, header: Option<&[u8]>, records: &[T]) -> Result<()> {
        let mut lines = Vec::with_capacity(records.len());
        for r in records {
            lines.push(to_line(&self.path, r)?);
        }
        write_atomic_with(&self.path, |out| {
            if let Some(h) = header {
                out.write_all(h)?;
            }
            for line in &lines {
                out.write_all(line)?;
            }
            Ok(())
        })
    }

    /// Appends records in one write and syncs them. The file must exist.
    pub fn append<T: Serialize>(&self, records: &[T]) -> Result<()> {
        let mut buf = Vec::with_capacity(records.len() * 96);
        for r in records {
            buf.extend_from_slice(&to_line(&self.path, r)?);
        }
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io(&self.path))?;
        file.write_all(&buf).map_err(io(&self.path))?;
        file.sync_data().map_err(io(&self.path))
    }

    /// Prepares the file for appending after a killed run: a torn last line (no line end) is
    /// cut off. Returns the number of bytes removed.
    pub fn recover(&self) -> Result<u64> {
        let bytes = std::fs::read(&self.path).map_err(io(&self.path))?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let removed = (bytes.len() - keep) as u64;
        if removed > 0 {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(io(&self.path))?;
            file.set_len(keep as u64).map_err(io(&self.path))?;
            file.sync_all().map_err(io(&self.path))?;
        }
        Ok(removed)
    }

    /// Reads a file with a header of the `expected` format, then its records (blank lines
    /// skipped). A bad line is an error naming it.
    pub fn read<H: VersionedHeader, T: DeserializeOwned>(
        &self,
        expected: &str,
    ) -> Result<(H, Vec<T>)> {
        let mut lines = self.lines()?;
        let (n, first) = lines.next().ok_or_else(|| Error::NoHeader {
            path: self.path.clone(),
        })??;
        let header: H = self.parse(n, &first)?;
        if header.format() != expected {
            return Err(Error::Format {
                path: self.path.clone(),
                found: header.format().to_owned(),
                expected: expected.to_owned(),
            });
        }
        let records = self.records(lines)?;
        Ok((header, records))
    }

    /// Reads a file without a header: every non-blank line is a record.
    pub fn read_records<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let lines = self.lines()?;
        self.records(lines)
    }

    fn lines(&self) -> Result<impl Iterator<Item = Result<(usize, String)>> + '_> {
        let file = std::fs::File::open(&self.path).map_err(io(&self.path))?;
        Ok(std::io::BufReader::new(file)
            .lines()
            .enumerate()
            .map(|(i, l)| l.map(|l| (i + 1, l)).map_err(io(&self.path)))
            .filter(|l| !matches!(l, Ok((_, s)) if s.trim().is_empty())))
    }

    fn records<T: DeserializeOwned>(
        &self,
        lines: impl Iterator<Item = Result<(usize, String)>>,
    ) -> Result<Vec<T>> {
        lines
            .map(|l| {
                let (n, line) = l?;
                self.parse(n, &line)
            })
            .collect()
    }

    fn parse<T: DeserializeOwned>(&self, line: usize, text: &str) -> Result<T> {
        serde_json::from_str(text).map_err(|source| Error::Json {
            path: self.path.clone(),
            line: Some(line),
            source,
        })
    }
}

/// One value as a JSON line (with its line end).
fn to_line(path: &Path, value: &impl Serialize) -> Result<Vec<u8>> {
    let mut line = serde_json::to_vec(value).map_err(|source| Error::Json {
        path: path.to_owned(),
        line: None,
        source,
    })?;
    line.push(b'\n');
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_format_is_checked_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = JsonLines::new(dir.path().join("f.jsonl"));
        let header = Header::new("a/1", "test", serde_json::json!({"k": 1}));
        file.write(&header, &[10u32, 20]).unwrap();
        let (h, r): (Header, Vec<u32>) = file.read("a/1").unwrap();
        assert_eq!((h, r), (header, vec![10, 20]));
        let err = file.read::<Header, u32>("a/2").unwrap_err();
        assert!(
            matches!(err, Error::Format { ref found, .. } if found == "a/1"),
            "{err}"
        );
        file.append(&["x"]).unwrap();
        let err = file.read::<Header, u32>("a/1").unwrap_err();
        assert!(matches!(err, Error::Json { line: Some(4), .. }), "{err}");
        assert!(err.to_string().contains("f.jsonl, line 4"), "{err}");
    }

    #[test]
    fn empty_files_and_missing_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = JsonLines::new(dir.path().join("e.jsonl"));
        let err = file.append(&[1]).unwrap_err();
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        file.create_empty().unwrap();
        assert!(matches!(
            file.read::<Header, u32>("a/1"),
            Err(Error::NoHeader { .. })
        ));
        assert_eq!(file.recover().unwrap(), 0);
        assert!(file.read_records::<u32>().unwrap().is_empty());
    }

    #[test]
    fn recover_keeps_complete_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = JsonLines::new(dir.path().join("r.jsonl"));
        std::fs::write(file.path(), "{\"a\":1}\n{\"a\":").unwrap();
        assert_eq!(file.recover().unwrap(), 5);
        assert_eq!(std::fs::read_to_string(file.path()).unwrap(), "{\"a\":1}\n");
        assert_eq!(file.recover().unwrap(), 0);
    }
}
