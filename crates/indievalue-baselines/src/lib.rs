//! # indievalue-baselines
//!
//! The statistical baselines of Table 4, which are strong: the top-cluster baseline beats every
//! zero-shot language model in the paper.
//!
//! - [`random_accuracy`]: the exact expected accuracy of a uniform random choice.
//! - [`GlobalMajority`]: per probe question, the most common valid answer in the training pool.
//! - [`ResembleIndex`] and [`resemble_sweep`]: resemble top-1 and top-k for every k in `1..=K` in
//!   one pass.
//! - [`LearnedReasoners`]: reasoners that learn from the whole training pool (similarity-weighted
//!   neighbours, a per-question logistic regression, a latent class model and their blend),
//!   their settings and a recommended one chosen by cross-validation on the pool alone
//!   ([`Selection`]); [`run_baseline_suite`] runs them beside the paper's baselines.
//!
//! ```
//! use indievalue_baselines::{GlobalMajority, ResembleIndex, resemble_sweep};
//! use indievalue_catalog::{Catalog, Granularity};
//! use indievalue_sampling::{AnswerMatrix, DemoMode, DemoSpec, ProbeSetup, TaskSpec, build_probe_tasks};
//! use indievalue_synth::{SynthConfig, SyntheticModel};
//! let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
//! let config = SynthConfig { people: 200, seed: 4, ..Default::default() };
//! let people = SyntheticModel::new(&catalog, &config).unwrap().respondents(&catalog).unwrap();
//! let answers = AnswerMatrix::new(&people);
//! let (eval, pool): (Vec<usize>, Vec<usize>) = (0..people.len()).partition(|r| r % 10 == 0);
//! let setups = ProbeSetup::of_survey(&catalog);
//! let demos = DemoSpec { mode: DemoMode::Fixed(20), granularity: Granularity::Polar, demographics: false };
//! let spec = TaskSpec { setups: &setups, demos, probe_granularity: Granularity::Polar, seed: 1 };
//! let tasks = build_probe_tasks(&catalog, &people, &answers, &eval, &spec);
//! let global = GlobalMajority::fit(&catalog, &answers, &pool);
//! let index = ResembleIndex::build(&catalog, &people, &answers, &pool, Granularity::Polar).unwrap();
//! let sweep = resemble_sweep(&catalog, &answers, &index, &global, &tasks, 5, &[1]).unwrap();
//! assert_eq!(sweep.points.len(), 5);
//! assert_eq!(sweep.predictions[&1].len(), tasks.iter().map(|t| t.probes.len()).sum::<usize>());
//! ```
//!
//! ## Semantics
//!
//! - *Similarity* of a training person to a task is the number of the task's demonstrations
//!   (question, statement) that the training person answered with the same statement, at the
//!   demonstrations' granularity. A missing answer never matches.
//! - Training people are ranked by similarity, descending; ties are broken by ascending
//!   `D_INTERVIEW`.
//! - *Top-k* for a probe question takes the `k` best-ranked training people **who answered that
//!   question** (missing answers never vote) and predicts the statement most of them chose; a tie
//!   between statements goes to the statement of the best-ranked voter among the tied ones. Top-1
//!   is the answer of the best-ranked training person who answered the question, so top-k with
//!   k = 1 equals top-1.
//! - *Global* ties go to the smaller statement index. When nobody in the pool answered a
//!   question, global predicts statement 0 and top-k falls back to global.
//!
//! ## Speed
//!
//! Every training person's answers are one-hot bits over all (question, statement) pairs (567
//! bits, 9 words, for the polar catalog). A task's demonstrations are the same kind of mask, so
//! a similarity is an AND and a popcount over a few words, for every training person; tasks run
//! in parallel with rayon. Memory is proportional to the pool, never people x people.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod global;
mod latent;
mod layout;
mod learned;
mod logistic;
mod neighbours;
mod random;
mod resemble;
mod suite;

pub use global::GlobalMajority;
pub use learned::{
    LearnedPredictions, LearnedReasoner, LearnedReasoners, LearnedSettings, Selection,
    SetupSelection,
};
pub use random::random_accuracy;
pub use resemble::{ResembleIndex, Sweep, SweepPoint, resemble_sweep, resemble_top1};
pub use suite::{
    BaselineResults, BaselineRun, SuiteOptions, plot_top_k, run_baseline_suite, run_baselines,
    top_k_lines, top_k_table,
};

/// `written_by` of predictions files of the baselines.
pub const WRITTEN_BY: &str = indievalue_files::written_by!();

use indievalue_catalog::Granularity;
/// Errors of the baselines.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A task names a question the catalog does not have.
    #[error("task of person {person}: unknown question {question}")]
    UnknownQuestion {
        /// The person.
        person: i64,
        /// The question id.
        question: String,
    },
    /// Writing predictions failed.
    #[error(transparent)]
    Metrics(#[from] indievalue_metrics::Error),
    /// Creating an output directory failed.
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
    /// There are no tasks to run the baselines on.
    #[error("no probe tasks")]
    NoTasks,
    /// The reported k is past the sweep.
    #[error("the reported k ({report_k}) must be in 1..={max_k} (the sweep's largest k)")]
    ReportK {
        /// The reported k.
        report_k: usize,
        /// The sweep's largest k.
        max_k: usize,
    },
    /// The training pool is empty.
    #[error("the training pool is empty")]
    EmptyPool,
    /// k must be at least 1.
    #[error("k must be at least 1")]
    ZeroK,
    /// A task's demonstrations are not at the index's granularity.
    #[error(
        "task of person {person}: {found} demonstrations, but the index holds {expected} answers"
    )]
    Granularity {
        /// The person.
        person: i64,
        /// The index's granularity.
        expected: Granularity,
        /// The task's.
        found: Granularity,
    },
    /// Settings of the learned reasoners that cannot work.
    #[error("learned reasoner settings: {0}")]
    Settings(String),
    /// A task of a setup or demonstration mode the learned reasoners were not fitted for.
    #[error(
        "task of person {person}: the learned reasoners were not fitted for setup {setup} and its demonstrations"
    )]
    NotFitted {
        /// The person.
        person: i64,
        /// The setup.
        setup: usize,
    },
    /// The logistic model's optimiser failed.
    #[error("fitting the logistic model: {0}")]
    Optimiser(String),
    /// A matrix product failed.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    /// A demonstration names a statement the question does not have.
    #[error("demonstration statement {statement} of question {question} is out of range")]
    Statement {
        /// Question position.
        question: usize,
        /// The statement index.
        statement: u8,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
