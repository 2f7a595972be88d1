//! # indievalue-metrics
//!
//! The measuring stick for every reasoner:
//!
//! - [`Prediction`] and [`PredictionsFile`]: one record per (person, setup, question), shared by
//!   baselines and language models, in versioned JSON Lines files that can be appended to.
//! - [`AccuracyReport`]: accuracy per person (mean over setups, §2.2), per setup, per category
//!   and overall, a bootstrap interval over people, and log-loss / Brier score when the reasoner
//!   gave probabilities. All accuracies are percentages.
//! - [`InequityIndex`]: the Value Inequity Index over the 16 demographic dimensions of Table 16.
//! - [`PredictionVariety`]: whether predictions depend on the person at all.
//! - [`Table`] (Markdown and CSV) and [`plots`] (PNG and SVG).
//!
//! ```
//! use indievalue_catalog::{Catalog, Granularity};
//! use indievalue_testdata::mini_catalog_dir;
//! use indievalue_metrics::{AccuracyReport, Bootstrap, Prediction};
//! let catalog = Catalog::load(mini_catalog_dir())?;
//! let p = |person, predicted, gold| Prediction {
//!     person, setup: 0, question: "V1".into(), granularity: Granularity::Polar,
//!     predicted: Some(predicted), gold, probabilities: None,
//! };
//! let report = AccuracyReport::compute(&catalog, &[p(1, 0, 0), p(2, 1, 0)], &Bootstrap::default()).unwrap();
//! assert_eq!(report.overall, 50.0);
//! # Ok::<(), indievalue_catalog::Error>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod accuracy;
mod evaluation;
mod inequity;
pub mod plots;
mod predictions;
mod summary;
mod table;
mod variety;

pub use accuracy::{AccuracyReport, Bootstrap, CategoryAccuracy};
pub use evaluation::Evaluation;
pub use inequity::{Dimension, GroupAccuracy, InequityIndex, InequityRow};
pub use predictions::{PREDICTIONS_FORMAT, Prediction, PredictionsFile};
pub use summary::{RowInterval, SetupColumn, SetupRow, setup_average, setup_table};
pub use table::Table;
pub use variety::PredictionVariety;

use std::path::PathBuf;

/// Errors of the metrics crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Predictions are inconsistent (unknown question, gold out of range, no records, ...).
    #[error("predictions: {0}")]
    Invalid(String),
    /// A file-level problem (format, malformed line, torn write).
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
    /// The catalog refused a file (written for another catalog).
    #[error(transparent)]
    Catalog(#[from] indievalue_catalog::Error),
    /// Drawing a plot failed.
    #[error("{path}: plot: {message}")]
    Plot {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No font was found for PNG plots.
    #[error(
        "no TrueType font found for PNG plots (tried {tried}); set INDIEVALUE_FONT to a .ttf file"
    )]
    NoFont {
        /// The paths tried.
        tried: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
