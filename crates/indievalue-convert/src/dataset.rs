//! Dataset directories: the respondents' Parquet file and the report, written atomically.

use crate::{Conversion, ConversionReport, Error, Result};
use indievalue_catalog::Catalog;
use std::path::Path;

/// File name of the respondents table in a dataset directory.
pub const RESPONDENTS_FILE: &str = "respondents.parquet";
/// File name of the conversion report in a dataset directory.
pub const REPORT_FILE: &str = "report.json";

/// Writes a dataset directory: [`RESPONDENTS_FILE`] and [`REPORT_FILE`], each to a temporary
/// name renamed when complete, the report last, so a directory with a report is complete.
///
/// ```
/// use indievalue_catalog::{Catalog, Respondents};
/// use indievalue_convert::{ConvertOptions, RESPONDENTS_FILE, convert_file, write_dataset};
/// use indievalue_testdata::fixtures_dir;
/// let catalog = Catalog::load(fixtures_dir().join("tiny-meta"))?;
/// let csv = fixtures_dir().join("tiny-wvs.csv");
/// let conversion = convert_file(&catalog, csv, &ConvertOptions::default())?;
/// let dir = tempfile::tempdir().unwrap();
/// write_dataset(&catalog, &conversion, dir.path().join("data"))?;
/// let people = Respondents::read_parquet(&catalog, dir.path().join("data").join(RESPONDENTS_FILE))?;
/// assert_eq!(people, conversion.respondents);
/// # Ok::<(), indievalue_convert::Error>(())
/// ```
pub fn write_dataset(
    catalog: &Catalog,
    conversion: &Conversion,
    dir: impl AsRef<Path>,
) -> Result<()> {
    let dir = dir.as_ref();
    indievalue_files::create_dir_all(dir)?;
    let report_path = dir.join(REPORT_FILE);
    // A stale report would make a half-written directory look complete.
    match std::fs::remove_file(&report_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Io {
                path: report_path,
                source,
            });
        }
    }
    conversion
        .respondents
        .write_parquet(catalog, dir.join(RESPONDENTS_FILE))?;
    Ok(indievalue_files::write_json_atomic(
        &report_path,
        &conversion.report,
    )?)
}

/// Reads a dataset directory's report.
///
/// ```
/// # use indievalue_catalog::Catalog;
/// # use indievalue_convert::{ConvertOptions, convert_file, read_report, write_dataset};
/// # use indievalue_testdata::fixtures_dir;
/// let catalog = Catalog::load(fixtures_dir().join("tiny-meta"))?;
/// let csv = fixtures_dir().join("tiny-wvs.csv");
/// let conversion = convert_file(&catalog, csv, &ConvertOptions::default())?;
/// let dir = tempfile::tempdir().unwrap();
/// assert!(read_report(dir.path()).is_err(), "no report yet");
/// write_dataset(&catalog, &conversion, dir.path())?;
/// let report = read_report(dir.path())?;
/// assert_eq!(report, conversion.report);
/// assert_eq!((report.people, report.valid_answers, report.people_all_253), (4, 9, 2));
/// # Ok::<(), indievalue_convert::Error>(())
/// ```
pub fn read_report(dir: impl AsRef<Path>) -> Result<ConversionReport> {
    let path = dir.as_ref().join(REPORT_FILE);
    Ok(indievalue_files::read_json(&path)?)
}
