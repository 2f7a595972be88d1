//! # indievalue-catalog
//!
//! The typed schema of the IndieValueCatalog (Jiang et al., "Can Language Models Reason about
//! Individualistic Human Values and Preferences?"): a survey's value questions in categories,
//! each turned into *polar* and *refined* natural-language statements, plus demographic items
//! (the World Values Survey: 253 questions in 13 categories, 31 items); and the Arrow/Parquet
//! storage of respondents' answers. Any survey described in the authors' schema works: a
//! directory with the three metadata files and a `survey.toml` ([`SurveySettings`]).
//!
//! - [`Catalog::load`] reads and validates a survey description from a directory.
//! - [`Catalog::stats`] gives Table 1 / Table 6 figures and the combinatorial answer space.
//! - [`Respondents`] holds a people x questions table and reads/writes Parquet, refusing files
//!   written for a different catalog.
//!
//! ```
//! use indievalue_catalog::{Catalog, Granularity};
//! let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir())?;
//! let stats = catalog.stats();
//! println!("{} questions, {} polar statements", stats.questions, stats.statements_polar);
//! println!("answer space {}", stats.answer_space(Granularity::Refined).scientific(3));
//! # Ok::<(), indievalue_catalog::Error>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod catalog;
mod category;
mod demographic;
mod error;
mod files;
mod question;
mod stats;
pub mod storage;
mod survey;

/// The project's seeded random number generator (the `indievalue-rng` crate).
pub use indievalue_rng as rng;

pub use catalog::{
    Catalog, DEMOGRAPHICS_FILE, META_DIR_ENV, POLAR_FILE, REFINED_FILE, meta_dir, meta_dir_from_env,
};
pub use category::Category;
pub use demographic::{Demographic, DemographicKind, DemographicOption};
pub use error::{Error, Result};
pub use files::{FileHeader, read_catalog_file, write_catalog_file};
pub use question::{CodeMap, Granularity, Question, QuestionId, StatementSet};
pub use stats::{AnswerSpace, CatalogStats, CategoryRow};
pub use storage::{
    DemographicAnswers, NO_ANSWER, NO_OPTION, QuestionAnswers, Respondents, RowLookup,
};
pub use survey::{
    CONTINENT_ITEM, COUNTRY_ITEM, EvaluationRule, InequityDimension, ProbeRule, SURVEY_FILE,
    SurveySettings, WVS_ID_COLUMN,
};
