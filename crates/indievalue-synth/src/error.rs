//! The generator's errors.

/// Errors of the synthetic survey generator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed (the survey, the model file).
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
    /// A probe task does not fit the data or the catalog (unknown person or question).
    #[error("task: {0}")]
    Task(String),
    /// The catalog cannot drive the generator, or a model does not fit the catalog.
    #[error("synthetic survey: {0}")]
    Config(String),
    /// Loading the catalog failed.
    #[error(transparent)]
    Catalog(#[from] indievalue_catalog::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
