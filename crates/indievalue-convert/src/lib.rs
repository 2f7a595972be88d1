//! # indievalue-convert
//!
//! Streams the raw World Values Survey Wave 7 cross-national CSV into the catalog's
//! [`Respondents`] table and its Parquet file, and reports Table 1's "data with valid labels"
//! figures ([`ConversionReport`]).
//!
//! - Columns are found by header name, in any order; extra columns are ignored; a UTF-8 BOM and
//!   CRLF line ends are accepted.
//! - Rows are deduplicated on `D_INTERVIEW` (the first is kept, the others counted).
//! - Raw codes become statement indices for both granularities through the catalog; negative codes
//!   and codes the catalog does not know become "no valid answer" and are counted per question.
//! - Bad input is a typed [`Error`] naming the file, line, column and value. A truncated last line
//!   (fewer fields than the header, at the very end) is dropped and reported in
//!   [`ConversionReport::truncated_last_line`]; a short line anywhere else is an error.
//!
//! ```
//! use indievalue_catalog::{Catalog};
//! use indievalue_testdata::mini_catalog_dir;
//! use indievalue_convert::{convert_file, write_dataset, ConvertOptions};
//! use indievalue_synth::{SynthConfig, SyntheticModel};
//! let catalog = Catalog::load(mini_catalog_dir())?;
//! let dir = tempfile::tempdir().unwrap();
//! let csv = dir.path().join("wvs.csv");
//! let config = SynthConfig { people: 50, ..Default::default() };
//! SyntheticModel::new(&catalog, &config).unwrap().write_csv(&catalog, &csv).unwrap();
//!
//! let conversion = convert_file(&catalog, &csv, &ConvertOptions::default())?;
//! assert_eq!(conversion.report.people, 50);
//! write_dataset(&catalog, &conversion, dir.path().join("data"))?;
//! # Ok::<(), indievalue_convert::Error>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod blocks;
mod dataset;
mod dedup;
mod error;
mod parse;
mod report;

pub use dataset::{REPORT_FILE, RESPONDENTS_FILE, read_report, write_dataset};
pub use error::{Error, Result};
pub use report::{ConversionReport, InvalidCodes, REPORT_FORMAT};

use blocks::BlockReader;
use dedup::{dedup, gather_columns};
use indievalue_catalog::{Catalog, Respondents};
use parse::{Parsed, header_layout, parse_input};
use report::report;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// How the converter treats an empty cell in a needed column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EmptyCell {
    /// An empty cell is an error ([`Error::NotInteger`]).
    #[default]
    Error,
    /// An empty cell reads as this code (e.g. -5, "missing").
    Code(i32),
}

/// Options of a conversion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConvertOptions {
    /// What an empty cell means.
    pub empty_cell: EmptyCell,
}

/// The result of a conversion: the table and its report.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// The respondents.
    pub respondents: Respondents,
    /// The report.
    pub report: ConversionReport,
}

/// Progress of a running conversion, passed to the callback of [`convert_reader_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of input consumed.
    pub bytes: u64,
    /// Data rows read.
    pub rows: u64,
}

/// Converts a CSV file. See [`convert_reader_with_progress`].
///
/// ```
/// use indievalue_catalog::Catalog;
/// use indievalue_convert::{ConvertOptions, convert_file};
/// use indievalue_testdata::fixtures_dir;
/// let catalog = Catalog::load(fixtures_dir().join("tiny-meta"))?;
/// let csv = fixtures_dir().join("tiny-wvs.csv");
/// let conversion = convert_file(&catalog, csv, &ConvertOptions::default())?;
/// // Five rows, person 102 twice: the first row of each person is kept.
/// assert_eq!(conversion.respondents.ids(), &[101, 102, 103, 104]);
/// assert_eq!((conversion.report.rows_read, conversion.report.duplicates_dropped), (5, 1));
/// # Ok::<(), indievalue_convert::Error>(())
/// ```
pub fn convert_file(
    catalog: &Catalog,
    path: impl AsRef<Path>,
    options: &ConvertOptions,
) -> Result<Conversion> {
    convert_file_with_progress(catalog, path, options, &mut |_| {})
}

/// Converts a CSV file, reporting progress.
///
/// ```
/// # use indievalue_catalog::Catalog;
/// # use indievalue_convert::{ConvertOptions, Progress, convert_file_with_progress};
/// # use indievalue_testdata::fixtures_dir;
/// let catalog = Catalog::load(fixtures_dir().join("tiny-meta"))?;
/// let csv = fixtures_dir().join("tiny-wvs.csv");
/// let mut last = None;
/// convert_file_with_progress(&catalog, &csv, &ConvertOptions::default(), &mut |p| last = Some(p))?;
/// let size = std::fs::metadata(&csv).unwrap().len();
/// assert_eq!(last, Some(Progress { bytes: size, rows: 5 }));
/// # Ok::<(), indievalue_convert::Error>(())
/// ```
pub fn convert_file_with_progress(
    catalog: &Catalog,
    path: impl AsRef<Path>,
    options: &ConvertOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Conversion> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let size = file.metadata().map_or(0, |m| m.len());
    convert(catalog, file, path, options, size, progress)
}

/// Converts CSV read from `reader`; `name` is the file name used in errors and the report.
///
/// ```
/// use indievalue_catalog::Catalog;
/// use indievalue_convert::{ConvertOptions, Error, convert_reader};
/// # use indievalue_testdata::fixtures_dir;
/// let catalog = Catalog::load(fixtures_dir().join("tiny-meta"))?;
/// let options = ConvertOptions::default();
/// let text = "D_INTERVIEW,T1,T2,T3,B_COUNTRY,Q260\n7,1,10,-1,36,2\n";
/// let conversion = convert_reader(&catalog, text.as_bytes(), "inline.csv", &options)?;
/// // T3's -1 is no valid answer, counted under its raw code.
/// assert_eq!(conversion.report.valid_answers, 2);
/// assert_eq!(conversion.report.invalid_codes[2].codes.get(&-1), Some(&1));
///
/// let bad = "D_INTERVIEW,T1,T2,T3,B_COUNTRY,Q260\n7,yes,10,-1,36,2\n";
/// let err = convert_reader(&catalog, bad.as_bytes(), "inline.csv", &options).unwrap_err();
/// assert!(matches!(err, Error::NotInteger { line: 2, ref column, .. } if column == "T1"));
/// # Ok::<(), indievalue_convert::Error>(())
/// ```
pub fn convert_reader(
    catalog: &Catalog,
    reader: impl Read,
    name: impl AsRef<Path>,
    options: &ConvertOptions,
) -> Result<Conversion> {
    convert_reader_with_progress(catalog, reader, name, options, &mut |_| {})
}

/// Converts CSV read from `reader`, calling `progress` every few thousand rows.
pub fn convert_reader_with_progress(
    catalog: &Catalog,
    reader: impl Read,
    name: impl AsRef<Path>,
    options: &ConvertOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Conversion> {
    convert(catalog, reader, name.as_ref(), options, 0, progress)
}

/// The converter; `size_hint` (bytes of input, 0 when unknown) is used for progress only.
fn convert(
    catalog: &Catalog,
    reader: impl Read,
    path: &Path,
    options: &ConvertOptions,
    _size_hint: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<Conversion> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut input = BlockReader::new(reader);
    let header = input.header_line().map_err(io)?;
    let layout = header_layout(catalog, path, &header)?;
    let header_bytes = header.len() as u64;
    let Parsed { blocks, last_byte } =
        parse_input(&mut input, &layout, path, options, header_bytes, progress)?;
    if layout.header.len() == 1 && layout.header[0].is_empty() {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    let truncated_last_line = blocks
        .last()
        .and_then(|b| b.short_at_end)
        .map(|(line, _)| line);
    let rows_read: u64 = blocks.iter().map(|b| b.ids.len() as u64).sum();
    if rows_read == 0 {
        return Err(Error::NoRows {
            path: path.to_owned(),
        });
    }
    let width = layout.codes.len();

    // Deduplicate in file order, then gather each column in parallel.
    let (ids, kept) = dedup(&blocks, rows_read);
    let duplicates = rows_read - ids.len() as u64;
    let total = ids.len();
    let mut columns = gather_columns(&blocks, &kept, width, total);
    drop(blocks);
    let raw_demographics = columns.split_off(catalog.questions().len());
    let respondents = Respondents::from_raw(catalog, ids, columns, raw_demographics)?;
    let mut report = report(
        catalog,
        &respondents,
        path,
        rows_read,
        duplicates,
        truncated_last_line,
    );
    report.last_line_unterminated =
        truncated_last_line.is_none() && last_byte.is_some_and(|b| b != b'\n');
    Ok(Conversion {
        respondents,
        report,
    })
}
