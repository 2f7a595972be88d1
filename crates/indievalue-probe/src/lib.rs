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
//! - [`ProbeRun`]: a run over many tasks of any [`TaskPredictor`] (the local ones through
//!   [`LocalPredictor`], a served model through `indievalue-remote`), appending each finished
//!   task's predictions and record and resuming where a killed run stopped.
//!
//! Prompts and answers need no model:
//!
//! ```
//! use indievalue_catalog::Catalog;
//! use indievalue_probe::{PromptBuilder, option_answer, parse_answer};
//! use indievalue_sampling::{ConsistencySpec, ProbeSetup, SettlingStatement, consistency_tasks};
//! let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir())?;
//! let setups = ProbeSetup::of_survey(&catalog);
//! let spec = ConsistencySpec { settling: SettlingStatement::RefinedForPolar, fillers: 3, seed: 1 };
//! let task = &consistency_tasks(&catalog, &setups[..1], 1, &spec)?[0];
//! let prompts = PromptBuilder::new(&catalog);
//! let probe = &task.probes[0];
//! let user = prompts.question_prompt(task, probe)?;
//! assert!(user.contains(&option_answer(0, &prompts.probe_options(task, probe)?[0])));
//! // The model's answer to the probing prompt (Appendix B.1) is parsed by key.
//! let options: Vec<u8> = task.probes.iter().map(|p| p.options).collect();
//! let parsed = parse_answer(r#"{"NSG1": {"choice": "NSG1_s2"}}"#, &options);
//! assert_eq!(parsed.groups[0].as_ref().ok(), Some(&1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Scoring with a model (here SmolLM2-135M from `scripts/fetch_models.sh`), resumably:
//!
//! ```no_run
//! use indievalue_llm::{LoadOptions, ModelSource, load_model};
//! use indievalue_probe::{ProbeMode, ProbeRun, ScoreTarget};
//! # let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir())?;
//! # let tasks: Vec<indievalue_sampling::ProbeTask> = Vec::new();
//! let model = load_model(&ModelSource::Gguf(indievalue_testdata::smollm2_gguf()), &LoadOptions::default())?;
//! let mode = ProbeMode::Score(ScoreTarget::Statement);
//! let run = ProbeRun::new(&model, &catalog, mode, "out/probe", 0, serde_json::json!({}));
//! let outcome = run.run(&tasks, None, &mut |done| println!("person {} done", done.person))?;
//! println!("{} tasks run, {} resumed", outcome.ran, outcome.resumed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod parse;
mod predict;
mod prompt;
mod run;
mod training;

pub use parse::{GroupFailure, ParsedAnswer, parse_answer};
pub use predict::{
    Attempt, GeneratedTask, GenerationSettings, GenerativePredictor, ScoreTarget, ScoredTask,
    ScoringPredictor, scored_texts,
};
pub use prompt::{
    PromptBuilder, display_statement, group_key, option_answer, option_key, option_label,
};
/// `indievalue-probe VERSION`: what wrote a run's files (part of the experiment runner's keys,
/// so predictions made by another version of the prompts are not reused).
pub const WRITTEN_BY: &str = indievalue_files::written_by!();

pub use run::{
    GENERATIONS_FILE, LocalPredictor, PREDICTIONS_FILE, ProbeMode, ProbeRun, RunOutcome, TaskDone,
    TaskOutput, TaskPredictor,
};
pub use training::{ChatFormat, meta_path, write_chat_training_set, write_task_training_set};

/// Errors of probing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A task does not fit the catalog or the model.
    #[error("task: {0}")]
    Task(String),
    /// Reading or writing a result file failed.
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
    /// A predictions file could not be read or written.
    #[error(transparent)]
    Metrics(#[from] indievalue_metrics::Error),
    /// An earlier run's output cannot be resumed.
    #[error("resume: {0}")]
    Resume(String),
    /// A predictor's budget is spent: [`ProbeRun::run`] stops cleanly after the tasks before
    /// it (a rerun with a larger budget continues).
    #[error("budget reached: {0}")]
    Budget(String),
    /// A predictor backed by something else (a served model) failed.
    #[error("{context}: {source}")]
    Predictor {
        /// What was being done.
        context: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
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
