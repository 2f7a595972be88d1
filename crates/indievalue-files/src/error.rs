//! The file layer's errors: every one names the file, and the line where there is one.

use std::path::PathBuf;

/// What can go wrong reading or writing a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused or failed (the source keeps its kind).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A value could not be encoded, or a line or file is not the JSON expected.
    #[error("{path}{}: {source}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Json {
        /// The file.
        path: PathBuf,
        /// The 1-based line, for JSON Lines files.
        line: Option<usize>,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A file that should start with a header line is empty.
    #[error("{path}: empty file, no header line")]
    NoHeader {
        /// The file.
        path: PathBuf,
    },
    /// The header names another format (or another version of it).
    #[error("{path}: format {found:?}, expected {expected:?}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The header's format.
        found: String,
        /// The format the reader understands.
        expected: String,
    },
}

/// The file layer's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An [`Error::Io`] for `path`.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}
