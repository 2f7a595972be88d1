//! # indievalue-files
//!
//! The one file layer of the workspace. Every file a crate or example writes goes through it,
//! so that a killed run never leaves a half-written file behind and a rerun can resume:
//!
//! - [`write_atomic`], [`write_atomic_with`], [`write_atomic_try_with`]: the content goes to a
//!   temporary sibling, is synced, renamed over the target, and the directory is synced; the
//!   temporary file is removed on failure. A reader sees the old file, no file, or the whole
//!   new one.
//! - [`write_json_atomic`] / [`read_json`]: pretty JSON written atomically, read with the path in
//!   every error.
//! - [`JsonLines`]: a JSON Lines file, with or without a versioned header line
//!   ([`VersionedHeader`], [`Header`]), records appended in one write and synced, a torn last line
//!   (a run killed mid-append) cut by [`JsonLines::recover`], and typed records read back with
//!   the line of any bad one named.
//!
//! It knows nothing of surveys or models; crates with a richer header (the catalog's, tied to a
//! catalog hash) implement [`VersionedHeader`] for it.
//!
//! ```
//! use indievalue_files::{Header, JsonLines};
//! let dir = tempfile::tempdir().unwrap();
//! let file = JsonLines::new(dir.path().join("steps.jsonl"));
//! let header = Header::new("example-steps/1", indievalue_files::written_by!(), serde_json::json!({}));
//! file.create(&header).unwrap();
//! file.append(&[serde_json::json!({"step": 1})]).unwrap();
//! let (back, records): (Header, Vec<serde_json::Value>) = file.read("example-steps/1").unwrap();
//! assert_eq!((back, records.len()), (header, 1));
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod atomic;
mod error;
mod jsonl;

pub use atomic::{
    canonical_json, content_key, create_dir_all, read_json, read_to_string, sha256_file,
    temporary_path, write_atomic, write_atomic_try_with, write_atomic_with, write_json_atomic,
};
pub use error::{Error, Result};
pub use jsonl::{Header, JsonLines, VersionedHeader};

/// `"crate-name version"` of the crate where the macro is used: the `written_by` of headers
/// and manifests.
///
/// ```
/// assert_eq!(indievalue_files::written_by!(), concat!("indievalue-files ", env!("CARGO_PKG_VERSION")));
/// ```
#[macro_export]
macro_rules! written_by {
    () => {
        concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"))
    };
}
