//! # indievalue-sampling
//!
//! The experimental protocol of the IndieValueCatalog paper as a library: which questions are
//! probed ([`ProbeSetup`]), who is evaluated ([`select_evaluation_set`]), which of their answers are
//! shown ([`Demonstrations`]), the resulting [`ProbeTask`]s, and training sets for a reasoner
//! ([`build_training_set`]). Every random choice is seeded through
//! [`indievalue_catalog::rng::Rng::derive`] from the seed and the ids involved, so a person's
//! demonstrations never depend on who else is sampled, and everything is written to versioned
//! JSON Lines task files ([`TaskFile`]).
//!
//! ```
//! use indievalue_catalog::{Catalog, Granularity};
//! use indievalue_testdata::mini_catalog_dir;
//! use indievalue_sampling::{AnswerMatrix, DemoMode, DemoSpec, ProbeSetup, TaskSpec, build_probe_tasks};
//! let catalog = Catalog::load(mini_catalog_dir())?;
//! let setups = ProbeSetup::of_survey(&catalog);
//! assert_eq!(setups[0].questions().len(), 39);
//! # let config = indievalue_synth::SynthConfig { people: 20, ..Default::default() };
//! # let respondents = indievalue_synth::SyntheticModel::new(&catalog, &config).unwrap()
//! #     .respondents(&catalog).unwrap();
//! let answers = AnswerMatrix::new(&respondents);
//! let spec = DemoSpec { mode: DemoMode::Fixed(20), granularity: Granularity::Polar, demographics: false };
//! let task_spec = TaskSpec { setups: &setups, demos: spec, probe_granularity: Granularity::Polar, seed: 7 };
//! let tasks = build_probe_tasks(&catalog, &respondents, &answers, &[0, 1], &task_spec);
//! assert_eq!(tasks.len(), 6);
//! # Ok::<(), indievalue_catalog::Error>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod consistency;
mod demos;
mod error;
mod evaluation;
mod matrix;
mod setup;
mod task;
mod training;

pub use consistency::{ConsistencySpec, SettlingStatement, consistency_tasks};
pub use demos::{DemoMode, DemoSpec, Demonstrations};
pub use error::{Error, Result};
pub use evaluation::{
    EVAL_IDS_FILE, EvalCriteria, EvaluationSet, GroupOf, balance_item, non_probe_questions,
    read_id_file, scaled_demonstrations, select_evaluation_set, survey_demo_mode,
    survey_demonstrations, write_id_file,
};
pub use matrix::AnswerMatrix;
pub use setup::ProbeSetup;
pub use task::{
    DemographicStatement, Demonstration, PROBE_TASKS_FILE, Probe, ProbeTask, TASK_FORMAT, TaskFile,
    TaskFileHeader, TaskSpec, WRITTEN_BY, build_category_tasks, build_probe_tasks, chance_accuracy,
    keep_first_people, retarget_tasks,
};
pub use training::{
    DemographicsMode, TRAINING_FORMAT, TrainingExample, TrainingRecipe, TrainingRecord,
    build_training_set, write_training_set,
};
