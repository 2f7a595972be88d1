//! JSON Lines files tied to a catalog: a [`FileHeader`] line naming the format, the catalog's
//! content hash, the seed and the writer, then one record a line (through `indievalue-files`).

use crate::{Catalog, Error, Result};
use indievalue_files::{JsonLines, VersionedHeader};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The first line of every data file that refers to a catalog's questions (task files,
/// training sets, predictions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileHeader {
    /// Format tag with its version (such as `"indievalue-predictions/1"`).
    pub format: String,
    /// Content hash of the catalog the records refer to.
    pub catalog_hash: String,
    /// The seed.
    pub seed: u64,
    /// Crate and version that wrote the file (see `indievalue_files::written_by!`).
    pub written_by: String,
    /// Everything else that determined the file (setups, criteria, recipe, inputs, reasoner).
    pub params: serde_json::Value,
}

impl FileHeader {
    /// A header of `format` for `catalog`, written by `written_by`.
    pub fn new(
        format: &str,
        catalog: &Catalog,
        seed: u64,
        written_by: impl Into<String>,
        params: serde_json::Value,
    ) -> FileHeader {
        FileHeader {
            format: format.to_owned(),
            catalog_hash: catalog.content_hash().to_owned(),
            seed,
            written_by: written_by.into(),
            params,
        }
    }
}

impl VersionedHeader for FileHeader {
    fn format(&self) -> &str {
        &self.format
    }
}

/// Writes a header and records, atomically.
pub fn write_catalog_file<T: Serialize>(
    path: impl AsRef<Path>,
    header: &FileHeader,
    records: &[T],
) -> Result<()> {
    Ok(JsonLines::new(path.as_ref()).write(header, records)?)
}

/// Reads a file of the expected `format`, refusing one written for another catalog.
///
/// ```
/// use indievalue_catalog::{Catalog, FileHeader, read_catalog_file, write_catalog_file};
/// let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x.jsonl");
/// let header = FileHeader::new("x/1", &catalog, 3, "doc", serde_json::json!({}));
/// write_catalog_file(&path, &header, &[1u8, 2]).unwrap();
/// let (back, items): (_, Vec<u8>) = read_catalog_file(&path, &catalog, "x/1").unwrap();
/// assert_eq!((back, items), (header, vec![1, 2]));
/// ```
pub fn read_catalog_file<T: DeserializeOwned>(
    path: impl AsRef<Path>,
    catalog: &Catalog,
    format: &str,
) -> Result<(FileHeader, Vec<T>)> {
    let path = path.as_ref();
    let (header, records): (FileHeader, Vec<T>) = JsonLines::new(path).read(format)?;
    if header.catalog_hash != catalog.content_hash() {
        return Err(Error::CatalogMismatch {
            path: path.to_owned(),
            expected: catalog.content_hash().to_owned(),
            found: header.catalog_hash,
        });
    }
    Ok((header, records))
}
