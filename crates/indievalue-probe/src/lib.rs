//! # indievalue-probe
//!
//! Probing language models on IndieValueCatalog tasks (DIGEST §5):
//!
//! - [`PromptBuilder`]: the paper's probing prompt (Appendix B.1: instructions, known
//!   statements, all probe groups as JSON) and training prompt (Appendix C.1: one question,
//!   `Option i:` lines), from a [`indievalue_sampling::ProbeTask`] and the catalog; demographic
//!   statements come first when the task has them.
//! - [`parse_answer`]: the JSON answer parsed by key name (code fences and prose tolerated;
//!   group and option keys validated; every failure named).
//! - [`ScoringPredictor`]: a probability for every option from one shared prefix per
//!   (person, setup); [`GenerativePredictor`]: greedy generation and parsing, with bounded,
//!   recorded retries. Both give [`indievalue_metrics::Prediction`]s.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod parse;
mod predict;
mod prompt;
mod run;

pub use parse::{GroupFailure, ParsedAnswer, parse_answer};
pub use predict::{
    Attempt, GeneratedTask, GenerationSettings, GenerativePredictor, ScoreTarget, ScoredTask,
    ScoringPredictor,
};
pub use prompt::{PromptBuilder, display_statement, group_key, option_key};
pub use run::{ProbeMode, ProbeRun, RunOutcome, TaskDone};

/// Errors of probing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A task does not fit the catalog or the model.
    #[error("task: {0}")]
    Task(String),
    /// Reading or writing a result file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A predictions file could not be read or written.
    #[error(transparent)]
    Metrics(#[from] indievalue_metrics::Error),
    /// An earlier run's output cannot be resumed.
    #[error("resume: {0}")]
    Resume(String),
    /// The model failed.
    #[error("{context}: {source}")]
    Model {
        /// What was being done.
        context: String,
        /// The cause.
        source: Box<indievalue_llm::Error>,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
