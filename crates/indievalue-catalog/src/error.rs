//! The catalog crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading metadata or reading and writing respondents.
///
/// Every variant names the file, and where it applies the 1-based line, so a user can find the
/// offending input without a debugger.
///
/// ```
/// use indievalue_catalog::{Catalog, Error};
/// let err = Catalog::load("/nonexistent/metadata/dir").unwrap_err();
/// assert!(matches!(err, Error::MissingFile { .. }));
/// assert!(err.to_string().contains("statements_meta_data.jsonl"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A metadata file the loader needs does not exist.
    #[error("{path}: metadata file not found")]
    MissingFile {
        /// The path that was looked for.
        path: PathBuf,
    },
    /// An I/O error while reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line of a metadata file is not valid JSON, or lacks a field, or has a field of the wrong type.
    #[error("{path}:{line}: invalid metadata line: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What serde_json reported.
        source: serde_json::Error,
    },
    /// A survey description's `survey.toml` is malformed, has an unknown key, or asks for
    /// something its metadata cannot give (`key` is the dotted path, or `line N` for syntax).
    #[error("{path}: {key}: {message}")]
    Survey {
        /// The `survey.toml` file.
        path: PathBuf,
        /// The key's dotted path (`evaluation.balance_by`), or `line N`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A line is well-formed JSON but violates a rule of the metadata format.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The polar and refined statement files disagree on a line.
    #[error("{polar}:{line} and {refined}:{line} disagree: {message}")]
    Disagree {
        /// The polar statement file.
        polar: PathBuf,
        /// The refined statement file.
        refined: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What differs.
        message: String,
    },
    /// Reading or writing Parquet failed.
    #[error("{path}: parquet: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: parquet::errors::ParquetError,
    },
    /// Building or reading Arrow data failed.
    #[error("{path}: arrow: {source}")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: arrow::error::ArrowError,
    },
    /// A respondents file was written against a different catalog than the one it is read with.
    #[error(
        "{path}: written for catalog {found}, but the loaded catalog is {expected}; \
         make it again with this catalog"
    )]
    CatalogMismatch {
        /// The file.
        path: PathBuf,
        /// Content hash of the loaded catalog.
        expected: String,
        /// Content hash recorded in the file.
        found: String,
    },
    /// A respondents file lacks a column or has a column of the wrong type.
    #[error("{path}: column {column}: {message}")]
    Column {
        /// The file.
        path: PathBuf,
        /// The column name.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// No metadata directory was named.
    #[error(
        "no metadata directory: pass --meta DIR or set INDIEVALUE_META_DIR to the authors' meta_data directory"
    )]
    NoMetaDir,
    /// Reading or writing a file through the file layer failed.
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
    /// Respondents data in memory is inconsistent with the catalog (wrong lengths, bad indices).
    #[error("respondents: {0}")]
    Respondents(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
