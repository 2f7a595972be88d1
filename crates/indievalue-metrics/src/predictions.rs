//! The predictions format shared by every reasoner.

use crate::Result;
use indievalue_catalog::{Catalog, FileHeader, Granularity, read_catalog_file, write_catalog_file};
use indievalue_files::JsonLines;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format tag of predictions files.
pub const PREDICTIONS_FORMAT: &str = "indievalue-predictions/1";

/// One prediction: what a reasoner chose for one probe of one (person, setup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The person's `D_INTERVIEW`.
    pub person: i64,
    /// The probe setup (0-based).
    pub setup: usize,
    /// The probed question id.
    pub question: String,
    /// Statement form of the probe.
    pub granularity: Granularity,
    /// The chosen statement; `None` when the reasoner gave no usable answer (counted wrong).
    pub predicted: Option<u8>,
    /// The person's statement.
    pub gold: u8,
    /// A probability for every option, when the reasoner has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<f32>>,
}

impl Prediction {
    /// A prediction of `predicted` for the probe of `question` (the one constructor every
    /// reasoner uses).
    pub fn new(
        person: i64,
        setup: usize,
        question: impl Into<String>,
        granularity: Granularity,
        predicted: Option<u8>,
        gold: u8,
        probabilities: Option<Vec<f32>>,
    ) -> Prediction {
        Prediction {
            person,
            setup,
            question: question.into(),
            granularity,
            predicted,
            gold,
            probabilities,
        }
    }

    /// Whether the prediction is right.
    pub fn correct(&self) -> bool {
        self.predicted == Some(self.gold)
    }
}

/// Predictions files: a catalog [`FileHeader`] line (format [`PREDICTIONS_FORMAT`], the reasoner
/// and its settings in `params`), then one [`Prediction`] a line. Long runs append people as they
/// finish; a rerun calls [`PredictionsFile::recover`] (cutting a torn last line) and
/// [`PredictionsFile::read`], and redoes every person whose probes are not all present.
///
/// ```
/// use indievalue_catalog::FileHeader;
/// use indievalue_metrics::{PredictionsFile, PREDICTIONS_FORMAT, Prediction};
/// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("global.jsonl");
/// let header = FileHeader::new(PREDICTIONS_FORMAT, &catalog, 0, "doc",
///     serde_json::json!({"reasoner": "global"}));
/// let p = Prediction::new(1, 0, "V1", indievalue_catalog::Granularity::Polar, Some(0), 1, None);
/// PredictionsFile::start(&path, &header).unwrap();
/// PredictionsFile::append(&path, &[p.clone()]).unwrap();
/// let (_, back) = PredictionsFile::read(&path, &catalog).unwrap();
/// assert_eq!(back, vec![p]);
/// ```
pub struct PredictionsFile;

impl PredictionsFile {
    /// Writes a complete file atomically.
    pub fn write(
        path: impl AsRef<Path>,
        header: &FileHeader,
        predictions: &[Prediction],
    ) -> Result<()> {
        Ok(write_catalog_file(path, header, predictions)?)
    }

    /// Creates a file holding only the header (atomically), for appending.
    pub fn start(path: impl AsRef<Path>, header: &FileHeader) -> Result<()> {
        Self::write(path, header, &[])
    }

    /// Appends predictions (one person's, by convention) in one write and syncs them. A run killed
    /// during the write can leave part of the batch: after [`PredictionsFile::recover`], count a
    /// person as done only when all of their probes are present.
    pub fn append(path: impl AsRef<Path>, predictions: &[Prediction]) -> Result<()> {
        Ok(JsonLines::new(path.as_ref()).append(predictions)?)
    }

    /// Prepares a file for resuming after a killed run: a torn last line (no line end) is cut
    /// off. Returns the number of bytes removed.
    pub fn recover(path: impl AsRef<Path>) -> Result<u64> {
        Ok(JsonLines::new(path.as_ref()).recover()?)
    }

    /// Reads a file written for `catalog`.
    pub fn read(
        path: impl AsRef<Path>,
        catalog: &Catalog,
    ) -> Result<(FileHeader, Vec<Prediction>)> {
        Ok(read_catalog_file(path, catalog, PREDICTIONS_FORMAT)?)
    }
}
