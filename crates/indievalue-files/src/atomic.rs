//! Atomic whole-file writes and JSON.

use crate::error::{Error, Result, io};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: to a temporary sibling, synced, renamed over `path`, the
/// directory synced; so `path` is either absent, the old file, or complete. The temporary file is
/// removed on failure.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.json");
/// indievalue_files::write_atomic(&path, b"{}").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"{}");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |out| std::io::Write::write_all(out, bytes))
}

/// Like [`write_atomic`], with the content written by `write` into a buffered writer; returns what
/// `write` returns.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("ids.txt");
/// let n = indievalue_files::write_atomic_with(&path, |out| {
///     writeln!(out, "1")?;
///     Ok(1)
/// })
/// .unwrap();
/// assert_eq!((n, std::fs::read_to_string(&path).unwrap()), (1, "1\n".to_owned()));
/// ```
pub fn write_atomic_with<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<T>,
) -> Result<T> {
    write_atomic_try_with(path, |out| write(out).map_err(io(path)))
}

/// Like [`write_atomic_with`], for writers with errors of their own (a Parquet encoder, say): the
/// file layer's failures reach the caller through `E: From<Error>`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("never.txt");
/// let r: Result<(), indievalue_files::Error> =
///     indievalue_files::write_atomic_try_with(&path, |_| Err(indievalue_files::Error::NoHeader {
///         path: "x".into() }));
/// assert!(r.is_err());
/// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the temporary file is removed");
/// ```
pub fn write_atomic_try_with<T, E: From<Error>>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<T, E>,
) -> Result<T, E> {
    let tmp = temporary_path(path);
    let result: Result<T, E> = (|| {
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let value = write(&mut out)?;
        let file = out.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    let value = result?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Directory sync makes the rename durable; not every platform allows it.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(value)
}

/// Writes `value` as pretty JSON (no trailing line end), atomically.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("run.json");
/// indievalue_files::write_json_atomic(&path, &serde_json::json!({"seed": 1})).unwrap();
/// let back: serde_json::Value = indievalue_files::read_json(&path).unwrap();
/// assert_eq!(back["seed"], 1);
/// ```
pub fn write_json_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
        path: path.to_owned(),
        line: None,
        source,
    })?;
    write_atomic(path, &json)
}

/// Reads a JSON file into `T`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        path: path.to_owned(),
        line: None,
        source,
    })
}

/// Reads a text file, naming it in the error.
pub fn read_to_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(io(path))
}

/// The SHA-256 of a file's bytes, as lowercase hex (how inputs are recorded in manifests).
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut file = File::open(path).map_err(io(path))?;
    std::io::copy(&mut file, &mut hasher).map_err(io(path))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// Creates a directory and its parents, naming it in the error.
pub fn create_dir_all(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(io(path))
}

/// The temporary sibling of `path` (`.name.tmp-PID`) that atomic writes go through.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// The JSON text of `value` with every object's keys in sorted order and no whitespace: the
/// same value always gives the same bytes, whatever order its maps were built in.
///
/// ```
/// let a = serde_json::json!({"b": 1, "a": [true, {"y": null, "x": 2.5}]});
/// assert_eq!(indievalue_files::canonical_json(&a), r#"{"a":[true,{"x":2.5,"y":null}],"b":1}"#);
/// ```
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn write(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(':');
                    if let Some(v) = map.get(key) {
                        write(v, out);
                    }
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// A content key: the SHA-256 (lowercase hex) of [`canonical_json`] of `value`. Equal values
/// give equal keys; any change to a value changes its key.
///
/// ```
/// let a = indievalue_files::content_key(&serde_json::json!({"seed": 0, "people": 40}));
/// let b = indievalue_files::content_key(&serde_json::json!({"people": 40, "seed": 0}));
/// let c = indievalue_files::content_key(&serde_json::json!({"people": 41, "seed": 0}));
/// assert_eq!(a, b);
/// assert_ne!(a, c);
/// assert_eq!(a.len(), 64);
/// ```
pub fn content_key(value: &serde_json::Value) -> String {
    use sha2::Digest;
    format!(
        "{:x}",
        sha2::Sha256::digest(canonical_json(value).as_bytes())
    )
}
