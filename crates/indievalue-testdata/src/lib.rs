//! # indievalue-testdata
//!
//! Where this repository keeps its test inputs, for the workspace's own tests, doctests,
//! examples and benches. Paths are resolved from this crate's source location, so they are
//! meaningful only inside a checkout of the repository: library crates never call these
//! (a dependent takes paths from its caller instead), and this crate is not published.
//!
//! ```
//! assert!(indievalue_testdata::mini_catalog_dir().join("statements_meta_data.jsonl").exists());
//! assert!(indievalue_testdata::fixtures_dir().join("tiny-meta").is_dir());
//! ```

use std::path::{Path, PathBuf};

pub mod fake_openai;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's `fixtures/` directory (hand-written test inputs, the mini and tiny catalogs,
/// parity fixtures).
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("fixtures")
}

/// The mini catalog of `fixtures/mini-meta` (written by the project in its own words, in the
/// authors' format): for tests, examples and the offline main job.
pub fn mini_catalog_dir() -> PathBuf {
    fixtures_dir().join("mini-meta")
}

/// The tiny made-up survey of `fixtures/tiny-survey` (a described survey: three categories of
/// unequal size, two setups, a balance item with three groups, a code-list demographic).
pub fn tiny_survey_dir() -> PathBuf {
    fixtures_dir().join("tiny-survey")
}

/// A committed survey description under `surveys/` (`gss-spending`, `bfi`).
pub fn survey_dir(name: &str) -> PathBuf {
    repo_root().join("surveys").join(name)
}

/// The ignored cache that `scripts/fetch_surveys.sh` fills with the real surveys' CSVs:
/// `INDIEVALUE_SURVEY_CACHE` (relative to the repository root) if set, else `.cache/surveys`.
pub fn survey_cache_dir() -> PathBuf {
    let root = repo_root();
    match std::env::var_os("INDIEVALUE_SURVEY_CACHE").filter(|v| !v.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join(".cache/surveys"),
    }
}

/// The ignored cache that `scripts/fetch_models.sh` fills with small real model files from
/// PyPI: `INDIEVALUE_MODEL_CACHE` (relative to the repository root) if set, else `.cache/models`.
pub fn model_cache_dir() -> PathBuf {
    let root = repo_root();
    match std::env::var_os("INDIEVALUE_MODEL_CACHE").filter(|v| !v.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join(".cache/models"),
    }
}

/// The SmolLM2-135M-Instruct GGUF file in the model cache.
pub fn smollm2_gguf() -> PathBuf {
    model_cache_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}
