//! The predictions format shared by every reasoner.

use crate::{Error, Result};
use indievalue_catalog::{Catalog, Granularity};
use indievalue_sampling::{TaskFile, TaskFileHeader};
use serde::{Deserialize, Serialize};
use std::io::Write;
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
    /// Whether the prediction is right.
    pub fn correct(&self) -> bool {
        self.predicted == Some(self.gold)
    }
}

/// Predictions files: a [`TaskFileHeader`] line (format [`PREDICTIONS_FORMAT`], the reasoner and
/// its settings in `params`), then one [`Prediction`] a line. Long runs append people as they
/// finish; a rerun calls [`PredictionsFile::recover`] (cutting a torn last line) and
/// [`PredictionsFile::read`], and redoes every person whose probes are not all present.
///
/// ```
/// use indievalue_metrics::{PredictionsFile, PREDICTIONS_FORMAT, Prediction};
/// use indievalue_sampling::TaskFileHeader;
/// let catalog = indievalue_catalog::Catalog::load(indievalue_catalog::mini_catalog_dir()).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("global.jsonl");
/// let header = TaskFileHeader::new(PREDICTIONS_FORMAT, &catalog, 0,
///     serde_json::json!({"reasoner": "global"}));
/// let p = Prediction { person: 1, setup: 0, question: "V1".into(),
///     granularity: indievalue_catalog::Granularity::Polar, predicted: Some(0), gold: 1,
///     probabilities: None };
/// PredictionsFile::create(&path, &header).unwrap();
/// PredictionsFile::append(&path, &[p.clone()]).unwrap();
/// let (_, back) = PredictionsFile::read(&path, &catalog).unwrap();
/// assert_eq!(back, vec![p]);
/// ```
pub struct PredictionsFile;

impl PredictionsFile {
    /// Writes a complete file atomically.
    pub fn write(
        path: impl AsRef<Path>,
        header: &TaskFileHeader,
        predictions: &[Prediction],
    ) -> Result<()> {
        Ok(TaskFile::write(path, header, predictions)?)
    }

    /// Creates a file holding only the header (atomically), for appending.
    pub fn create(path: impl AsRef<Path>, header: &TaskFileHeader) -> Result<()> {
        Self::write(path, header, &[])
    }

    /// Appends predictions (one person's, by convention) in one write and syncs them. A run killed
    /// during the write can leave part of the batch: after [`PredictionsFile::recover`], count a
    /// person as done only when all of their probes are present.
    pub fn append(path: impl AsRef<Path>, predictions: &[Prediction]) -> Result<()> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let mut buf = Vec::with_capacity(predictions.len() * 96);
        for p in predictions {
            serde_json::to_writer(&mut buf, p).map_err(|e| io(e.into()))?;
            buf.push(b'\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
        file.write_all(&buf).map_err(io)?;
        file.sync_data().map_err(io)
    }

    /// Prepares a file for resuming after a killed run: a torn last line (no line end) is cut
    /// off. Returns the number of bytes removed.
    pub fn recover(path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let bytes = std::fs::read(path).map_err(io)?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let removed = (bytes.len() - keep) as u64;
        if removed > 0 {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io)?;
            file.set_len(keep as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok(removed)
    }

    /// Reads a file written for `catalog`.
    pub fn read(
        path: impl AsRef<Path>,
        catalog: &Catalog,
    ) -> Result<(TaskFileHeader, Vec<Prediction>)> {
        Ok(TaskFile::read(path, catalog, PREDICTIONS_FORMAT)?)
    }
}
