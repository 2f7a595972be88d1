//! The converter's errors.

use std::path::PathBuf;

/// Errors of the converter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The CSV parser failed (bad quoting, invalid UTF-8 in the header, ...).
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What went wrong.
        message: String,
    },
    /// The file is empty (no header).
    #[error("{path}: the file is empty (no header line)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file has a header but no data row.
    #[error("{path}: the file has a header but no data row")]
    NoRows {
        /// The file.
        path: PathBuf,
    },
    /// A column the catalog needs is not in the header.
    #[error("{path}: required column {column} is missing from the header")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// A cell of a needed column is not an integer.
    #[error(
        "{path}: line {line} (row {row}), column {column}: {value:?} is not an integer code \
         (codes must fit 32 bits)"
    )]
    NotInteger {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: u64,
        /// 1-based data row (the line minus the header; exact unless blank lines or quoted
        /// line ends come before).
        row: u64,
        /// The column.
        column: String,
        /// The cell's text.
        value: String,
    },
    /// A row has a different number of fields than the header (and is not the truncated last
    /// line).
    #[error("{path}: line {line}: {found} fields, the header has {expected}")]
    FieldCount {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// The catalog rejected the converted table.
    #[error(transparent)]
    Catalog(#[from] indievalue_catalog::Error),
    /// A file could not be written or read back (the report, say).
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
