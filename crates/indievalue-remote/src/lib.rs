//! # indievalue-remote
//!
//! Probing models served behind OpenAI-compatible APIs (OpenAI, vLLM, SGLang, llama.cpp's
//! server, Ollama): the paper's generative protocol and log-probability scoring as
//! [`indievalue_probe::TaskPredictor`]s, so [`indievalue_probe::ProbeRun`] gives them the same
//! resuming, appending and predictions format as the local model.
//!
//! - [`Client`]: one endpoint (`base_url` including `/v1`, model name, API key from a named
//!   environment variable, never stored), bounded concurrency, generations streamed where the
//!   server streams (a silence timeout between pieces, a generous whole-request timeout, an
//!   abandoned attempt's connection closed before its retry), retries with exponential backoff
//!   and full jitter honouring `Retry-After` (seconds or an HTTP date), a clear stop on
//!   401/403/404, request and token budgets, accounting ([`Usage`]).
//! - [`ResponseCache`]: every answer on disk, keyed by a hash of (endpoint, request body), so no
//!   request is sent twice: not by a rerun, a resumed run, or another run asking the same.
//! - [`RemoteGenerative`]: the B.1 prompt, greedy, parsed by key, bounded recorded retries.
//! - [`RemoteScoring`]: the C.1 label's probability from chat `top_logprobs`, or the local
//!   scorer's statement/answer targets from `/v1/completions` prompt log-probabilities where the
//!   server returns them; a capability probe first.
//! - [`response`]: tolerant parsing of both log-probability shapes.
//!
//! The HTTP client is `ureq` 2 (blocking, rustls; already in the workspace through `hf-hub`):
//! requests run on a few worker threads, which is all a rate-limited API needs, without an async
//! runtime.
//!
//! ```no_run
//! use indievalue_remote::{Client, ClientSettings, Endpoint, RemoteGenerative, ResponseCache};
//! use indievalue_probe::{GenerationSettings, ProbeRun};
//! # let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir())?;
//! # let tasks: Vec<indievalue_sampling::ProbeTask> = Vec::new();
//! let endpoint = Endpoint::new("http://127.0.0.1:8000/v1", "meta-llama/Llama-3.1-8B-Instruct");
//! let client = Client::new(endpoint, ClientSettings::default(), ResponseCache::new(".cache/remote"));
//! let predictor = RemoteGenerative::new(&client, &catalog, GenerationSettings::default());
//! let params = serde_json::json!({ "backend": "openai", "model": client.endpoint().model });
//! let run = ProbeRun::with_predictor(Box::new(predictor), &catalog, "out/remote", 0, params);
//! let outcome = run.run(&tasks, None, &mut |_| {})?;
//! println!("{} tasks, {:?}", outcome.ran, client.usage());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

/// `indievalue-remote VERSION`: what wrote a served model's predictions (part of the
/// experiment runner's keys, with the probe crate's).
pub const WRITTEN_BY: &str = indievalue_files::written_by!();

mod cache;
mod client;
mod predict;
pub mod response;
mod sse;

pub use cache::{ResponseCache, default_cache_dir};
pub use client::{Client, ClientSettings, Endpoint, Prices, Streaming, Usage, parse_retry_after};
pub use predict::{
    LabelReading, Prefill, RemoteGenerative, RemoteScoring, RemoteScoringSettings, SCORES_FILE,
    label_position, label_probabilities, probe_chat_logprobs, probe_prompt_logprobs,
};

/// Errors of remote probing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the request in a way a retry cannot cure (401, 403, 404, 400, a
    /// spent quota): the run stops at once.
    #[error("{url}: HTTP {status}: {message}")]
    Refused {
        /// The request's URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message (its first 300 characters).
        message: String,
    },
    /// Every attempt failed with a retryable failure.
    #[error("{url}: gave up after {attempts} attempts; last: {last}")]
    GaveUp {
        /// The request's URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A request ran past the whole-request timeout ([`ClientSettings::request_timeout`]);
    /// not retried, since a retry would most likely run as long again.
    #[error("{url}: no complete answer within {seconds} s (--request-timeout); not retried")]
    RequestTimeout {
        /// The request's URL.
        url: String,
        /// The whole-request timeout.
        seconds: f64,
    },
    /// A budget is spent; the run stops cleanly and a rerun with a larger one continues.
    #[error("{0}")]
    Budget(String),
    /// The server cannot serve what was asked (found by the capability probe).
    #[error("{url}: {what}")]
    Unsupported {
        /// The URL asked.
        url: String,
        /// What it cannot do and what to use instead.
        what: String,
    },
    /// An answer lacks something the request needs.
    #[error("{url}: {message}")]
    Response {
        /// The request's URL.
        url: String,
        /// What is missing.
        message: String,
    },
    /// A chat template could not be read.
    #[error("chat template {name}: {message}")]
    Template {
        /// The template's name or file.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing the cache failed.
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
}

/// The served model's chat template for statement and answer scoring: `llama3` (the Llama 3.1
/// format) or a `tokenizer_config.json` with a `chat_template`.
pub fn chat_template_named(name: &str) -> Result<indievalue_llm::ChatTemplate> {
    if name == "llama3" {
        return Ok(indievalue_llm::ChatTemplate::llama3_fallback());
    }
    indievalue_llm::chat_template_from_config(std::path::Path::new(name)).map_err(|e| {
        Error::Template {
            name: name.to_owned(),
            message: e.to_string(),
        }
    })
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
