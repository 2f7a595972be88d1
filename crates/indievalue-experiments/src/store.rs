//! Content-addressed files: every dataset, task set and prediction set lives under a key that
//! hashes what made it, so the same request finds the same files in any experiment and run.
//!
//! ```text
//! STORE/data/KEY/              respondents.parquet, report.json (the conversion), synthetic.json
//! STORE/tasks/KEY.jsonl        probe tasks
//! STORE/predictions/KEY/       predictions (a model's predictions.jsonl grows task by task)
//! STORE/*/KEY*/COMPLETE        written last: what the key hashes (a directory without it is
//!                              unfinished)
//! STORE/file-hashes.json       SHA-256 of large input files by (path, size, modification time)
//! ```

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The version of the store's layout and of what the keys hash: a change that alters any
/// stored file's meaning bumps it, so old files are never mistaken for new ones.
pub const FORMAT_VERSION: &str = "indievalue-experiments/1";

/// The completion marker of a stored item.
pub const COMPLETE_FILE: &str = "COMPLETE";

const FILE_HASHES: &str = "file-hashes.json";

/// The content-addressed store.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    hashes: Mutex<BTreeMap<String, CachedHash>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CachedHash {
    size: u64,
    modified_ns: u128,
    sha256: String,
}

impl Store {
    /// Opens (creating) the store at `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store> {
        let dir = dir.into();
        indievalue_files::create_dir_all(&dir)?;
        let cache = dir.join(FILE_HASHES);
        let hashes = if cache.exists() {
            indievalue_files::read_json(&cache)?
        } else {
            BTreeMap::new()
        };
        Ok(Store {
            dir,
            hashes: Mutex::new(hashes),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of `inputs`: the SHA-256 of their canonical JSON with [`FORMAT_VERSION`].
    ///
    /// ```
    /// let a = indievalue_experiments::Store::key(&serde_json::json!({"seed": 0}));
    /// assert_eq!(a, indievalue_experiments::Store::key(&serde_json::json!({"seed": 0})));
    /// assert_ne!(a, indievalue_experiments::Store::key(&serde_json::json!({"seed": 1})));
    /// ```
    pub fn key(inputs: &serde_json::Value) -> String {
        indievalue_files::content_key(&serde_json::json!({
            "format": FORMAT_VERSION,
            "inputs": inputs,
        }))
    }

    /// A dataset's directory.
    pub fn data_dir(&self, key: &str) -> PathBuf {
        self.dir.join("data").join(key)
    }

    /// A task set's file.
    pub fn tasks_file(&self, key: &str) -> PathBuf {
        self.dir.join("tasks").join(format!("{key}.jsonl"))
    }

    /// A prediction set's directory.
    pub fn predictions_dir(&self, key: &str) -> PathBuf {
        self.dir.join("predictions").join(key)
    }

    /// Whether the item at `dir` (a directory, or a file's `FILE.COMPLETE` sibling) is
    /// complete.
    pub fn is_complete(item: &Path) -> bool {
        marker(item).exists()
    }

    /// Marks the item at `item` complete, recording what its key hashes.
    pub fn mark_complete(item: &Path, inputs: &serde_json::Value) -> Result<()> {
        let record = serde_json::json!({ "format": FORMAT_VERSION, "inputs": inputs });
        Ok(indievalue_files::write_json_atomic(&marker(item), &record)?)
    }

    /// The SHA-256 of a file, remembered by (path, size, modification time) so that a large
    /// survey or model is hashed once.
    pub fn file_hash(&self, path: &Path) -> Result<String> {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let name = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_owned())
            .display()
            .to_string();
        let mut hashes = self
            .hashes
            .lock()
            .map_err(|_| Error::Input("the file-hash cache is poisoned".into()))?;
        if let Some(c) = hashes.get(&name)
            && c.size == meta.len()
            && c.modified_ns == modified_ns
        {
            return Ok(c.sha256.clone());
        }
        let sha256 = indievalue_files::sha256_file(path)?;
        hashes.insert(
            name,
            CachedHash {
                size: meta.len(),
                modified_ns,
                sha256: sha256.clone(),
            },
        );
        indievalue_files::write_json_atomic(&self.dir.join(FILE_HASHES), &*hashes)?;
        Ok(sha256)
    }

    /// The hashes of a model's files: a file's own; a directory's weights, config and
    /// tokenizer files by name; a hub id stands for itself (its files are not here to hash).
    pub fn model_hashes(&self, model: &str) -> Result<serde_json::Value> {
        let path = Path::new(model);
        if path.is_file() {
            return Ok(serde_json::json!({ "file": self.file_hash(path)? }));
        }
        if path.is_dir() {
            let mut files = BTreeMap::new();
            let entries = std::fs::read_dir(path)
                .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let relevant = name.ends_with(".safetensors")
                    || name.ends_with(".gguf")
                    || name == "config.json"
                    || name == "tokenizer.json"
                    || name == "tokenizer_config.json"
                    || name == "adapter_config.json"
                    || name == "model.safetensors.index.json";
                if relevant && entry.path().is_file() {
                    files.insert(name, self.file_hash(&entry.path())?);
                }
            }
            if files.is_empty() {
                return Err(Error::Input(format!(
                    "{}: no model files (safetensors, gguf, config.json) in this directory",
                    path.display()
                )));
            }
            return Ok(serde_json::to_value(files).unwrap_or_default());
        }
        if model.starts_with('.') || model.starts_with('/') || model.split('/').count() != 2 {
            return Err(Error::Input(format!(
                "{model}: no such file or directory (and not a hub id OWNER/NAME)"
            )));
        }
        Ok(serde_json::json!({ "hub": model }))
    }
}

fn marker(item: &Path) -> PathBuf {
    if item.extension().is_some_and(|e| e == "jsonl") {
        let mut name = item.as_os_str().to_owned();
        name.push(".COMPLETE");
        PathBuf::from(name)
    } else {
        item.join(COMPLETE_FILE)
    }
}
