//! # indievalue-reasoner
//!
//! The paper's IndieValueReasoner (§4; Tables 4, 17, 18, 19): a Llama model fine-tuned on C.1
//! conversations drawn from training people, then evaluated with the probing protocol beside
//! the model it started from.
//!
//! - [`ReasonerRecipe`]: what is trained and how: a Table 18 training set and the Table 17
//!   settings for full fine-tuning ([`ReasonerRecipe::paper_full`]), or a LoRA recipe for one
//!   80 GB GPU ([`ReasonerRecipe::lora_one_gpu`]).
//! - [`ReasonerRun`]: a run directory whose stages (training set, fine-tuning, evaluation of
//!   each model) each resume where a killed run stopped and are skipped once done.
//! - [`ModelEvaluation`], [`table4`], [`table19`], [`group_change_plots`]: Table 4's row and
//!   Table 19's inequity by dimension for the base and the trained model on the same tasks,
//!   and Figure 4's per-group change.
//!
//! The training conversations come from [`indievalue_probe::PromptBuilder`], the same code that
//! renders the C.1 prompt the scorer reads, so training and evaluation see the same text.
//!
//! ```
//! use indievalue_reasoner::ReasonerRecipe;
//! use indievalue_sampling::TrainingRecipe;
//! let recipe = ReasonerRecipe::paper_full(TrainingRecipe::parse("p+r", "mixed+200", 1600)?);
//! assert_eq!(recipe.train.optimizer.lr, 5e-6);
//! assert_eq!(recipe.train.batch_size * recipe.train.grad_accum, 8);
//! assert!(recipe.train.gradient_checkpointing && recipe.lora.is_none());
//! # Ok::<(), indievalue_sampling::Error>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod compare;
mod recipe;
mod run;

pub use compare::{ModelEvaluation, group_change_plots, table4, table19};
pub use recipe::{LoraRecipe, ReasonerRecipe};
pub use run::{
    EVAL_DIR, EvaluationTasks, MODEL_DIR, RUN_FILE, ReasonerRun, TRAINED_FILE, TRAINING_SET_FILE,
    Trained,
};

use std::path::PathBuf;

/// Errors of the reasoner recipe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Sampling the training set failed.
    #[error(transparent)]
    Sampling(#[from] indievalue_sampling::Error),
    /// Rendering or probing failed.
    #[error(transparent)]
    Probe(#[from] indievalue_probe::Error),
    /// Fine-tuning failed.
    #[error(transparent)]
    Finetune(#[from] indievalue_finetune::Error),
    /// Loading a model failed.
    #[error(transparent)]
    Llm(#[from] indievalue_llm::Error),
    /// Predictions, accuracy or plots failed.
    #[error(transparent)]
    Metrics(#[from] indievalue_metrics::Error),
    /// Reading or writing a file failed.
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
    /// A run directory holds a run of something else.
    #[error("{file}: {message}")]
    Mismatch {
        /// The file that disagrees.
        file: PathBuf,
        /// How.
        message: String,
    },
    /// A recipe that cannot be run.
    #[error("recipe: {0}")]
    Recipe(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
