//! The durable response cache: one JSON file per request, keyed by a hash of what was asked.

use crate::Result;
use indievalue_files::{content_key, read_json, write_json_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A cached response: the request's endpoint and the JSON the server answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedResponse {
    url: String,
    response: serde_json::Value,
}

/// Successful responses on disk, one file per request under `DIR/ab/KEY.json`, where KEY is the
/// SHA-256 of the canonical JSON of (endpoint URL, request body). Neither the API key nor any
/// other header is part of the key or the file. Files are written atomically, so a run killed
/// mid-write leaves either the whole response or none; an unreadable file counts as absent and
/// is replaced.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    dir: PathBuf,
}

/// The default cache directory: `$XDG_CACHE_HOME/indievalue/responses`, else
/// `$HOME/.cache/indievalue/responses`, else `.cache/indievalue/responses`. Outside any run's
/// output directory, so every run of the same requests shares it.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("indievalue/responses")
}

impl ResponseCache {
    /// A cache in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> ResponseCache {
        ResponseCache { dir: dir.into() }
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of a request: SHA-256 of the canonical JSON of its URL and body.
    pub fn key(url: &str, body: &serde_json::Value) -> String {
        content_key(&serde_json::json!({ "url": url, "body": body }))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The response stored for `key`, if any.
    pub fn get(&self, key: &str, url: &str) -> Option<serde_json::Value> {
        let path = self.path(key);
        if !path.exists() {
            return None;
        }
        match read_json::<CachedResponse>(&path) {
            Ok(c) if c.url == url => Some(c.response),
            _ => None,
        }
    }

    /// Stores a response for `key`.
    pub fn put(&self, key: &str, url: &str, response: &serde_json::Value) -> Result<()> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            indievalue_files::create_dir_all(parent)?;
        }
        let cached = CachedResponse {
            url: url.to_owned(),
            response: response.clone(),
        };
        write_json_atomic(&path, &cached)?;
        Ok(())
    }
}
