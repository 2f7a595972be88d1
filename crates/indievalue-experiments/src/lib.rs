//! # indievalue-experiments
//!
//! The paper's evaluation experiments as data, run resumably, reported with the paper's
//! figures beside ours.
//!
//! - [`Plan`]: a TOML file naming the data (a synthetic survey, the raw WVS CSV or a converted
//!   dataset), the reasoners (the statistical baselines, local language models with a probing
//!   mode and an optional LoRA adapter) and the experiments. Unknown keys and impossible
//!   requests are typed errors naming the key ([`Error::Plan`]).
//! - [`Store`]: content-addressed tasks and predictions. A key hashes the data's hash, the
//!   seed, the canonical parameters, [`FORMAT_VERSION`], the reasoner and its model files'
//!   hashes: the same key is the same files, reused across experiments and runs.
//! - The experiments: Tables 1 and 6, Table 4 / Table 15 / Figure 2, Table 20, Table 2 /
//!   Table 16 ([`AccuracyExperiment`], ...), and the ablations: Figure 5 / Figure 10, Table 14,
//!   Figure 8, Table 5, Figures 4, 9, 11-21 ([`DemonstrationsExperiment`], ...).
//! - [`Experiment`]: a named experiment of the paper (the label spelled as the paper does), the
//!   [`Need`]s it has (tasks and reasoners) and how its section of the report is rendered.
//!   [`experiments_of`] turns a plan's `[[experiment]]` entries into experiments; adding one is
//!   adding a type, not touching the [`Runner`].
//! - [`Runner`]: plans the jobs every experiment needs (what exists, what is left; a dry run
//!   counts model calls and tokens), runs what is left (model runs append task by task, so a
//!   killed run resumes), then writes `REPORT.md`, a CSV per table, PNG and SVG plots and
//!   `manifest.json` (data hash, seeds, model files, versions, time and tokens per experiment;
//!   timings live only there, so `REPORT.md` is the same bytes for the same plan).
//!
//! ```no_run
//! use indievalue_experiments::{Plan, Runner};
//! let plan = Plan::embedded_default()?;
//! let runner = Runner::new(plan, "out/reproduce")?;
//! let report = runner.run(&mut |_event| {})?;
//! println!("{}", report.report_md.display());
//! # Ok::<(), indievalue_experiments::Error>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod ablations;
mod data;
mod experiment;
mod experiments;
pub mod paper;
mod pipeline;
mod plan;
mod report;
mod runner;
mod store;

pub use ablations::{
    CategoryDemosExperiment, DemoFormExperiment, DemographicsExperiment, DemonstrationsExperiment,
    GroupsExperiment,
};
pub use data::{DataSource, Dataset};
pub use experiment::{Experiment, Need, RenderContext, Section, SectionTable, TaskRequest};
pub use experiments::{
    AccuracyExperiment, CatalogExperiment, InequityExperiment, TopKExperiment, experiments_of,
};
pub use pipeline::{DATA_DIR, RESULTS_DIR, Sample, SurveyRun, TASKS_DIR};
pub use plan::{
    DataSpec, EvaluationSpec, ExperimentSpec, ModelMode, Plan, ReasonerSpec, SyntheticSpec,
};
pub use report::{Manifest, ReportFiles};
pub use runner::{Event, Job, JobKind, JobStatus, Results, Runner};
pub use store::{FORMAT_VERSION, Store};

use std::path::PathBuf;

/// Errors of the experiment runner.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plan is not valid: `key` names the offending key (dotted path, such as
    /// `reasoner[1].mode`), `file` the plan.
    #[error("{file}: {key}: {message}")]
    Plan {
        /// The plan file (or `embedded default`).
        file: String,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A stored file does not match what its key promised (edited or from another version).
    #[error("{path}: {message}")]
    Store {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An input the plan names is unusable.
    #[error("{0}")]
    Input(String),
    /// A served reasoner's budget is spent: the run stopped cleanly; rerun to continue.
    #[error("stopped: {0}")]
    Stopped(String),
    /// A served reasoner failed.
    #[error(transparent)]
    Remote(#[from] indievalue_remote::Error),
    /// The file layer.
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
    /// The catalog.
    #[error(transparent)]
    Catalog(#[from] indievalue_catalog::Error),
    /// Conversion of the raw survey.
    #[error(transparent)]
    Convert(#[from] indievalue_convert::Error),
    /// The synthetic survey.
    #[error(transparent)]
    Synth(#[from] indievalue_synth::Error),
    /// Sampling.
    #[error(transparent)]
    Sampling(#[from] indievalue_sampling::Error),
    /// Baselines.
    #[error(transparent)]
    Baselines(#[from] indievalue_baselines::Error),
    /// Metrics and plots.
    #[error(transparent)]
    Metrics(#[from] indievalue_metrics::Error),
    /// Probing.
    #[error(transparent)]
    Probe(#[from] indievalue_probe::Error),
    /// Loading a model.
    #[error(transparent)]
    Llm(#[from] indievalue_llm::Error),
    /// Loading an adapter.
    #[error(transparent)]
    Finetune(#[from] indievalue_finetune::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
