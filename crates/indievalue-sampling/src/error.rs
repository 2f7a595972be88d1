//! The sampling crate's error type.

use std::path::PathBuf;

/// Errors of sampling and task files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line of a task or id file is malformed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A question id or person id is unknown.
    #[error("unknown {what}: {id}")]
    Unknown {
        /// "question", "person", ...
        what: &'static str,
        /// The id.
        id: String,
    },
    /// The data cannot satisfy a request (too few people who answered a question, ...).
    #[error("{0}")]
    Infeasible(String),
    /// Writing or reading a file failed.
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
    /// The catalog rejected something (a file written for another catalog, say).
    #[error(transparent)]
    Catalog(#[from] indievalue_catalog::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
